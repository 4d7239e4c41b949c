"""Failure handling shared by the HTTP clients (the OpenAI and Anthropic SDKs raise look-alike errors)."""

from __future__ import annotations

from collections.abc import Mapping

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Client-side statuses worth retrying: request timeout, conflict, rate limit. Every 5xx also is."""

_REDACTED = "***"


class MalformedAnswerError(ValueError):
    """A successful (HTTP 200) answer that holds no usable reply: a body cut short, text that is not JSON, no
    choices, no content, or a stream that ended before the message did.

    It is transient: proxies and overloaded servers cut answers short, and the same request usually gets a
    whole answer on the next attempt, so the clients retry it with backoff like a 503.
    """


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status could succeed on a later attempt (never 400, 401, 403, 404, 422)."""
    return status in RETRYABLE_STATUS or status >= 500


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for, from ``retry-after-ms`` or ``retry-after`` (seconds form only)."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue  # an HTTP date: rare, and the backoff delay covers it
        if seconds >= 0:
            return seconds
    return None


def redact(text: str, secret: str | None) -> str:
    """Remove a credential from a message; servers do echo keys back in authentication errors."""
    if secret and len(secret) >= 4:
        return text.replace(secret, _REDACTED)
    return text


def describe(error: Exception, *, status: int | None, secret: str | None) -> str:
    """One line: exception type, HTTP status when there is one, and the message with the key removed."""
    message = " ".join(str(error).split())
    head = type(error).__name__ if status is None else f"{type(error).__name__} (HTTP {status})"
    return redact(f"{head}: {message}", secret)
