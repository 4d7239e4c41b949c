"""Anthropic Messages API: the system prompt as its own parameter, base64 image blocks, extended thinking
with a token budget, and streaming for long outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theory_of_space.agents.base import Message
from theory_of_space.agents.clients import Completion, require
from theory_of_space.agents.clients._errors import describe, is_retryable_status, retry_after_seconds
from theory_of_space.agents.clients.images import encode_image, interleave
from theory_of_space.agents.config import ModelConfig

__all__ = ["STREAMING_THRESHOLD_TOKENS", "AnthropicMessagesClient", "parse_message"]

STREAMING_THRESHOLD_TOKENS = 21_333
"""Above this ``max_tokens`` the SDK refuses a non-streaming call on its default timeout (it expects
``3600 * max_tokens / 128000`` seconds, over its 10-minute cap), so ``stream=None`` streams from here on."""

# Parameters the SDK's ``messages.create``/``messages.stream`` take by name; anything else in a request
# (``temperature``, ``top_p``, ``extra_body`` settings) travels in ``extra_body``.
_SDK_PARAMS = frozenset({"model", "max_tokens", "messages", "system", "thinking", "output_config"})


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
        self.config = config
        self.model = config.model
        self._secret = api_key
        self._anthropic = anthropic
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=config.base_url, timeout=config.timeout_s, max_retries=0
        )
        self._stream = config.stream if config.stream is not None else config.max_tokens > STREAMING_THRESHOLD_TOKENS
        self._closed = False

    def build_request(self, messages: Sequence[Message]) -> dict[str, Any]:
        """The Messages request body; system messages are joined into the ``system`` parameter."""
        config = self.config
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": config.model,
            "max_tokens": config.max_tokens,
            "messages": [self._message(m) for m in messages if m.role != "system"],
        }
        if system:
            body["system"] = system
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
        """Send one request (streamed when configured or needed) and read text, thinking and usage."""
        params = {k: v for k, v in request.items() if k in _SDK_PARAMS}
        extra_body = {k: v for k, v in request.items() if k not in _SDK_PARAMS}
        if self._stream:
            with self._client.messages.stream(**params, extra_body=extra_body) as stream:
                message = stream.get_final_message()
        else:
            message = self._client.messages.create(**params, extra_body=extra_body)
        return parse_message(message, streamed=self._stream)

    def is_retryable(self, error: Exception) -> bool:
        """Rate limits, overload, timeouts, connection failures and server errors; never 400/401/403."""
        if isinstance(error, self._anthropic.APIStatusError):
            return is_retryable_status(error.status_code)
        return isinstance(error, self._anthropic.APIConnectionError)

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


def parse_message(message: Any, *, streamed: bool) -> Completion:
    """Text, thinking and usage of an SDK ``Message`` (an answer, or a batch result's message)."""
    text = "".join(block.text for block in message.content if block.type == "text")
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
    return Completion(text, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, extra=extra)
