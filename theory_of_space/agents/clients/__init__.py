"""Provider clients: each turns our messages into one provider request and its answer into a
:class:`Completion`. Retries, caching, history and the in-flight limit live in
:mod:`theory_of_space.agents.model_agent`, shared by every client.

The SDKs (``openai``, ``anthropic``, ``torch``/``transformers``) are imported inside the client modules'
functions, so importing this package costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from theory_of_space.agents.base import Message

__all__ = ["ChatClient", "Completion", "MissingDependencyError", "require"]


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message gives the exact install command."""


def require(module: str, *, extra: str) -> ModuleType:
    """Import an optional dependency, or fail with the command that installs it.

    Args:
        module: The module to import.
        extra: The package extra that provides it (``api`` for the provider SDKs, ``local`` for torch and
            transformers).

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f'{module} is not installed; in your clone of theory_of_space run `pip install -e ".[{extra}]"`'
        ) from error


@dataclass
class Completion:
    """One provider answer, in provider-neutral form.

    Attributes:
        text: The reply text (reasoning or thinking excluded).
        input_tokens: Prompt tokens as the provider counted them.
        output_tokens: Completion tokens, reasoning included (that is how providers bill them).
        reasoning_tokens: Reasoning tokens where the provider reports them separately.
        extra: Provider details worth keeping: finish reason, cached-prompt tokens, thinking text.
        tool_calls: The reply's tool calls in neutral form, ``{"id", "name", "arguments"}`` each.
    """

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class ChatClient(Protocol):
    """What :class:`~theory_of_space.agents.model_agent.ModelAgent` needs from a provider client."""

    model: str

    def build_request(self, messages: Sequence[Message]) -> dict[str, Any]:
        """The provider request for ``messages``, as JSON-serialisable data (it is also the cache key)."""
        ...

    def complete(self, request: dict[str, Any], messages: Sequence[Message]) -> Completion:
        """Send one request; raises the SDK's exception on failure.

        ``messages`` are those the request was built from: API clients send ``request`` as it is, a local
        model takes its images from ``messages`` (the request holds only their digests).
        """
        ...

    def is_retryable(self, error: Exception) -> bool:
        """Whether another attempt could succeed (rate limit, timeout, server error)."""
        ...

    def retry_after(self, error: Exception) -> float | None:
        """Seconds the server asked us to wait before retrying, when it said so."""
        ...

    def describe_error(self, error: Exception) -> str:
        """A one-line account of a failure, with any credential removed."""
        ...

    def close(self) -> None:
        """Release connections or model memory; a second call does nothing."""
        ...
