"""Anthropic Messages API: the system prompt as its own parameter, base64 image blocks, extended thinking
with a token budget, and streaming for long outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from theory_of_space.agents.base import Message
from theory_of_space.agents.clients import Completion, require
from theory_of_space.agents.clients._errors import (
    MalformedAnswerError,
    describe,
    is_retryable_status,
    retry_after_seconds,
)
from theory_of_space.agents.clients.images import encode_image, interleave
from theory_of_space.agents.clients.tool_calls import TOOL_RESULT_NOTE, anthropic_tool_use, call_ids
from theory_of_space.agents.config import ModelConfig
from theory_of_space.env.tools import anthropic_tools, tool_specs

__all__ = ["STREAMING_THRESHOLD_TOKENS", "AnthropicMessagesClient", "parse_message"]

STREAMING_THRESHOLD_TOKENS = 21_333
"""Above this ``max_tokens`` the SDK refuses a non-streaming call on its default timeout (it expects
``3600 * max_tokens / 128000`` seconds, over its 10-minute cap), so ``stream=None`` streams from here on."""

# Parameters the SDK's ``messages.create``/``messages.stream`` take by name; anything else in a request
# (``temperature``, ``top_p``, ``extra_body`` settings) travels in ``extra_body``.
_SDK_PARAMS = frozenset({"model", "max_tokens", "messages", "system", "thinking", "output_config", "tools"})


class AnthropicMessagesClient:
    """A Messages API client on the ``anthropic`` SDK.

    Args:
        config: Model, token limit, thinking budget, streaming and sampling settings.
        api_key: The key; kept in the SDK client only.

    Raises:
        MissingDependencyError: The ``anthropic`` package is not installed.
    """

    def __init__(self, config: ModelConfig, *, api_key: str | None) -> None:
        anthropic = require("anthropic", extra="api")
        from theory_of_space.agents.clients.deadline import deadline_http_client, http_library

        self.config = config
        self.model = config.model
        self._secret = api_key
        self._anthropic = anthropic
        # A streamed answer is read after the SDK call returns, so its transport errors arrive unwrapped.
        self._transport_error = http_library(anthropic).TransportError
        # ``timeout_s`` bounds the whole exchange, body included (see theory_of_space.agents.clients.deadline).
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,
            http_client=deadline_http_client(anthropic, config.timeout_s),
        )
        self._stream = config.stream if config.stream is not None else config.max_tokens > STREAMING_THRESHOLD_TOKENS
        self.tools: list[dict[str, Any]] | None = tool_specs() if config.action_format == "tools" else None
        """The tools sent with every request (neutral specs, :func:`~theory_of_space.env.tools.tool_specs`)."""
        self._closed = False

    def build_request(
        self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The Messages request body; system messages are joined into the ``system`` parameter.

        ``tools`` (neutral specs) replace :attr:`tools` for this request only.
        """
        config = self.config
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": config.model,
            "max_tokens": config.max_tokens,
            "messages": self._messages([m for m in messages if m.role != "system"]),
        }
        if system:
            body["system"] = system
        specs = self.tools if tools is None else tools
        if specs:
            body["tools"] = anthropic_tools(specs)
        if config.thinking:
            body["thinking"] = {"type": "enabled", "budget_tokens": config.thinking_budget}
        if config.reasoning_effort is not None:
            body["output_config"] = {"effort": config.reasoning_effort}
        # The SDK no longer names sampling parameters; the API still reads them where a model allows them.
        if config.temperature is not None:
            body["temperature"] = config.temperature
        if config.top_p is not None:
            body["top_p"] = config.top_p
        body.update(config.extra_body)
        return body

    def _messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Messages; an assistant reply's calls are answered by ``tool_result`` blocks opening the next user turn."""
        converted: list[dict[str, Any]] = []
        pending: list[str] = []
        for position, message in enumerate(messages):
            entry = self._message(message)
            if pending and message.role == "user":
                results = [{"type": "tool_result", "tool_use_id": i, "content": TOOL_RESULT_NOTE} for i in pending]
                content = entry["content"]
                blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
                entry["content"] = results + [block for block in blocks if block.get("type") != "text" or block["text"]]
            pending = []
            if message.role == "assistant" and message.tool_calls:
                pending = call_ids(message.tool_calls, position)
                text = [{"type": "text", "text": message.content}] if message.content else []
                entry["content"] = text + [anthropic_tool_use(c, i) for c, i in zip(message.tool_calls, pending)]
            converted.append(entry)
        return converted

    def _message(self, message: Message) -> dict[str, Any]:
        if not message.images:
            return {"role": message.role, "content": message.content}
        blocks: list[dict[str, Any]] = []
        for piece in interleave(message.content, message.images):
            if isinstance(piece, str):
                blocks.append({"type": "text", "text": piece})
            else:
                image = encode_image(piece, max_side=self.config.image_max_side, quality=self.config.image_quality)
                source = {"type": "base64", "media_type": image.media_type, "data": image.base64_data}
                blocks.append({"type": "image", "source": source})
        return {"role": message.role, "content": blocks}

    def complete(self, request: dict[str, Any], messages: Sequence[Message] = ()) -> Completion:
        """Send one request (streamed when configured or needed) and read text, thinking and usage.

        Raises:
            MalformedAnswerError: The answer is not JSON, holds no content, or its stream ended before the
                message did (retried like a server error).
        """
        params = {k: v for k, v in request.items() if k in _SDK_PARAMS}
        extra_body = {k: v for k, v in request.items() if k not in _SDK_PARAMS}
        try:
            if self._stream:
                with self._client.messages.stream(**params, extra_body=extra_body) as stream:
                    message = stream.get_final_message()
            else:
                message = self._client.messages.create(**params, extra_body=extra_body)
        except json.JSONDecodeError as error:
            raise MalformedAnswerError(
                f"the answer for model {self.model!r} is not JSON (cut short or garbage): {error}"
            ) from None
        except AssertionError:
            # The SDK asserts that a stream began with a message; garbage or a cut stream has none.
            raise MalformedAnswerError(f"the answer stream for model {self.model!r} holds no message") from None
        return parse_message(message, model=self.model, streamed=self._stream)

    def is_retryable(self, error: Exception) -> bool:
        """Rate limits, overload, timeouts, connection failures, server errors and malformed answers; never
        400/401/403."""
        if isinstance(error, self._anthropic.APIStatusError):
            return is_retryable_status(error.status_code)
        return isinstance(error, (self._anthropic.APIConnectionError, self._transport_error, MalformedAnswerError))

    def retry_after(self, error: Exception) -> float | None:
        """The server's ``retry-after`` wait, when a status error carries one."""
        if isinstance(error, self._anthropic.APIStatusError):
            return retry_after_seconds(error.response.headers)
        return None

    def describe_error(self, error: Exception) -> str:
        """Type, status and message of a failure, without the key."""
        status = error.status_code if isinstance(error, self._anthropic.APIStatusError) else None
        return describe(error, status=status, secret=self._secret)

    def close(self) -> None:
        """Close the connection pool; a second call does nothing."""
        if not self._closed:
            self._closed = True
            self._client.close()


