"""Retries with exponential backoff and jitter, and the per-model limit on requests in flight.

The SDKs' own retries are switched off (``max_retries=0``) so that one policy, with one record of every
failed attempt, covers all providers.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Attempts", "RetryPolicy", "call_with_retries", "request_slots"]

T = TypeVar("T")

_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        max_retries: Attempts after the first one.
        initial_s: Delay before the first retry; each further retry doubles it.
        max_s: Cap on a single delay (also on a server's ``retry-after``).
    """

    max_retries: int = 6
    initial_s: float = 1.0
    max_s: float = 60.0

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        The exponential step is jittered into its upper half ("equal jitter"), so a burst of clients that
        failed together does not retry together; a server's ``retry-after`` is honoured as a lower bound.
        """
        step = min(self.max_s, self.initial_s * 2**retry)
        delay = step / 2 + rng.uniform(0, step / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_s))
        return delay


@dataclass
class Attempts(Generic[T]):
    """What happened across the attempts of one call.

    Attributes:
        value: The result of the successful attempt, or ``None`` when every attempt failed.
        error: Why the call failed in the end (``None`` on success).
        retries: Attempts after the first.
        failures: One line per failed attempt, in order.
    """

    value: T | None = None
    error: str | None = None
    retries: int = 0
    failures: list[str] = field(default_factory=list)


def call_with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    is_retryable: Callable[[Exception], bool],
    retry_after: Callable[[Exception], float | None],
    describe: Callable[[Exception], str],
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempts[T]:
    """Run ``attempt`` until it succeeds, fails for good, or runs out of retries; never raises for an
    exception of the attempt (it is described in the result instead).

    Args:
        attempt: One try of the call.
        policy: Number of retries and their delays.
        is_retryable: Whether an exception is worth another try (client errors such as a bad key are not).
        retry_after: The server's requested wait for an exception, if any.
        describe: One line describing an exception, with secrets removed.
        rng: Jitter source.
        sleep: Waits between attempts (tests pass a recorder).
    """
    outcome: Attempts[T] = Attempts()
    for retry in range(policy.max_retries + 1):
        try:
            outcome.value = attempt()
            outcome.error = None
            return outcome
        except Exception as error:
            line = describe(error)[:_MAX_ERROR_CHARS]
            outcome.failures.append(line)
            outcome.error = line
            if not is_retryable(error):
                return outcome
            if retry == policy.max_retries:
                outcome.error = f"{line} (gave up after {policy.max_retries} retries)"
                return outcome
            outcome.retries += 1
            sleep(policy.delay(retry, rng, retry_after(error)))
    return outcome


# ==== Requests in flight ====

# One semaphore per model, shared by every agent of the process: the runner builds one agent per episode,
# and a limit per agent would not bound what the provider sees.
_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def request_slots(key: str, limit: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding requests in flight for one model.

    Args:
        key: Identifies the model and server (e.g. ``"openai|https://...|gpt-5.2"``).
        limit: Requests allowed in flight; agents asking for a different limit get a separate semaphore.
    """
    if limit < 1:
        raise ValueError(f"expected a limit >= 1 on requests in flight, got {limit}")
    with _slots_lock:
        semaphore = _slots.get((key, limit))
        if semaphore is None:
            semaphore = _slots[(key, limit)] = threading.BoundedSemaphore(limit)
        return semaphore
