"""Fixtures for the model-agent tests: the fake provider server, API keys, tiny local models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_servers import FakeModelServer

FAKE_OPENAI_KEY = "sk-test-SECRET-0123456789"
FAKE_ANTHROPIC_KEY = "sk-ant-test-SECRET-9876543210"

@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    """A fresh scripted server on 127.0.0.1, shut down after the test."""
    with FakeModelServer() as fake:
        yield fake


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake keys in the default environment variables."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)
    return {"openai": FAKE_OPENAI_KEY, "anthropic": FAKE_ANTHROPIC_KEY}


@pytest.fixture(scope="session")
def tiny_lm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random causal LM saved to disk (built once per session)."""
    pytest.importorskip("transformers")
    from tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def tiny_vlm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random image-text-to-text model saved to disk (built once per session)."""
    pytest.importorskip("transformers")
    from tiny_models import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))
