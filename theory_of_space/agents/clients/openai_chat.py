"""OpenAI Chat Completions, which also serves every OpenAI-compatible server (vLLM, SGLang, OpenRouter,
Gemini's compatible endpoint) through ``base_url``.

Images go as ``image_url`` parts holding base64 JPEG data URLs, each where its ``<image>`` placeholder was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theory_of_space.agents.base import Message
from theory_of_space.agents.clients import Completion, require
from theory_of_space.agents.clients._errors import describe, is_retryable_status, retry_after_seconds
from theory_of_space.agents.clients.images import encode_image, interleave
from theory_of_space.agents.config import ModelConfig

__all__ = ["OpenAIChatClient", "parse_chat_completion"]


class OpenAIChatClient:
    """A Chat Completions client on the ``openai`` SDK.

    Args:
        config: Model name, server, token limit and sampling settings.
        api_key: The key (``"EMPTY"`` for a local server); kept in the SDK client only.

    Raises:
        MissingDependencyError: The ``openai`` package is not installed.

    Example:
        >>> client = OpenAIChatClient(resolve_model_config("gpt-5.2"), api_key=key)  # doctest: +SKIP
        >>> client.complete(client.build_request(messages)).text  # doctest: +SKIP
    """

    def __init__(self, config: ModelConfig, *, api_key: str | None) -> None:
        openai = require("openai", extra="api")

        self.config = config
        self.model = config.model
        self._secret = api_key
        self._openai = openai
        # Retries are ours (theory_of_space.agents.retry), so the SDK's are off.
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=config.base_url,
            organization=config.organization,
            timeout=config.timeout_s,
            max_retries=0,
        )
        self._closed = False

    def build_request(self, messages: Sequence[Message]) -> dict[str, Any]:
        """The Chat Completions request body for ``messages`` with the configured settings."""
        config = self.config
        body: dict[str, Any] = {
            "model": config.model,
            "messages": [self._message(message) for message in messages],
            config.request_token_param: config.max_tokens,
        }
        if config.temperature is not None:
            body["temperature"] = config.temperature
        if config.top_p is not None:
            body["top_p"] = config.top_p
        if config.reasoning_effort is not None:
            body["reasoning_effort"] = config.reasoning_effort
        body.update(config.extra_body)
        return body

    def _message(self, message: Message) -> dict[str, Any]:
        if not message.images:
            return {"role": message.role, "content": message.content}
        parts: list[dict[str, Any]] = []
        for piece in interleave(message.content, message.images):
            if isinstance(piece, str):
                parts.append({"type": "text", "text": piece})
            else:
                image = encode_image(piece, max_side=self.config.image_max_side, quality=self.config.image_quality)
                parts.append({"type": "image_url", "image_url": {"url": image.data_url}})
        return {"role": message.role, "content": parts}

    def complete(self, request: dict[str, Any], messages: Sequence[Message] = ()) -> Completion:
        """Send one request and read text and usage from the answer.

        The body goes through the SDK's generic ``post`` rather than ``chat.completions.create``, and the
        answer comes back as plain JSON (``cast_to=object``) rather than a typed ``ChatCompletion``: the
        typed path re-validates every message part on the way out (about 3 ms for a 40-message episode)
        and builds a pydantic tree on the way back (about 0.15 ms), more than everything else the harness
        does per step. Authentication, errors and timeouts are the SDK's either way.

        Raises:
            ValueError: The server's answer is not a chat completion (no JSON object, or no choices).
        """
        answer = self._client.post("/chat/completions", body=request, cast_to=object)
        return parse_chat_completion(answer, model=self.model)

    def is_retryable(self, error: Exception) -> bool:
        """Rate limits, timeouts, connection failures and server errors; never 400/401/403/404/422."""
        if isinstance(error, self._openai.APIStatusError):
            return is_retryable_status(error.status_code)
        return isinstance(error, self._openai.APIConnectionError)  # timeouts are connection errors

    def retry_after(self, error: Exception) -> float | None:
        """The server's ``retry-after`` wait, when a status error carries one."""
        if isinstance(error, self._openai.APIStatusError):
            return retry_after_seconds(error.response.headers)
        return None

    def describe_error(self, error: Exception) -> str:
        """Type, status and message of a failure, without the key."""
        status = error.status_code if isinstance(error, self._openai.APIStatusError) else None
        return describe(error, status=status, secret=self._secret)

    def close(self) -> None:
        """Close the connection pool; a second call does nothing."""
        if not self._closed:
            self._closed = True
            self._client.close()


def parse_chat_completion(answer: Any, *, model: str) -> Completion:
    """Text, reasoning and usage of a chat completion as plain JSON (an answer, or a batch result's body).

    Raises:
        ValueError: ``answer`` is not a chat completion (no JSON object, or no choices).
    """
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise ValueError(f"the server's answer for model {model!r} holds no choices: {str(answer)[:200]!r}")
    choice = choices[0]
    message = choice.get("message") or {}
    extra: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    # vLLM, SGLang and DeepSeek-style servers return the reasoning trace beside the content.
    reasoning = message.get("reasoning_content")
    if reasoning:
        extra["reasoning"] = reasoning
    text = message.get("content") or ""
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return Completion(text, extra=extra)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached:
        extra["cached_input_tokens"] = cached
    return Completion(
        text=text,
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
        extra=extra,
    )
