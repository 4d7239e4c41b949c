"""Fuzzing the model configuration: damaged configuration files and odd overrides either build a configuration
whose every setting obeys its rule, or fail with a ValueError naming the entry and the field."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tests.world.mutations import json_values, mutated
from theory_of_space.agents.config import ModelConfig, resolve_model_config
from theory_of_space.agents.config_checks import RULES

FIELDS = [f.name for f in dataclasses.fields(ModelConfig)]
ALIASES = ["model_name", "max_workers", "max_retries_api", "budget_tokens", "max_completion_tokens", "timeout"]
VALID_FILE = {
    "models": {
        "x": {
            "provider": "anthropic",
            "model": "m",
            "max_tokens": 4096,
            "thinking": True,
            "thinking_budget": 2048,
            "temperature": 1.0,
            "timeout_s": 30,
            "max_retries": 3,
            "backoff_initial_s": 0.5,
            "extra_body": {"metadata": {"user": "me"}},
        }
    },
    "prices": {"m": {"input": 1.0, "output": 2.0}},
}


def _toml(value: Any) -> str:
    """A TOML inline value (``None``, which TOML lacks, is written as the string it is coerced from)."""
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _file(document: dict[str, Any]) -> str:
    lines = [f"{json.dumps(key)} = {_toml(value)}" for key, value in document.items() if not isinstance(value, dict)]
    for table, body in document.items():
        if not isinstance(body, dict):
            continue
        for name, entry in body.items():
            if isinstance(entry, dict):
                lines.append(f"[{json.dumps(table)}.{json.dumps(name)}]")
                lines += [f"{json.dumps(key)} = {_toml(value)}" for key, value in entry.items()]
            else:
                lines.insert(0, f"{json.dumps(table)}.{json.dumps(name)} = {_toml(entry)}")
    return "\n".join(lines) + "\n"


def _obeys_every_rule(config: ModelConfig) -> bool:
    return all(RULES[name].accepts(getattr(config, name)) for name in FIELDS)


def test_the_undamaged_file_builds(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(_file(VALID_FILE))
    config = resolve_model_config("x", config_path=path)
    assert (config.thinking_budget, config.extra_body, config.cost_usd(10**6, 0)) == (
        2048,
        {"metadata": {"user": "me"}},
        1.0,
    )


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(FIELDS + ALIASES), json_values | st.text(max_size=6), max_size=4))
def test_odd_overrides_build_a_valid_config_or_fail_naming_the_field(overrides: dict[str, Any]) -> None:
    try:
        config = resolve_model_config("claude-sonnet-4.5", overrides=overrides)
    except ValueError as error:
        event("refused")
        assert "`" in str(error)  # the field is named
        return
    event("built")
    assert _obeys_every_rule(config)


@FUZZ
@given(data=st.data())
def test_damaged_config_files_build_a_valid_config_or_fail_with_a_value_error(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = Path(tmp_path_factory.mktemp("config")) / "models.toml"
    document = data.draw(mutated(VALID_FILE))
    assume(isinstance(document, dict))  # a TOML file is a table; a mutation may replace the whole document
    text = _file(document)
    path.write_text(text)
    try:
        config = resolve_model_config("x", config_path=path)
    except ValueError:
        event("refused")
        return
    event("built")
    assert _obeys_every_rule(config)
