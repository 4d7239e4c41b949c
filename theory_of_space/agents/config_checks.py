"""The type and range of every model setting, checked when a :class:`~theory_of_space.agents.config.ModelConfig`
is built, so that a bad value fails at once with the entry and the field named, not hours into a run.

Each field has one :class:`Rule`. Ranges exclude values that make no sense (``nan``, ``inf``, a zero
timeout) and values so large that they can only be typing mistakes (a billion retries): a run where every
call fails must not start. Why we keep a table of rules rather than a validation library such as pydantic:
the library would become a core dependency (it is only a dependency of the SDKs today), its messages would
still need rewriting into our "expected X for `field`, got Y" form, and this table is shorter than the
annotations and validators it would need.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RULES", "Rule", "check_model_config"]

_TIMEOUT_MAX_S = 86_400.0
"""A day: no single request waits longer."""
_BACKOFF_MAX_S = 3_600.0
"""An hour: no single retry delay is longer."""


@dataclass(frozen=True)
class Rule:
    """What one setting accepts.

    Attributes:
        kind: ``int``, ``float`` (an int is accepted), ``str``, ``bool`` or ``dict``.
        low: Smallest value allowed (numbers only).
        high: Largest value allowed (numbers only).
        above: Whether ``low`` itself is excluded (``timeout_s`` must be above 0).
        below: Whether ``high`` itself is excluded (``batch_discount`` must be below 1).
        optional: Whether ``None`` (unset) is allowed.
        choices: The allowed strings, when the set is closed.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    above: bool = False
    below: bool = False
    optional: bool = False
    choices: tuple[str, ...] | None = None

    def expected(self) -> str:
        """The rule in words, for error messages."""
        if self.choices is not None:
            text = f"one of {', '.join(self.choices)}"
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is str:
            text = "a non-empty string"
        elif self.kind is dict:
            text = "a table of JSON values with string keys"
        else:
            text = "an integer" if self.kind is int else "a finite number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.above else '>='} {_number(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.below else '<='} {_number(self.high)}")
            if bounds:
                text += " " + " and ".join(bounds)
        return f"{text} or unset" if self.optional else text

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has the rule's type and lies in its range."""
        if value is None:
            return self.optional
        if self.kind is bool:
            return isinstance(value, bool)
        if self.kind is str:
            if not isinstance(value, str) or not value.strip():
                return False
            return self.choices is None or value in self.choices
        if self.kind is dict:
            return isinstance(value, dict) and all(isinstance(k, str) for k in value) and _is_json(value)
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below else value <= self.high)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


_TEXT = Rule(str)
_OPTIONAL_TEXT = Rule(str, optional=True)
_PRICE = Rule(float, low=0, high=1e6, optional=True)

RULES: dict[str, Rule] = {
    "name": _TEXT,
    "provider": Rule(str, choices=("openai", "compat", "anthropic", "hf")),
    "model": _TEXT,
    "base_url": _OPTIONAL_TEXT,
    "organization": _OPTIONAL_TEXT,
    "api_key_env": _OPTIONAL_TEXT,
    "max_tokens": Rule(int, low=1, high=2**20),
    "token_param": Rule(str, optional=True, choices=("max_completion_tokens", "max_tokens")),
    "temperature": Rule(float, low=0, high=2, optional=True),
    "top_p": Rule(float, low=0, high=1, above=True, optional=True),
    "top_k": Rule(int, low=1, high=1_000_000, optional=True),
    "reasoning_effort": _OPTIONAL_TEXT,
    "thinking": Rule(bool),
    "thinking_budget": Rule(int, low=1024, high=2**20, optional=True),
    "stream": Rule(bool, optional=True),
    "timeout_s": Rule(float, low=0, high=_TIMEOUT_MAX_S, above=True),
    "max_retries": Rule(int, low=0, high=100),
    "backoff_initial_s": Rule(float, low=0, high=_BACKOFF_MAX_S, above=True),
    "backoff_max_s": Rule(float, low=0, high=_BACKOFF_MAX_S, above=True),
    "max_concurrent": Rule(int, low=1, high=10_000),
    "history_turns": Rule(int, low=1, high=1_000_000, optional=True),
    "history_images": Rule(int, low=0, high=1_000_000, optional=True),
    "cache_dir": _OPTIONAL_TEXT,
    "image_max_side": Rule(int, low=16, high=16_384),
    "image_quality": Rule(int, low=1, high=95),
    "extra_body": Rule(dict),
    "device": _TEXT,
    "dtype": Rule(str, choices=("auto", "float32", "bfloat16", "float16")),
    "batch_size": Rule(int, low=1, high=4096),
    "batch_wait_s": Rule(float, low=0, high=60),
    "seed": Rule(int, low=0, high=2**63 - 1, optional=True),
    "input_price_per_mtok": _PRICE,
    "output_price_per_mtok": _PRICE,
    "batch_discount": Rule(float, low=0, high=1, below=True, optional=True),
    "action_format": Rule(str, choices=("text", "tools")),
    "chat_template": Rule(str, choices=("model", "plain")),
}
"""One rule per :class:`~theory_of_space.agents.config.ModelConfig` field (a test checks that none is missing)."""


def _check_url(url: str, where: str) -> None:
    """Refuse an address the SDK would retry for minutes: it needs a scheme (http/https) and a host."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"{where}: expected an http:// or https:// URL with a host for `base_url`, got {url!r} "
            "(e.g. http://localhost:8000/v1)"
        )


def check_model_config(values: dict[str, Any]) -> None:
    """Check every setting of a model configuration, then the settings that depend on each other.

    Args:
        values: The configuration's fields by name.

    Raises:
        ValueError: Naming the configuration and the field, with what was expected and what arrived.
    """
    where = f"model config {values.get('name')!r}"
    for name, value in values.items():
        rule = RULES[name]
        if not rule.accepts(value):
            raise ValueError(f"{where}: expected {rule.expected()} for `{name}`, got {value!r}")
    if values["provider"] == "compat" and values["base_url"] is None:
        raise ValueError(
            f"{where}: provider 'compat' needs `base_url`, the server's address (e.g. http://localhost:8000/v1)"
        )
    if values["base_url"] is not None:
        _check_url(values["base_url"], where)
    if values["action_format"] == "tools" and values["provider"] == "hf":
        raise ValueError(f"{where}: `action_format` 'tools' needs an API provider (openai, compat, anthropic), not hf")
    if values["thinking"] and values["thinking_budget"] is None:
        raise ValueError(f"{where}: `thinking` is on, so expected a `thinking_budget` (tokens, >= 1024)")
    budget = values["thinking_budget"]
    if budget is not None and budget >= values["max_tokens"]:
        raise ValueError(
            f"{where}: expected `thinking_budget` below `max_tokens` ({values['max_tokens']}), got {budget}"
        )
    if values["backoff_max_s"] < values["backoff_initial_s"]:
        raise ValueError(
            f"{where}: expected `backoff_max_s` >= `backoff_initial_s` ({values['backoff_initial_s']:g}), "
            f"got {values['backoff_max_s']:g}"
        )
