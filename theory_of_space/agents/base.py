"""The agent protocol: every actor (scripted proxy, API model, local model) reads the conversation
so far and writes its reply text, with a record of what the call cost.

Images travel inside user messages: the text holds one ``<image>`` placeholder per image, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Role = Literal["system", "user", "assistant"]
IMAGE_PLACEHOLDER = "<image>"


@dataclass(frozen=True)
class Message:
    """One turn of the conversation; ``images`` fill the ``<image>`` placeholders of ``content`` in order.

    An assistant message of a tool-calling model also holds its ``tool_calls``, each
    ``{"id", "name", "arguments"}`` (see :mod:`theory_of_space.env.tools`).
    """

    role: Role
    content: str
    images: tuple[np.ndarray, ...] = ()
    tool_calls: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ("system", "user", "assistant"):
            raise ValueError(f"expected role system, user or assistant, got {self.role!r}")
        placeholders = self.content.count(IMAGE_PLACEHOLDER)
        if self.images and placeholders != len(self.images):
            raise ValueError(
                f"expected one {IMAGE_PLACEHOLDER} placeholder per image, got {placeholders} for {len(self.images)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form for transcripts; images are recorded by count (they are stored as PNG files)."""
        data = {"role": self.role, "content": self.content, "n_images": len(self.images)}
        if self.tool_calls:
            data["tool_calls"] = [dict(call) for call in self.tool_calls]
        return data


@dataclass
class CallRecord:
    """What one reply cost: model, tokens, time, retries and, when a price is known, dollars."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = None
    latency_s: float = 0.0
    retries: int = 0
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    """Why the call failed after its retries; the reply text is then empty."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AgentReply:
    """The reply text the environment receives, and the record of the call that produced it.

    ``tool_calls`` holds the calls of a tool-calling model (``{"id", "name", "arguments"}`` each); an env
    with ``action_format="tools"`` takes them as the action.
    """

    text: str
    record: CallRecord
    tool_calls: tuple[dict[str, Any], ...] = ()


@runtime_checkable
class Agent(Protocol):
    """Anything that turns a conversation into a reply.

    Example:
        >>> reply = agent.act([Message("system", sys_prompt), Message("user", first_obs)])  # doctest: +SKIP
        >>> env.step(reply.text)  # doctest: +SKIP
    """

    name: str

    def act(self, messages: Sequence[Message]) -> AgentReply:
        """Reply to the conversation; never raises for a model failure (it records it instead)."""
        ...