def parse_message(message: Any, *, model: str, streamed: bool) -> Completion:
    """Text, thinking, tool calls and usage of an SDK ``Message`` (an answer, or a batch result's message).

    Raises:
        MalformedAnswerError: The message ended before it finished (no stop reason) or holds no content
            blocks; a client retries it like a server error, a batch queues its request again.
    """
    if message.stop_reason is None:
        raise MalformedAnswerError(f"the answer for model {model!r} ended before the message finished")
    if not message.content:
        raise MalformedAnswerError(f"the answer for model {model!r} holds no content blocks")
    text = "".join(block.text for block in message.content if block.type == "text")
    tool_calls = [
        {"id": block.id, "name": block.name, "arguments": block.input}
        for block in message.content
        if block.type == "tool_use"
    ]
    extra: dict[str, Any] = {"finish_reason": message.stop_reason, "streamed": streamed}
    thinking = "\n".join(block.thinking for block in message.content if block.type == "thinking")
    if thinking:
        extra["thinking"] = thinking
    usage = message.usage
    for name in ("cache_read_input_tokens", "cache_creation_input_tokens"):
        value = getattr(usage, name, None)
        if value:
            extra[name] = value
    # Anthropic bills thinking as output and does not report it apart: reasoning_tokens stays None.
    return Completion(
        text,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        extra=extra,
        tool_calls=tool_calls,
    )
