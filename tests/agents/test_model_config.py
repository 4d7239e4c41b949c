"""Model configuration: specs, entries, aliases, overrides, prices, API keys."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from theory_of_space.agents.config import (
    ModelConfig,
    load_catalog,
    parse_overrides,
    resolve_api_key,
    resolve_model_config,
)
from theory_of_space.agents.config_checks import RULES


def test_packaged_entries_carry_the_published_settings() -> None:
    gpt = resolve_model_config("gpt-5.2")
    assert (gpt.provider, gpt.temperature, gpt.max_tokens, gpt.reasoning_effort) == ("openai", 1.0, 32768, "medium")
    claude = resolve_model_config("claude-sonnet-4.5")
    assert (claude.thinking, claude.thinking_budget, claude.max_tokens, claude.temperature) == (True, 30000, 32768, 1.0)
    gemini = resolve_model_config("gemini-3-pro")
    assert (gemini.provider, gemini.api_key_env) == ("compat", "GOOGLE_API_KEY")
    assert resolve_model_config("qwen3-vl-235b-thinking").temperature == 0.0


def test_every_packaged_entry_builds() -> None:
    for name in load_catalog().entries:
        assert resolve_model_config(name).name == name


@pytest.mark.parametrize(
    ("spec", "provider", "model", "base_url"),
    [
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
        ("anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5", None),
        ("compat:Qwen/Qwen3-VL-8B@http://127.0.0.1:8000/v1", "compat", "Qwen/Qwen3-VL-8B", "http://127.0.0.1:8000/v1"),
        ("hf:/models/tiny", "hf", "/models/tiny", None),
    ],
)
def test_provider_specs(spec: str, provider: str, model: str, base_url: str | None) -> None:
    config = resolve_model_config(spec)
    assert (config.provider, config.model, config.base_url, config.name) == (provider, model, base_url, spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openai:", "agent spec 'openai:': expected a model name after 'openai:'"),
        ("compat:qwen", "agent spec 'compat:qwen': expected compat:MODEL@BASE_URL"),
        ("no-such-entry", "agent spec 'no-such-entry' is neither PROVIDER:MODEL"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        resolve_model_config(spec)


def test_overrides_are_coerced_from_strings() -> None:
    overrides = parse_overrides(["temperature=0", "max_tokens=2048", "thinking=false", "base_url=none"])
    config = resolve_model_config("gpt-5.2", overrides=overrides)
    assert (config.temperature, config.max_tokens, config.thinking, config.base_url) == (0.0, 2048, False, None)


def test_overrides_accept_published_names() -> None:
    config = resolve_model_config("openai:m", overrides={"max_workers": 4, "max_retries_api": 1, "timeout": 5})
    assert (config.max_concurrent, config.max_retries, config.timeout_s) == (4, 1, 5.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"temprature": "1"}, "model override: unknown model setting `temprature`"),
        ({"max_tokens": "lots"}, "model override: expected int for `max_tokens`, got 'lots'"),
        ({"thinking": "maybe"}, "model override: expected bool for `thinking`, got 'maybe'"),
        ({"max_tokens": 0}, "model config 'openai:m': expected an integer >= 1 and <= 1048576 for `max_tokens`, got 0"),
        (
            {"history_turns": 0},
            "model config 'openai:m': expected an integer >= 1 and <= 1000000 or unset for `history_turns`, got 0",
        ),
        ({"thinking": True}, "model config 'openai:m': `thinking` is on, so expected a `thinking_budget`"),
        ({"max_tokens": [1]}, "model override: expected int for `max_tokens`, got [1]"),
        ({"temperature": "nan"}, "model config 'openai:m': expected a finite number >= 0 and <= 2 or unset for"),
        ({"temperature": float("inf")}, "model config 'openai:m': expected a finite number >= 0 and <= 2 or unset"),
        ({"timeout_s": "nan"}, "model config 'openai:m': expected a finite number > 0 and <= 86400 for `timeout_s`"),
        ({"timeout_s": "inf"}, "model config 'openai:m': expected a finite number > 0 and <= 86400 for `timeout_s`"),
        ({"timeout_s": 0}, "model config 'openai:m': expected a finite number > 0 and <= 86400 for `timeout_s`, got 0"),
        ({"backoff_initial_s": 0}, "model config 'openai:m': expected a finite number > 0 and <= 3600 for"),
        ({"backoff_initial_s": "nan"}, "model config 'openai:m': expected a finite number > 0 and <= 3600 for"),
        ({"max_retries": 1_000_000_000}, "model config 'openai:m': expected an integer >= 0 and <= 100 for"),
        ({"max_concurrent": 0}, "model config 'openai:m': expected an integer >= 1 and <= 10000 for `max_concurrent`"),
        ({"backoff_initial_s": 10, "backoff_max_s": 1}, "model config 'openai:m': expected `backoff_max_s` >= `ba"),
        ({"top_p": 0}, "model config 'openai:m': expected a finite number > 0 and <= 1 or unset for `top_p`, got 0.0"),
        ({"dtype": "int4"}, "model config 'openai:m': expected one of auto, float32, bfloat16, float16 for `dtype`"),
        ({"base_url": " "}, "model config 'openai:m': expected a non-empty string or unset for `base_url`, got ' '"),
        ({"extra_body": {"x": float("nan")}}, "model config 'openai:m': expected a table of JSON values with string"),
        ({"seed": -1}, "model config 'openai:m': expected an integer >= 0 and <= 9223372036854775807 or unset for"),
    ],
)
def test_bad_overrides_name_the_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        resolve_model_config("openai:m", overrides=overrides)


def test_parse_overrides_needs_an_equals_sign() -> None:
    with pytest.raises(ValueError, match=re.escape("expected a model override as key=value, got 'temperature'")):
        parse_overrides(["temperature"])


def test_user_file_adds_entries_and_prices(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.local-vllm]\nprovider = "compat"\nmodel_name = "served"\nbase_url = "http://127.0.0.1:9/v1"\n'
        "max_workers = 3\n\n"
        "[prices]\nserved = { input = 1.0, output = 2.0 }\n"
    )
    config = resolve_model_config("local-vllm", config_path=path)
    assert (config.model, config.max_concurrent) == ("served", 3)
    assert config.cost_usd(1_000_000, 500_000) == pytest.approx(2.0)
    assert resolve_model_config("gpt-5.2", config_path=path).provider == "openai"  # packaged entries stay


def test_bad_config_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text("[models.x]\nprovider = 'openai'\nmodel = 'm'\nmax_tokens = 'many'\n")
    with pytest.raises(ValueError, match=re.escape("model config entry 'x': expected int for `max_tokens`")):
        resolve_model_config("x", config_path=path)
    path.write_text("[modles.x]\n")
    with pytest.raises(ValueError, match=re.escape("expected only [models.*] and [prices] tables, got ['modles']")):
        load_catalog(path)
    with pytest.raises(FileNotFoundError, match="model config file not found"):
        load_catalog(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models = 3\n", "expected a table for `models`, got 3"),
        ("prices = 'cheap'\n", "expected a table for `prices`, got 'cheap'"),
        ('[prices]\nm = { input = "one", output = 2.0 }\n', 'expected `prices."m"` = { input = ..., output = ...'),
        ("[prices]\nm = { input = nan, output = 2.0 }\n", 'expected `prices."m"` = { input = ..., output = ...'),
        ("[prices]\nm = { input = 1.0, output = 2.0, batch_discount = 1.0 }\n", "a fraction in [0, 1)"),
        ('[prices]\nm = { input = 1.0, output = 2.0, batch_discount = "half" }\n', "a fraction in [0, 1)"),
        ("[prices]\nm = { input = 1.0, output = 2.0, discount = 0.5 }\n", "[, batch_discount = ...] }"),
        (
            "[models.x]\nprovider = 'openai'\nmodel = 'm'\nbatch_discount = 1\n",
            "expected a finite number >= 0 and < 1 or unset for `batch_discount`, got 1",
        ),
        ("[models.x]\nprovider = 'openai'\nmodel = 'm'\nmax_tokens = [1]\n", "expected int for `max_tokens`, got [1]"),
        ("[models.x]\nprovider = 'openai'\nmodel = 'm'\ntimeout_s = inf\n", "for `timeout_s`, got inf"),
        (
            "[models.x]\nprovider = 'openai'\nmodel = 'm'\nmax_retries = 1000000000\n",
            "for `max_retries`, got 1000000000",
        ),
    ],
)
def test_bad_config_file_values_name_the_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        resolve_model_config("x", config_path=path)
    assert str(path) in str(caught.value) or "'x'" in str(caught.value)


def test_every_setting_has_a_rule() -> None:
    assert set(RULES) == {f.name for f in dataclasses.fields(ModelConfig)}


def test_batch_cost_takes_the_discount_off_both_prices(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text("[prices]\nm = { input = 2.0, output = 10.0, batch_discount = 0.25 }\n")
    config = resolve_model_config("openai:m", config_path=path)
    assert config.batch_discount == 0.25
    assert config.cost_usd(1_000_000, 100_000) == pytest.approx(3.0)
    assert config.cost_usd(1_000_000, 100_000, batch=True) == pytest.approx(2.25)
    unpriced = resolve_model_config("openai:m", overrides={"input_price_per_mtok": "2", "output_price_per_mtok": "10"})
    assert unpriced.batch_discount is None
    assert unpriced.cost_usd(1_000_000, 0, batch=True) == unpriced.cost_usd(1_000_000, 0) == pytest.approx(2.0)


def test_cost_is_none_without_a_price() -> None:
    assert resolve_model_config("openai:unpriced-model").cost_usd(1000, 1000) is None
    assert resolve_model_config("gpt-5.2").cost_usd(1_000_000, 0) == pytest.approx(1.75)


def test_token_parameter_depends_on_the_provider() -> None:
    assert resolve_model_config("openai:m").request_token_param == "max_completion_tokens"
    assert resolve_model_config("compat:m@http://h/v1").request_token_param == "max_tokens"
    assert resolve_model_config("gemini-3-pro").request_token_param == "max_completion_tokens"


def test_api_keys_come_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    config = resolve_model_config("openai:m", overrides={"api_key_env": "MY_KEY"})
    assert resolve_api_key(config) == "sk-from-env"
    assert "sk-from-env" not in json.dumps(config.to_dict())
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(ValueError, match="environment variable MY_KEY, which is not set"):
        resolve_api_key(config)


def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key(resolve_model_config("compat:m@http://127.0.0.1:1/v1")) == "EMPTY"


def test_configs_are_frozen_and_replace_validates() -> None:
    config = ModelConfig(name="n", provider="openai", model="m")
    assert config.replace(temperature=0.5).temperature == 0.5
    with pytest.raises(ValueError, match=re.escape("expected one of openai, compat, anthropic, hf for `provider`")):
        config.replace(provider="azure")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec",
    ["compat:foo@localhost:8000", "compat:foo@localhost:8000/v1", "compat:foo@ftp://host/v1", "compat:foo@http://"],
)
def test_a_compat_url_without_scheme_or_host_is_refused_up_front(spec: str) -> None:
    with pytest.raises(ValueError, match=re.escape("expected an http:// or https:// URL with a host for `base_url`")):
        resolve_model_config(spec)


def test_a_compat_entry_without_base_url_is_an_error_not_the_official_api(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models.local]\nprovider = "compat"\nmodel = "qwen"\n')
    with pytest.raises(ValueError, match=re.escape("provider 'compat' needs `base_url`")):
        resolve_model_config("local", config_path=path)
    with pytest.raises(ValueError, match=re.escape("got 'localhost:8000'")):
        resolve_model_config("gpt-5.2", overrides={"base_url": "localhost:8000"})


def test_chat_template_setting_is_checked() -> None:
    assert resolve_model_config("hf:/m", overrides={"chat_template": "plain"}).chat_template == "plain"
    with pytest.raises(ValueError, match=re.escape("expected one of model, plain for `chat_template`")):
        resolve_model_config("hf:/m", overrides={"chat_template": "fancy"})
