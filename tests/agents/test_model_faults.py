"""Fault injection: every kind of failure a provider or the wire produces, through the real OpenAI and
Anthropic SDK clients against the loopback server.

Each transient fault is retried with backoff and the call recovers; a fault that persists ends in a recorded
failure with its reason (never an exception, never a silent empty success); a 1 MB reply arrives whole; and
``timeout_s`` bounds the whole exchange, including a body trickled one byte at a time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_servers import FAST_RETRIES, FakeModelServer, Step

from theory_of_space.agents.base import Message
from theory_of_space.agents.model_agent import ModelAgent, make_model_agent

pytest.importorskip("openai")
pytest.importorskip("anthropic")

# The published benchmark's Claude model is past its deprecation notice; the SDK warns on each call.
pytestmark = pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated:DeprecationWarning")

CONVERSATION = [Message("system", "You explore rooms."), Message("user", "Begin.")]
RECOVERED = "FINAL ANSWER: recovered"

# The Anthropic client streams above a max_tokens threshold; both paths read answers differently.
CLIENTS = {
    "openai": ("gpt-5.2", "url", {}),
    "anthropic": ("claude-sonnet-4.5", "root_url", {"max_tokens": 2048, "thinking_budget": 1024}),
    "anthropic-stream": ("claude-sonnet-4.5", "root_url", {"stream": True}),
}

_EMPTY_ANSWER = {
    "openai": json.dumps({"id": "x", "object": "chat.completion", "choices": [], "usage": {}}),
    "anthropic": json.dumps(
        {
            "id": "msg",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 0},
        }
    ),
}

TRANSIENT_FAULTS: dict[str, Step] = {
    "429-retry-after": Step(status=429, headers={"retry-after": "0.01"}),
    "429": Step(status=429),
    "500": Step(status=500),
    "503": Step(status=503),
    "connection-reset": Step(reset=True),
    "hang": Step(delay_s=30.0),
    "truncated-body": Step(truncate_at=60),
    "empty-choices": Step(),  # filled in per provider: no choices (OpenAI), no content blocks (Anthropic)
    "garbage": Step(answer="<html>502 Bad Gateway</html>"),
}


def _agent(server: FakeModelServer, client: str, **overrides: Any) -> ModelAgent:
    spec, url, settings = CLIENTS[client]
    settings = {"base_url": getattr(server, url), **FAST_RETRIES, "timeout_s": 1.0, **settings, **overrides}
    return make_model_agent(spec, overrides=settings)


def _fault(name: str, client: str) -> Step:
    if name == "empty-choices":
        return Step(answer=_EMPTY_ANSWER["openai" if client == "openai" else "anthropic"])
    return TRANSIENT_FAULTS[name]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_a_transient_fault_is_retried_and_the_call_recovers(
    server: FakeModelServer, api_keys: dict[str, str], client: str, fault: str
) -> None:
    server.push(_fault(fault, client), Step(text=RECOVERED))
    with _agent(server, client, timeout_s=0.3) as agent:
        reply = agent.act(CONVERSATION)
    assert (reply.text, reply.record.error, reply.record.retries) == (RECOVERED, None, 1)
    (failure,) = reply.record.extra["failed_attempts"]
    assert failure  # the reason of the failed attempt is kept
    assert len(server.received) == 2


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("fault", ["503", "truncated-body", "empty-choices", "garbage", "connection-reset"])
def test_a_fault_that_persists_is_a_recorded_failure_with_its_reason(
    server: FakeModelServer, api_keys: dict[str, str], client: str, fault: str
) -> None:
    server.default = _fault(fault, client)
    with _agent(server, client, max_retries=2) as agent:
        reply = agent.act(CONVERSATION)
    assert reply.text == ""
    assert (reply.record.error or "").endswith("(gave up after 2 retries)")
    assert len(reply.record.extra["failed_attempts"]) == 3 == len(server.received)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_one_megabyte_reply_arrives_whole(server: FakeModelServer, api_keys: dict[str, str], client: str) -> None:
    text = "FINAL ANSWER: " + "word " * 200_000
    server.push(Step(text=text))
    with _agent(server, client) as agent:
        reply = agent.act(CONVERSATION)
    assert (len(reply.text), reply.record.error, reply.record.retries) == (len(text), None, 0)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_timeout_bounds_a_trickled_body(server: FakeModelServer, api_keys: dict[str, str], client: str) -> None:
    """One byte every 50 ms never trips a per-read timeout of 0.5 s; the whole answer would take over 20 s."""
    server.push(Step(text="x" * 400, trickle_s=0.05), Step(text=RECOVERED))
    with _agent(server, client, timeout_s=0.5) as agent:
        reply = agent.act(CONVERSATION)
    assert (reply.text, reply.record.retries) == (RECOVERED, 1)
    (failure,) = reply.record.extra["failed_attempts"]
    assert "Timeout" in failure.split(":")[0]
