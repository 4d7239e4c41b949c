"""Foundation models behind the agent protocol.

:class:`ModelAgent` wraps one provider client (:mod:`theory_of_space.agents.clients`) with what every
provider needs: history limits, the response cache, the per-model limit on requests in flight, retries
with backoff, and a :class:`~theory_of_space.agents.base.CallRecord` per reply (tokens, reasoning tokens,
latency, retries, cost). :func:`make_model_agent` builds one from a spec or a configuration entry.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.agents.cache import ResponseCache, request_key
from theory_of_space.agents.clients import ChatClient, Completion
from theory_of_space.agents.config import ModelConfig, resolve_api_key, resolve_model_config
from theory_of_space.agents.history import trim_history
from theory_of_space.agents.retry import RetryPolicy, call_with_retries, request_slots

__all__ = ["ModelAgent", "build_client", "make_model_agent"]

_logger = logging.getLogger(__name__)


class ModelAgent:
    """An :class:`~theory_of_space.agents.base.Agent` that asks a foundation model.

    ``act`` never raises for a model failure: after its retries it returns an empty reply whose record
    holds the reason (the environment then counts an invalid step).

    Args:
        config: The model's settings.
        client: The provider client (see :func:`build_client`); :meth:`close` closes it.
        sleep: How to wait between retries (tests pass a recorder).
        slots: The limit on requests in flight, held around each attempt; default the process-wide one of
            this model (:func:`~theory_of_space.agents.retry.request_slots`); the Ray executor passes one
            kept by a Ray actor, which holds across the cluster.

    Example:
        >>> with make_model_agent("openai:gpt-5.2") as agent:  # doctest: +SKIP
        ...     reply = agent.act([Message("system", rules), Message("user", first_observation)])
    """

    def __init__(
        self,
        config: ModelConfig,
        client: ChatClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        slots: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.client = client
        self.cache = ResponseCache(config.cache_dir) if config.cache_dir else None
        self._sleep = sleep
        self._policy = RetryPolicy(config.max_retries, config.backoff_initial_s, config.backoff_max_s)
        # Jitter only spreads retries out; it never touches a reply, so it need not be seeded.
        self._rng = random.Random()
        self._slots = slots if slots is not None else request_slots(
            f"{config.provider}|{config.base_url}|{config.model}", config.max_concurrent
        )
        self._closed = False

    def act(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] | None = None) -> AgentReply:
        """Reply to the conversation (after the configured history limits are applied).

        Args:
            messages: The conversation so far.
            tools: The tools of this request in place of the agent's (neutral specs; ``tools`` mode only): one
                episode's phase offers its own tools without changing what other episodes sharing this agent
                offer (the runner passes them; :meth:`set_tools` changes the agent's own).

        Raises:
            ValueError: ``tools`` given to an agent not in ``tools`` mode.
        """
        visible = trim_history(messages, turns=self.config.history_turns, images=self.config.history_images)
        if tools is None:
            request = self.client.build_request(visible)
        elif self.config.action_format != "tools":
            raise ValueError(f"model {self.config.name!r}: tools need action_format='tools'")
        else:
            request = self.client.build_request(visible, tools=tools)  # type: ignore[call-arg]
        key = None
        if self.cache is not None:
            key = request_key({"provider": self.config.provider, "base_url": self.config.base_url, "body": request})
            hit = self.cache.get(key)
            if hit is not None:
                calls = tuple(hit.record.extra.get("tool_calls", ()))
                return AgentReply(hit.text, replace(hit.record, cached=True), tool_calls=calls)

        queued = [0.0]

        def attempt() -> Completion:
            waited = time.perf_counter()
            with self._slots:
                queued[0] += time.perf_counter() - waited
                return self.client.complete(request, visible)

        started = time.perf_counter()
        outcome = call_with_retries(
            attempt,
            policy=self._policy,
            is_retryable=self.client.is_retryable,
            retry_after=self.client.retry_after,
            describe=self.client.describe_error,
            rng=self._rng,
            sleep=self._sleep,
        )
        latency = time.perf_counter() - started
        extra: dict[str, Any] = {"queue_s": round(queued[0], 6)}
        if self.config.action_format == "tools":
            extra["action_format"] = "tools"
        if outcome.failures:
            extra["failed_attempts"] = outcome.failures
        completion = outcome.value
        if completion is None:
            _logger.warning("model %s: call failed: %s", self.config.model, outcome.error)
            record = CallRecord(
                model=self.config.model, latency_s=latency, retries=outcome.retries, error=outcome.error, extra=extra
            )
            return AgentReply("", record)
        record = CallRecord(
            model=self.config.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            reasoning_tokens=completion.reasoning_tokens,
            latency_s=latency,
            retries=outcome.retries,
            cost_usd=self.config.cost_usd(completion.input_tokens, completion.output_tokens),
            extra={**completion.extra, **extra},
        )
        if completion.tool_calls:
            record.extra["tool_calls"] = completion.tool_calls  # kept by the cache and the transcript
        if self.cache is not None and key is not None:
            self.cache.put(key, completion.text, record)
        return AgentReply(completion.text, record, tool_calls=tuple(completion.tool_calls))

    @property
    def action_format(self) -> str:
        """``"text"`` or ``"tools"``: how this agent's replies carry actions (an env must take the same)."""
        return self.config.action_format

    def set_tools(self, specs: Sequence[Mapping[str, Any]]) -> None:
        """Send these tools from now on (neutral specs, e.g. ``tool_specs(false_belief=True)`` for that phase).

        Raises:
            ValueError: the agent is not in ``tools`` mode.
        """
        if self.config.action_format != "tools":
            raise ValueError(f"model {self.config.name!r}: set_tools needs action_format='tools'")
        self.client.tools = [dict(spec) for spec in specs]  # type: ignore[attr-defined]

    def close(self) -> None:
        """Release the client's connections; a second call does nothing."""
        if not self._closed:
            self._closed = True
            self.client.close()

    def __enter__(self) -> ModelAgent:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False


def build_client(config: ModelConfig) -> ChatClient:
    """The provider client a configuration asks for.

    Local models are loaded once per process and shared by every agent naming the same model, device and
    dtype (loading takes seconds to minutes); see :func:`~theory_of_space.agents.clients.hf_local.shared_local_model`.

    Raises:
        ValueError: The API key's environment variable is not set.
        MissingDependencyError: The provider's SDK is not installed.
    """
    if config.provider in ("openai", "compat"):
        from theory_of_space.agents.clients.openai_chat import OpenAIChatClient

        return OpenAIChatClient(config, api_key=resolve_api_key(config))
    if config.provider == "anthropic":
        from theory_of_space.agents.clients.anthropic_messages import AnthropicMessagesClient

        return AnthropicMessagesClient(config, api_key=resolve_api_key(config))
    from theory_of_space.agents.clients.hf_local import HFLocalClient, shared_local_model

    return HFLocalClient(config, shared_local_model(config))


def make_model_agent(
    spec: str,
    *,
    config_path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ModelAgent:
    """Build a model agent from an agent spec.

    Args:
        spec: ``openai:MODEL``, ``anthropic:MODEL``, ``compat:MODEL@BASE_URL`` (any OpenAI-compatible
            server; key ``EMPTY`` unless ``api_key_env`` is set), ``hf:PATH`` (a local transformers model),
            or the name of a configuration entry such as ``gpt-5.2``.
        config_path: A TOML file with more entries (see ``theory_of_space/data/models.toml``).
        overrides: Settings replacing the entry's, e.g. ``{"temperature": "0", "cache_dir": "cache"}``.

    Raises:
        ValueError: A bad spec, entry, setting, or a missing API key variable.
        MissingDependencyError: The provider's SDK is not installed.

    Example:
        >>> agent = make_model_agent("gpt-5.2", overrides={"cache_dir": "runs/cache"})  # doctest: +SKIP
        >>> agent = make_model_agent("compat:qwen3-vl@http://localhost:8000/v1")  # doctest: +SKIP
    """
    config = resolve_model_config(spec, config_path=config_path, overrides=overrides)
    return ModelAgent(config, build_client(config))
