"""A deterministic stand-in for a model agent: explores a few turns, answers and probes, fails on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.probes.writers import probe_kind_of
from theory_of_space.tasks.prompts import QUESTION_HEADING

FailWhen = Callable[[str, int], bool]
"""(kind of request: explore / question / probe, its number) -> whether the call fails."""


class FakeModel:
    """Replies like a model that observes, turns twice and stops; counts calls and the most in flight."""

    def __init__(self, *, fail: FailWhen | None = None, cost: float = 0.0, delay: float = 0.0) -> None:
        self.name = "fake"
        self.fail = fail or (lambda kind, n: False)
        self.cost = cost
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def act(self, messages: Sequence[Message]) -> AgentReply:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            last = messages[-1].content
            if probe_kind_of(last) is not None:
                kind, text = "probe", 'THINK: a map.\nFINAL ANSWER: {"agent": {"position": [0, 0], "facing": "north"}}'
            elif QUESTION_HEADING in last:
                kind, text = "question", "THINK: a guess.\nFINAL ANSWER: (0, 0)"
            else:
                turn = sum(m.role == "assistant" for m in messages)
                kind = "explore"
                actions = "Term()" if turn >= 3 else "Rotate(90), Observe()"
                text = f"THINK: look around.\nFINAL ANSWER: Actions: [{actions}]"
            number = sum(m.role == "assistant" for m in messages)
            if self.fail(kind, number if kind == "explore" else self.calls):
                return AgentReply("", CallRecord(model="fake", error="HTTP 503: service unavailable"))
            return AgentReply(text, CallRecord(model="fake", input_tokens=100, output_tokens=10, cost_usd=self.cost))
        finally:
            with self._lock:
                self.in_flight -= 1


def factory(model: FakeModel) -> Callable[..., FakeModel]:
    """A ``make_model`` for :func:`run_experiment` that always gives ``model``."""
    return lambda spec, **kwargs: model
