"""Model configuration: named entries in a TOML file, agent specs such as ``openai:gpt-5.2``, and
``key=value`` overrides from the command line.

A configuration file holds ``[models.NAME]`` tables and an optional ``[prices]`` table (USD per million
input and output tokens, by model name). The packaged ``theory_of_space/data/models.toml`` has the
published benchmark's settings; a user file adds to it and wins on name clashes.

API keys are never part of a configuration: an entry names the environment variable that holds its key
(``api_key_env``), and the key is read only when the client is built.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from theory_of_space.agents.config_checks import check_model_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML through the tomli backport
    import tomli as tomllib

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "PROVIDERS",
    "ModelConfig",
    "Provider",
    "explicit_settings",
    "load_catalog",
    "parse_overrides",
    "resolve_api_key",
    "resolve_model_config",
]

Provider = Literal["openai", "compat", "anthropic", "hf"]
PROVIDERS: tuple[str, ...] = get_args(Provider)
TokenParam = Literal["max_completion_tokens", "max_tokens"]
ChatTemplate = Literal["model", "plain"]

DEFAULT_API_KEY_ENV: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
"""Where a provider's key is read when an entry names no ``api_key_env``. OpenAI-compatible servers
(``compat``) default to the literal key ``EMPTY``, as vLLM and SGLang expect."""

_COMPAT_EMPTY_KEY = "EMPTY"

# Names used by the published benchmark's YAML configs, accepted as synonyms of ours.
_ALIASES = {
    "model_name": "model",
    "max_workers": "max_concurrent",
    "max_retries_api": "max_retries",
    "budget_tokens": "thinking_budget",
    "max_completion_tokens": "max_tokens",
    "timeout": "timeout_s",
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build one model agent; JSON-safe and free of secrets.

    Attributes:
        name: Entry name (or the spec it came from); used in records and output folders.
        provider: ``openai``, ``compat`` (any OpenAI-compatible server), ``anthropic`` or ``hf`` (local).
        model: Model name as the provider knows it, or the local path / hub id for ``hf``.
        base_url: Server address (``http://`` or ``https://`` with a host) for ``openai``/``anthropic``, where
            ``None`` means the official API; required for ``compat``.
        organization: OpenAI organization id, when an account needs it.
        api_key_env: Environment variable holding the key; ``None`` uses the provider default.
        max_tokens: Completion token limit (reasoning or thinking included).
        token_param: Which OpenAI parameter carries ``max_tokens``; ``None`` picks ``max_completion_tokens``
            for ``openai`` and ``max_tokens`` for ``compat`` (older servers only know that one).
        temperature: Sampling temperature; ``None`` leaves the provider default (0 means greedy for ``hf``).
        top_p: Nucleus sampling mass; ``None`` leaves the provider default.
        top_k: Top-k sampling (``hf`` only).
        reasoning_effort: OpenAI ``reasoning_effort``, or Anthropic ``output_config.effort``.
        thinking: Anthropic extended thinking on or off.
        thinking_budget: Anthropic thinking budget in tokens (at least 1024, below ``max_tokens``).
        stream: Anthropic streaming; ``None`` streams when ``max_tokens`` is large enough that the SDK
            refuses a non-streaming call.
        timeout_s: Per-request timeout handed to the SDK.
        max_retries: Further attempts after a retryable failure (rate limit, timeout, server error).
        backoff_initial_s: First retry delay; it doubles each attempt, with jitter.
        backoff_max_s: Longest retry delay.
        max_concurrent: Requests in flight for this model across all agents of the process.
        history_turns: Keep only the last N turns (plus the system prompt and first exchange);
            ``None`` keeps all.
        history_images: Keep only the last M images, replacing older ones by a text marker; ``None`` keeps all.
        cache_dir: Folder of the response cache; ``None`` turns caching off.
        image_max_side: Longest image side in requests, in pixels.
        image_quality: JPEG quality of request images.
        extra_body: Extra JSON fields sent with every request (e.g. vLLM ``chat_template_kwargs``).
        device: ``hf``: ``cpu``, ``cuda``, ``cuda:1``, or ``auto`` (CUDA when available).
        dtype: ``hf``: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        batch_size: ``hf``: most requests from concurrent episodes generated together.
        batch_wait_s: ``hf``: how long the first request of a batch waits for others to join.
        seed: ``hf``: seeds torch once when the model loads, for reproducible sampling.
        chat_template: ``hf``: ``"model"`` uses the tokenizer's own chat template (an error at construction
            when it has none); ``"plain"`` uses :data:`~theory_of_space.agents.clients.hf_local.PLAIN_CHAT_TEMPLATE`,
            role-labelled paragraphs (``System: ...``, ``User: ...``, then ``Assistant:``) for base models.
        input_price_per_mtok: USD per million input tokens; from the price table when not given.
        output_price_per_mtok: USD per million output tokens; from the price table when not given.
        batch_discount: Fraction taken off both prices for a request sent through the provider's batch
            API (0.5 for OpenAI and Anthropic); from the price table when not given, else 0.
        action_format: ``text`` (replies in the ``Actions: [ ... ]`` grammar) or ``tools`` (the actions are
            sent as function-calling tools and the model's calls are the action; ``openai``, ``compat`` and
            ``anthropic`` only).
    """

    name: str
    provider: Provider
    model: str
    base_url: str | None = None
    organization: str | None = None
    api_key_env: str | None = None
    max_tokens: int = 4096
    token_param: TokenParam | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    reasoning_effort: str | None = None
    thinking: bool = False
    thinking_budget: int | None = None
    stream: bool | None = None
    timeout_s: float = 600.0
    max_retries: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_concurrent: int = 32
    history_turns: int | None = None
    history_images: int | None = None
    cache_dir: str | None = None
    image_max_side: int = 1024
    image_quality: int = 85
    extra_body: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    batch_wait_s: float = 0.01
    seed: int | None = None
    chat_template: ChatTemplate = "model"
    input_price_per_mtok: float | None = None
    output_price_per_mtok: float | None = None
    batch_discount: float | None = None
    action_format: str = "text"

    def __post_init__(self) -> None:
        check_model_config({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``config.json``; holds the key's variable name, never the key."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated like the original)."""
        return dataclasses.replace(self, **changes)

    @property
    def request_token_param(self) -> TokenParam:
        """The OpenAI parameter name that carries ``max_tokens``."""
        if self.token_param is not None:
            return self.token_param
        return "max_completion_tokens" if self.provider == "openai" else "max_tokens"

    def cost_usd(self, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float | None:
        """Dollar cost of one call, or ``None`` without a price for this model; ``batch``: sent through
        the provider's batch API, at the list price less :attr:`batch_discount`."""
        if self.input_price_per_mtok is None or self.output_price_per_mtok is None:
            return None
        cost = (input_tokens * self.input_price_per_mtok + output_tokens * self.output_price_per_mtok) / 1e6
        return cost * (1.0 - (self.batch_discount or 0.0)) if batch else cost


# ==== Catalog: named entries and prices ====


@dataclass(frozen=True)
class Catalog:
    """The named entries and price table of one or more configuration files."""

    entries: dict[str, dict[str, Any]]
    prices: dict[str, tuple[float, float]]
    batch_discounts: dict[str, float] = field(default_factory=dict)
    """Per model, the fraction off both prices through the provider's batch API."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"model config file {path}: not valid TOML ({error})") from error


_PRICE_KEYS = frozenset({"input", "output", "batch_discount"})


def _parse_catalog(data: Mapping[str, Any], source: str) -> Catalog:
    unknown = set(data) - {"models", "prices"}
    if unknown:
        raise ValueError(f"{source}: expected only [models.*] and [prices] tables, got {sorted(unknown)}")
    for table in ("models", "prices"):
        if not isinstance(data.get(table, {}), dict):
            raise ValueError(f"{source}: expected a table for `{table}`, got {data[table]!r}")
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in data.get("models", {}).items():
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: expected a table for `models.{name}`, got {type(entry).__name__}")
        entries[name] = dict(entry)
    prices: dict[str, tuple[float, float]] = {}
    discounts: dict[str, float] = {}
    for model, price in data.get("prices", {}).items():
        if (
            not isinstance(price, dict)
            or not {"input", "output"} <= set(price) <= _PRICE_KEYS
            or not (_is_price(price["input"]) and _is_price(price["output"]))
            or not _is_discount(price.get("batch_discount", 0))
        ):
            raise ValueError(
                f'{source}: expected `prices."{model}"` = {{ input = ..., output = ... [, batch_discount = ...] }} '
                f"(USD per million tokens, finite and >= 0; the batch discount a fraction in [0, 1)), got {price!r}"
            )
        prices[model] = (float(price["input"]), float(price["output"]))
        if "batch_discount" in price:
            discounts[model] = float(price["batch_discount"])
    return Catalog(entries, prices, discounts)


def _is_price(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf


def _is_discount(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1


def load_catalog(config_path: str | os.PathLike[str] | None = None) -> Catalog:
    """The packaged entries and prices, extended (and overridden) by ``config_path`` when given.

    Raises:
        FileNotFoundError: ``config_path`` does not exist.
        ValueError: A file is not valid TOML or has an unexpected layout.
    """
    packaged = resources.files("theory_of_space") / "data" / "models.toml"
    catalog = _parse_catalog(tomllib.loads(packaged.read_text(encoding="utf-8")), "packaged models.toml")
    if config_path is None:
        return catalog
    path = Path(config_path)
    if not path.is_file():
        raise FileNotFoundError(f"model config file not found: {path}")
    user = _parse_catalog(_read_toml(path), str(path))
    return Catalog({**catalog.entries, **user.entries}, {**catalog.prices, **user.prices},
                   {**catalog.batch_discounts, **user.batch_discounts})


# ==== Specs and overrides ====

_FIELDS = {f.name: f for f in dataclasses.fields(ModelConfig)}


def _canonical(key: str, source: str) -> str:
    name = _ALIASES.get(key, key)
    if name not in _FIELDS:
        raise ValueError(f"{source}: unknown model setting `{key}`; expected one of {sorted(_FIELDS)}")
    return name


def _coerce(name: str, value: Any, source: str) -> Any:
    """Bring a TOML or command-line value to the field's type, or fail naming the field."""
    annotation = str(_FIELDS[name].type)
    optional = "None" in annotation
    if isinstance(value, str) and optional and value.lower() in ("none", "null", ""):
        return None
    if value is None:
        if optional:
            return None
        raise ValueError(f"{source}: `{name}` cannot be unset")
    try:
        if annotation.startswith("bool"):
            if isinstance(value, str):
                lowered = value.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return lowered in ("true", "1", "yes", "on")
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if annotation.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if annotation.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if annotation.startswith("dict"):
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{source}: expected {annotation} for `{name}`, got {value!r}") from None
    if not isinstance(value, str):
        raise ValueError(f"{source}: expected {annotation} for `{name}`, got {value!r}")
    return value


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """Turn command-line ``key=value`` strings into an overrides mapping (values are coerced later).

    Raises:
        ValueError: An item has no ``=``.

    Example:
        >>> parse_overrides(["temperature=0", "max_tokens=2048"])
        {'temperature': '0', 'max_tokens': '2048'}
    """
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected a model override as key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _spec_entry(spec: str) -> dict[str, Any] | None:
    """The entry a provider-prefixed spec stands for, or ``None`` when ``spec`` is an entry name."""
    provider, sep, rest = spec.partition(":")
    if not sep or provider not in PROVIDERS:
        return None
    if not rest:
        raise ValueError(f"agent spec {spec!r}: expected a model name after '{provider}:'")
    if provider == "compat":
        model, at, base_url = rest.partition("@")
        if not at or not model or not base_url:
            raise ValueError(
                f"agent spec {spec!r}: expected compat:MODEL@BASE_URL, e.g. compat:qwen@http://localhost:8000/v1"
            )
        return {"provider": "compat", "model": model, "base_url": base_url}
    return {"provider": provider, "model": rest}


def explicit_settings(
    spec: str, *, config_path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings an agent spec states itself: its entry's or spec's, then the overrides, coerced to the
    fields' types under their canonical names; defaults and prices are not included.

    The runner uses it to tell a ``max_concurrent`` someone wrote down (which it must honour) from the default.

    Raises:
        ValueError: Unknown entry, malformed spec, unknown setting or a value of the wrong type.
    """
    catalog = load_catalog(config_path)
    return _explicit(spec, catalog, overrides)


def _explicit(spec: str, catalog: Catalog, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = _spec_entry(spec)
    if raw is None:
        if spec not in catalog.entries:
            raise ValueError(
                f"agent spec {spec!r} is neither PROVIDER:MODEL ({', '.join(PROVIDERS)}) nor a model config "
                f"entry; known entries: {sorted(catalog.entries)}"
            )
        raw = catalog.entries[spec]
        source = f"model config entry {spec!r}"
    else:
        source = f"agent spec {spec!r}"
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        name = _canonical(key, source)
        settings[name] = _coerce(name, value, source)
    for key, value in (overrides or {}).items():
        name = _canonical(key, "model override")
        settings[name] = _coerce(name, value, "model override")
    if "provider" not in settings or "model" not in settings:
        raise ValueError(f"{source}: expected both `provider` and `model`")
    return settings


def resolve_model_config(
    spec: str, *, config_path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> ModelConfig:
    """Build the configuration an agent spec stands for.

    Args:
        spec: ``openai:MODEL``, ``anthropic:MODEL``, ``compat:MODEL@BASE_URL``, ``hf:PATH`` or the name of
            a ``[models.NAME]`` entry (packaged or in ``config_path``).
        config_path: A TOML file with more entries and prices.
        overrides: Settings that replace the entry's, by field name; strings are coerced to the field's
            type, so command-line ``key=value`` pairs can be passed as they are.

    Raises:
        ValueError: Unknown entry, malformed spec, unknown setting or a value of the wrong type.

    Example:
        >>> resolve_model_config("gpt-5.2").reasoning_effort
        'medium'
    """
    catalog = load_catalog(config_path)
    settings = {"name": spec, **_explicit(spec, catalog, overrides)}
    price = catalog.prices.get(settings["model"])
    if price is not None:
        settings.setdefault("input_price_per_mtok", price[0])
        settings.setdefault("output_price_per_mtok", price[1])
    if settings["model"] in catalog.batch_discounts:
        settings.setdefault("batch_discount", catalog.batch_discounts[settings["model"]])
    return ModelConfig(**settings)


def resolve_api_key(config: ModelConfig) -> str | None:
    """Read the entry's API key from the environment.

    Returns:
        The key; ``"EMPTY"`` for an OpenAI-compatible server without ``api_key_env``; ``None`` for ``hf``.

    Raises:
        ValueError: The named environment variable is not set.
    """
    if config.provider == "hf":
        return None
    variable = config.api_key_env or DEFAULT_API_KEY_ENV.get(config.provider)
    if variable is None:
        return _COMPAT_EMPTY_KEY
    key = os.environ.get(variable)
    if not key:
        raise ValueError(
            f"model config {config.name!r}: the API key is read from the environment variable {variable}, "
            f"which is not set (export {variable}=... or name another variable in `api_key_env`)"
        )
    return key
