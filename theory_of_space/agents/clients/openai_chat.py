"""OpenAI Chat Completions, which also serves every OpenAI-compatible server (vLLM, SGLang, OpenRouter,
Gemini's compatible endpoint) through ``base_url``.

Images go as ``image_url`` parts holding base64 JPEG data URLs, each where its ``<image>`` placeholder was.
With ``action_format="tools"`` the actions go as function tools and the reply's ``tool_calls`` come back.
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
from theory_of_space.agents.clients.tool_calls import TOOL_RESULT_NOTE, call_ids, openai_tool_call
from theory_of_space.agents.config import ModelConfig
from theory_of_space.env.tools import openai_tools, tool_specs

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
        from theory_of_space.agents.clients.deadline import deadline_http_client

        self.config = config
        self.model = config.model
        self._secret = api_key
        self._openai = openai
        # Retries are ours (theory_of_space.agents.retry), so the SDK's are off; ``timeout_s`` bounds the whole
        # exchange, body included (see theory_of_space.agents.clients.deadline).
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=config.base_url,
            organization=config.organization,
            timeout=config.timeout_s,
            max_retries=0,
            http_client=deadline_http_client(openai, config.timeout_s),
        )
        self.tools: list[dict[str, Any]] | None = tool_specs() if config.action_format == "tools" else None
        """The tools sent with every request (neutral specs, :func:`~theory_of_space.env.tools.tool_specs`)."""
        self._closed = False

    def build_request(
        self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The Chat Completions request body for ``messages`` with the configured settings.

        ``tools`` (neutral specs) replace :attr:`tools` for this request only.
        """
        config = self.config
        body: dict[str, Any] = {
            "model": config.model,
            "messages": self._messages(messages),
            config.request_token_param: config.max_tokens,
        }
        specs = self.tools if tools is None else tools
        if specs:
            body["tools"] = openai_tools(specs)
        if config.temperature is not None:
            body["temperature"] = config.temperature
        if config.top_p is not None:
            body["top_p"] = config.top_p
        if config.reasoning_effort is not None:
            body["reasoning_effort"] = config.reasoning_effort
        body.update(config.extra_body)
        return body

    def _messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Chat messages; the calls of an assistant reply are answered by tool messages before the next user turn."""
        converted: list[dict[str, Any]] = []
        pending: list[str] = []
        for position, message in enumerate(messages):
            if pending and message.role == "user":
                converted += [{"role": "tool", "tool_call_id": i, "content": TOOL_RESULT_NOTE} for i in pending]
            pending = []
            entry = self._message(message)
            if message.role == "assistant" and message.tool_calls:
                pending = call_ids(message.tool_calls, position)
                entry["tool_calls"] = [openai_tool_call(c, i) for c, i in zip(message.tool_calls, pending)]
                entry["content"] = message.content or None
            converted.append(entry)
        return converted

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
            MalformedAnswerError: The server's answer is not a chat completion (not JSON, cut short, no JSON
                object, or no choices); retried like a server error.
        """
        try:
            answer = self._client.post("/chat/completions", body=request, cast_to=object)
        except json.JSONDecodeError as error:
            raise MalformedAnswerError(
                f"the server's answer for model {self.model!r} is not JSON (cut short or garbage): {error}"
            ) from None
        return parse_chat_completion(answer, model=self.model)

    def is_retryable(self, error: Exception) -> bool:
        """Rate limits, timeouts, connection failures, server errors and malformed answers; never
        400/401/403/404/422."""
        if isinstance(error, self._openai.APIStatusError):
            return is_retryable_status(error.status_code)
        # Timeouts are connection errors.
        return isinstance(error, (self._openai.APIConnectionError, MalformedAnswerError))

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
    """Text, reasoning, tool calls and usage of a chat completion as plain JSON (an answer, or a batch
    result's body).

    Raises:
        MalformedAnswerError: ``answer`` is not a chat completion (no JSON object, no choices, or no message
            text); a client retries it like a server error, a batch queues its request again.
    """
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise MalformedAnswerError(f"the server's answer for model {model!r} holds no choices: {str(answer)[:200]!r}")
    choice = choices[0]
    message = choice.get("message") or {}
    if not isinstance(message, dict) or not isinstance(message.get("content") or "", str):
        raise MalformedAnswerError(
            f"the server's answer for model {model!r} holds no message text: {str(choice)[:200]!r}"
        )
    extra: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    # vLLM, SGLang and DeepSeek-style servers return the reasoning trace beside the content.
    reasoning = message.get("reasoning_content")
    if reasoning:
        extra["reasoning"] = reasoning
    text = message.get("content") or ""
    tool_calls = [_neutral_call(call) for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return Completion(text, extra=extra, tool_calls=tool_calls)
    cached = _count(_field(usage, "prompt_tokens_details", "cached_tokens"))
    if cached:
        extra["cached_input_tokens"] = cached
    return Completion(
        text=text,
        input_tokens=_count(usage.get("prompt_tokens")) or 0,
        output_tokens=_count(usage.get("completion_tokens")) or 0,
        reasoning_tokens=_count(_field(usage, "completion_tokens_details", "reasoning_tokens")),
        extra=extra,
        tool_calls=tool_calls,
    )


def _neutral_call(call: dict[str, Any]) -> dict[str, Any]:
    """A Chat Completions tool call as ``{"id", "name", "arguments"}``, arguments as the model wrote them."""
    function = call.get("function") or {}
    return {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments")}


def _field(usage: dict[str, Any], group: str, name: str) -> Any:
    details = usage.get(group)
    return details.get(name) if isinstance(details, dict) else None


def _count(value: Any) -> int | None:
    """A token count as the server reported it, or ``None`` when it is missing or not a count (usage
    blocks of OpenAI-compatible servers vary, and a bad one must not lose the reply)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
