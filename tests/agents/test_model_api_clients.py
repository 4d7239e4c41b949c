"""The OpenAI and Anthropic clients, through the real SDKs, against the local fake server."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_servers import FAST_RETRIES, FakeModelServer, Step, count_tokens
from PIL import Image

from theory_of_space.agents.base import Message
from theory_of_space.agents.config import resolve_model_config
from theory_of_space.agents.model_agent import ModelAgent, build_client, make_model_agent

pytest.importorskip("openai")
pytest.importorskip("anthropic")

# The published benchmark's Claude model is past its deprecation notice; the SDK warns on each call.
pytestmark = pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated:DeprecationWarning")


def _openai(server: FakeModelServer, **overrides: Any) -> ModelAgent:
    return make_model_agent("gpt-5.2", overrides={"base_url": server.url, **FAST_RETRIES, **overrides})


def _anthropic(server: FakeModelServer, **overrides: Any) -> ModelAgent:
    return make_model_agent("claude-sonnet-4.5", overrides={"base_url": server.root_url, **FAST_RETRIES, **overrides})


def _conversation() -> list[Message]:
    return [
        Message("system", "You explore rooms."),
        Message("user", "Begin."),
        Message("assistant", "THINK: ok FINAL ANSWER: Actions: [Observe()]"),
        Message("user", "You see a chair."),
    ]


def _decode(base64_data: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(base64_data))))


# ==== OpenAI Chat Completions ====


def test_openai_request_carries_messages_and_settings(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    with _openai(server) as agent:
        reply = agent.act(_conversation())
    assert reply.text == Step().text
    (received,) = server.received
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {api_keys['openai']}"
    body = received.body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][3]["content"] == "You see a chair."
    assert (body["model"], body["max_completion_tokens"], body["temperature"], body["reasoning_effort"]) == (
        "gpt-5.2",
        32768,
        1.0,
        "medium",
    )


def test_openai_image_parts_arrive_intact_and_in_place(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    red = np.zeros((1500, 600, 3), dtype=np.uint8)
    red[..., 0] = 255
    blue = np.zeros((40, 50, 3), dtype=np.uint8)
    blue[..., 2] = 255
    message = Message("user", "first <image> then <image> end", (red, blue))
    with _openai(server) as agent:
        agent.act([Message("system", "s"), message])
    parts = server.received[0].body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url", "text"]
    assert [p["text"] for p in parts if p["type"] == "text"] == ["first ", " then ", " end"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert all(url.startswith("data:image/jpeg;base64,") for url in urls)
    first, second = (_decode(url.partition(",")[2]) for url in urls)
    assert first.shape == (1024, 410, 3)  # longest side capped at 1024
    assert second.shape == (40, 50, 3)
    assert first[..., 0].mean() > 250 and first[..., 2].mean() < 5
    assert second[..., 2].mean() > 250 and second[..., 0].mean() < 5


def test_openai_usage_is_accounted(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.push(Step(text="one two three", reasoning_tokens=7))
    with _openai(server) as agent:
        record = agent.act(_conversation()).record
    input_tokens = count_tokens(server.received[0].body)
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (input_tokens, 3, 7)
    assert record.cost_usd == pytest.approx((input_tokens * 1.75 + 3 * 14.0) / 1e6)
    assert (record.model, record.retries, record.error, record.cached) == ("gpt-5.2", 0, None, False)
    assert record.extra["finish_reason"] == "stop"
    assert record.latency_s > 0


def test_openai_compatible_extras_are_read(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    """vLLM-style reasoning beside the content, cached prompt tokens, and a server that sends no usage."""
    message = {"role": "assistant", "content": "FINAL ANSWER: Actions: [Observe()]", "reasoning_content": "hmm"}
    usage = {"prompt_tokens": 40, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 32}}
    server.push(
        Step(answer=json.dumps({"choices": [{"message": message, "finish_reason": "length"}], "usage": usage})),
        Step(answer=json.dumps({"choices": [{"message": {"role": "assistant", "content": None}}]})),
    )
    with _openai(server) as agent:
        first, second = agent.act(_conversation()), agent.act(_conversation())
    assert first.text == "FINAL ANSWER: Actions: [Observe()]"
    assert (first.record.input_tokens, first.record.output_tokens, first.record.reasoning_tokens) == (40, 9, None)
    assert first.record.extra["reasoning"] == "hmm" and first.record.extra["cached_input_tokens"] == 32
    assert first.record.extra["finish_reason"] == "length"
    assert (second.text, second.record.input_tokens, second.record.error) == ("", 0, None)


@pytest.mark.parametrize(
    "answer",
    ['{"choices": []}', "[1, 2]", '{"object": "error"}', "not json at all", '{"choices": [{"message": "hi"}]}'],
    ids=["no-choices", "a-list", "no-choices-key", "not-json", "message-not-an-object"],
)
def test_openai_malformed_answers_are_retried(server: FakeModelServer, api_keys: dict[str, str], answer: str) -> None:
    server.push(Step(answer=answer), Step(text="whole"))
    with _openai(server) as agent:
        reply = agent.act(_conversation())
    assert (reply.text, reply.record.retries, reply.record.error) == ("whole", 1, None)
    (failed,) = reply.record.extra["failed_attempts"]
    assert failed.startswith("MalformedAnswerError: the server's answer for model 'gpt-5.2'")


def test_openai_odd_usage_blocks_do_not_lose_the_reply(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    usage = {"prompt_tokens": "12", "completion_tokens": -1, "completion_tokens_details": [3]}
    message = {"role": "assistant", "content": "FINAL ANSWER: yes"}
    server.push(Step(answer=json.dumps({"choices": [{"message": message}], "usage": usage})))
    with _openai(server) as agent:
        reply = agent.act(_conversation())
    assert (reply.text, reply.record.input_tokens, reply.record.output_tokens) == ("FINAL ANSWER: yes", 0, 0)
    assert reply.record.error is None


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Step(status=429), "RateLimitError (HTTP 429)"),
        (Step(status=500), "InternalServerError (HTTP 500)"),
        (Step(status=503), "InternalServerError (HTTP 503)"),
        (Step(delay_s=2.0), "APITimeoutError"),
    ],
    ids=["rate-limit", "server-error", "unavailable", "timeout"],
)
def test_openai_retries_transient_failures(
    server: FakeModelServer, api_keys: dict[str, str], failure: Step, expected: str
) -> None:
    server.push(failure, Step(text="recovered"))
    with _openai(server, timeout_s=0.3) as agent:
        reply = agent.act(_conversation())
    assert reply.text == "recovered"
    assert (reply.record.retries, reply.record.error) == (1, None)
    (failed,) = reply.record.extra["failed_attempts"]
    assert failed.startswith(expected)
    assert len(server.received) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_openai_does_not_retry_client_errors(server: FakeModelServer, api_keys: dict[str, str], status: int) -> None:
    server.push(Step(status=status), Step(text="never sent"))
    with _openai(server) as agent:
        reply = agent.act(_conversation())
    assert reply.text == ""
    assert reply.record.retries == 0
    assert f"(HTTP {status})" in (reply.record.error or "")
    assert len(server.received) == 1


def test_openai_gives_up_after_max_retries(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.default = Step(status=500)
    with _openai(server, max_retries=2) as agent:
        reply = agent.act(_conversation())
    assert (reply.text, reply.record.retries, len(server.received)) == ("", 2, 3)
    assert (reply.record.error or "").endswith("(gave up after 2 retries)")
    assert len(reply.record.extra["failed_attempts"]) == 3


def test_retry_after_is_honoured(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.push(Step(status=429, headers={"retry-after": "0.75"}), Step(text="ok"))
    sleeps: list[float] = []
    config = resolve_model_config("gpt-5.2", overrides={"base_url": server.url, "backoff_initial_s": 0.001})
    with ModelAgent(config, build_client(config), sleep=sleeps.append) as agent:
        assert agent.act(_conversation()).text == "ok"
    assert sleeps == [0.75]


def test_compat_servers_get_the_empty_key_and_max_tokens(
    server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with make_model_agent(f"compat:served-model@{server.url}", overrides={"max_tokens": 64}) as agent:
        agent.act(_conversation())
    (received,) = server.received
    assert received.headers["authorization"] == "Bearer EMPTY"
    assert (received.body["model"], received.body["max_tokens"]) == ("served-model", 64)
    assert "max_completion_tokens" not in received.body and "temperature" not in received.body


def test_extra_body_and_history_limits_reach_the_request(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    conversation = [*_conversation(), Message("assistant", "again"), Message("user", "A table.")]
    extra = {"chat_template_kwargs": {"enable_thinking": False}}
    with _openai(server, history_turns=1, extra_body=extra) as agent:
        agent.act(conversation)
    body = server.received[0].body
    assert [m["content"] for m in body["messages"]][-1] == "A table."
    assert len(body["messages"]) == 4  # system, first exchange, last user message
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_cache_replays_finished_calls(server: FakeModelServer, api_keys: dict[str, str], tmp_path: Path) -> None:
    server.push(Step(text="first answer", reasoning_tokens=2))
    with _openai(server, cache_dir=str(tmp_path)) as agent:
        live = agent.act(_conversation())
    with _openai(server, cache_dir=str(tmp_path)) as agent:
        replayed = agent.act(_conversation())
        changed = agent.act(_conversation()[:2])
    assert len(server.received) == 2  # the replay sent nothing; the changed conversation did
    assert (replayed.text, replayed.record.cached) == ("first answer", True)
    assert (replayed.record.input_tokens, replayed.record.reasoning_tokens) == (live.record.input_tokens, 2)
    assert not changed.record.cached
    with _openai(server, cache_dir=str(tmp_path), temperature=0.5) as agent:
        agent.act(_conversation())
    assert len(server.received) == 3  # a different setting is a different request


def test_failed_calls_are_not_cached(server: FakeModelServer, api_keys: dict[str, str], tmp_path: Path) -> None:
    server.push(Step(status=400))
    with _openai(server, cache_dir=str(tmp_path)) as agent:
        assert agent.act(_conversation()).record.error is not None
        assert agent.act(_conversation()).text == Step().text
    assert len(server.received) == 2


def test_keys_never_reach_records_cache_or_logs(
    server: FakeModelServer, api_keys: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.push(Step(status=401, error_message="Incorrect API key provided: {authorization}"), Step(text="fine"))
    caplog.set_level(logging.DEBUG)
    with _openai(server, cache_dir=str(tmp_path)) as agent:
        failed = agent.act(_conversation())
        succeeded = agent.act(_conversation())
        stored = [p.read_text() for p in tmp_path.rglob("*.json")]
        config_json = str(agent.config.to_dict())
    assert "Bearer ***" in (failed.record.error or "")  # the server did echo it back
    key = api_keys["openai"]
    for text in [str(failed.record.to_dict()), str(succeeded.record.to_dict()), *stored, config_json, caplog.text]:
        assert key not in text
    assert stored  # the successful call was cached, so the scan above looked at a real entry


# ==== Anthropic Messages ====


def test_anthropic_request_has_system_thinking_and_image_blocks(
    server: FakeModelServer, api_keys: dict[str, str]
) -> None:
    server.push(Step(text="THINK: a FINAL ANSWER: Actions: [Observe()]", thinking="let me think"))
    image = np.full((20, 30, 3), 128, dtype=np.uint8)
    conversation = [Message("system", "You explore rooms."), Message("user", "look <image> now", (image,))]
    with _anthropic(server) as agent:
        reply = agent.act(conversation)
    (received,) = server.received
    assert received.path == "/v1/messages"
    # This SDK version sends the key as a bearer token; older ones used the x-api-key header.
    credential = received.headers.get("x-api-key") or received.headers["authorization"].removeprefix("Bearer ")
    assert credential == api_keys["anthropic"]
    body = received.body
    assert body["system"] == "You explore rooms."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 30000}
    assert (body["max_tokens"], body["temperature"]) == (32768, 1.0)
    blocks = body["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image", "text"]
    source = blocks[1]["source"]
    assert (source["type"], source["media_type"]) == ("base64", "image/jpeg")
    assert _decode(source["data"]).shape == (20, 30, 3)
    assert reply.text == "THINK: a FINAL ANSWER: Actions: [Observe()]"  # thinking stays out of the reply
    assert reply.record.extra["thinking"] == "let me think"


@pytest.mark.parametrize(("max_tokens", "streamed"), [(32768, True), (2048, False)])
def test_anthropic_streams_long_outputs(
    server: FakeModelServer, api_keys: dict[str, str], max_tokens: int, streamed: bool
) -> None:
    server.push(Step(text="a streamed reply", thinking="hmm"))
    with _anthropic(server, max_tokens=max_tokens, thinking_budget=1024) as agent:
        reply = agent.act(_conversation())
    assert server.received[0].body.get("stream", False) is streamed
    assert (reply.text, reply.record.extra["thinking"], reply.record.extra["streamed"]) == (
        "a streamed reply",
        "hmm",
        streamed,
    )
    assert (reply.record.input_tokens, reply.record.output_tokens) == (count_tokens(server.received[0].body), 3)


def test_anthropic_usage_and_cost(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.push(Step(text="four words of reply"))
    with _anthropic(server) as agent:
        record = agent.act(_conversation()).record
    input_tokens = count_tokens(server.received[0].body)
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (input_tokens, 4, None)
    assert record.cost_usd == pytest.approx((input_tokens * 3.0 + 4 * 15.0) / 1e6)


@pytest.mark.parametrize(("status", "retried"), [(529, True), (429, True), (500, True), (401, False), (400, False)])
def test_anthropic_retry_classification(
    server: FakeModelServer, api_keys: dict[str, str], status: int, retried: bool
) -> None:
    server.push(Step(status=status), Step(text="second"))
    with _anthropic(server) as agent:
        reply = agent.act(_conversation())
    assert len(server.received) == (2 if retried else 1)
    assert reply.text == ("second" if retried else "")
    assert reply.record.retries == int(retried)


def test_anthropic_keys_are_scrubbed_from_errors(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    # The server echoes the key back in its error text; the SDK's wording around it changes between
    # versions, so the test checks the property: the failure is recorded, and no recorded text holds the key.
    server.push(Step(status=401, error_message="invalid x-api-key {authorization}"))
    with _anthropic(server) as agent:
        reply = agent.act(_conversation())
    assert reply.record.error and "401" in reply.record.error
    assert api_keys["anthropic"] not in json.dumps(reply.record.to_dict()) + reply.text
