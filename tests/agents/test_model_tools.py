"""The API agents' tools mode: the action schemas go out, the model's calls come back as the action,
through the real openai and anthropic SDKs against the local fake server."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest
from fake_servers import FAST_RETRIES, FakeModelServer, Step

import theory_of_space as tos
from theory_of_space.agents.clients.tool_calls import TOOL_RESULT_NOTE
from theory_of_space.agents.config import resolve_model_config
from theory_of_space.agents.model_agent import ModelAgent, make_model_agent
from theory_of_space.env.tools import tool_specs
from theory_of_space.runner.episode import run_episode

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytestmark = pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated:DeprecationWarning")

OBSERVE = ({"name": "Observe", "arguments": {}},)
TURN_AND_LOOK = ({"name": "Rotate", "arguments": {"degrees": 90}}, {"name": "Observe", "arguments": {}})
SCRIPT = [
    Step(text="THINK: look first", tool_calls=OBSERVE),
    Step(text="THINK: turn right", tool_calls=TURN_AND_LOOK),
    Step(text="THINK: I will just talk"),  # no call: an invalid turn
    Step(text="", tool_calls=({"name": "Term", "arguments": {}},)),
]


def _agent(provider: str, server: FakeModelServer, **overrides: Any) -> ModelAgent:
    if provider == "openai":
        return make_model_agent(
            "gpt-5.2", overrides={"base_url": server.url, "action_format": "tools", **FAST_RETRIES, **overrides}
        )
    return make_model_agent(
        "claude-sonnet-4.5",
        overrides={"base_url": server.root_url, "action_format": "tools", **FAST_RETRIES, **overrides},
    )


def _env() -> gym.Env:
    return gym.make("TheoryOfSpace/Explore-v0", n_rooms=2, max_exp_steps=6, action_format="tools")


@pytest.mark.parametrize(
    ("provider", "overrides"),
    [("openai", {}), ("anthropic", {"stream": "false"}), ("anthropic", {"stream": "true"})],
    ids=["openai", "anthropic", "anthropic-streamed"],
)
def test_a_tool_calling_model_explores_through_its_calls(
    provider: str, overrides: dict[str, Any], server: FakeModelServer, api_keys: dict[str, str]
) -> None:
    server.push(*SCRIPT)
    scene = tos.generate_scene(seed=3, n_rooms=2)
    with _agent(provider, server, **overrides) as agent:
        result = run_episode(_env(), agent, options={"scene": scene})
    assert result.action_format == "tools" and result.to_dict()["action_format"] == "tools"
    assert [t.valid for t in result.turns] == [True, True, False, True]
    assert result.terminated and result.turns[2].info["invalid_reason"] == "no_action_list"
    assert [t.actions for t in result.turns] == [["Observe()"], ["Rotate(90)", "Observe()"], [], ["Term()"]]
    # the transcript records the calls as the model made them
    second = result.turns[1].to_dict()
    assert [call["name"] for call in second["tool_calls"]] == ["Rotate", "Observe"]
    assert second["reply"] == "THINK: turn right"
    assert json.loads(json.dumps(result.to_dict()))["turns"][0]["tool_calls"][0]["name"] == "Observe"

    # every request offered the five action tools
    names = [s["name"] for s in tool_specs()]
    for received in server.received:
        tools = received.body["tools"]
        offered = [t["function"]["name"] for t in tools] if provider == "openai" else [t["name"] for t in tools]
        assert offered == names
    # and every earlier call was answered before the env's next message
    last = server.received[-1].body["messages"]
    if provider == "openai":
        roles = [m["role"] for m in last]
        first, second = ["assistant", "tool", "user"], ["assistant", "tool", "tool", "user"]
        assert roles == ["system", "user", *first, *second, "assistant", "user"]
        assert [m["tool_call_id"] for m in last if m["role"] == "tool"] == ["call_0", "call_0", "call_1"]
        assert last[5]["tool_calls"][0]["function"] == {"name": "Rotate", "arguments": '{"degrees": 90}'}
        assert last[3]["content"] == TOOL_RESULT_NOTE
        assert last[8]["content"] == result.messages[5].content  # the env's answer follows the results
    else:
        assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
        uses = [b for b in last[3]["content"] if b["type"] == "tool_use"]
        assert [(u["name"], u["input"]) for u in uses] == [("Rotate", {"degrees": 90}), ("Observe", {})]
        results = [b for b in last[4]["content"] if b["type"] == "tool_result"]
        assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
        assert last[4]["content"][-1] == {"type": "text", "text": result.messages[5].content}


def test_tool_calls_survive_the_response_cache(server: FakeModelServer, api_keys: dict[str, str], tmp_path) -> None:
    server.push(Step(text="THINK: turn", tool_calls=TURN_AND_LOOK))
    messages = [tos.agents.base.Message("system", "s"), tos.agents.base.Message("user", "Begin.")]
    with _agent("openai", server, cache_dir=str(tmp_path)) as agent:
        first = agent.act(messages)
        again = agent.act(messages)
    assert len(server.received) == 1 and again.record.cached
    assert again.tool_calls == first.tool_calls
    assert [(c["name"], json.loads(c["arguments"])) for c in first.tool_calls] == [
        ("Rotate", {"degrees": 90}),
        ("Observe", {}),
    ]


def test_set_tools_changes_what_is_offered(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    with _agent("anthropic", server, stream="false") as agent:
        agent.set_tools(tool_specs(false_belief=True))
        agent.act([tos.agents.base.Message("user", "Begin.")])
    (term,) = [t for t in server.received[0].body["tools"] if t["name"] == "Term"]
    assert term["input_schema"]["required"] == ["changes"]
    with (
        make_model_agent("gpt-5.2", overrides={"base_url": server.url}) as text_agent,
        pytest.raises(ValueError, match="action_format='tools'"),
    ):
        text_agent.set_tools(tool_specs())


def test_text_mode_sends_no_tools(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    with make_model_agent("gpt-5.2", overrides={"base_url": server.url}) as agent:
        reply = agent.act([tos.agents.base.Message("user", "Begin.")])
    assert "tools" not in server.received[0].body and reply.tool_calls == ()


def test_action_format_is_validated() -> None:
    with pytest.raises(ValueError, match="`action_format`"):
        resolve_model_config("gpt-5.2", overrides={"action_format": "json"})
    with pytest.raises(ValueError, match="needs an API provider"):
        resolve_model_config("hf:some/model", overrides={"action_format": "tools"})


def test_an_agent_and_an_env_of_different_action_formats_are_refused(
    server: FakeModelServer, api_keys: dict[str, str]
) -> None:
    with _agent("openai", server) as agent, pytest.raises(ValueError, match="action_format='tools'"):
        run_episode(gym.make("TheoryOfSpace/Explore-v0", n_rooms=2), agent, seed=0)
    assert server.received == []


def test_tos_explore_runs_a_tools_model_in_a_tools_env(
    server: FakeModelServer, api_keys: dict[str, str], tmp_path, capsys
) -> None:
    from theory_of_space.cli import main

    server.push(*SCRIPT)
    out = tmp_path / "episode.json"
    argv = ["explore", "--agent", "gpt-5.2", "--rooms", "2", "--max-steps", "4", "--json", str(out)]
    argv += ["--set", f"base_url={server.url}", "--set", "action_format=tools", "--set", "backoff_initial_s=0.001"]
    assert main(argv) == 0
    transcript = json.loads(out.read_text())
    assert transcript["action_format"] == "tools"
    assert [t["valid"] for t in transcript["turns"]] == [True, True, False, True]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_calling_model_reports_changes_through_the_false_belief_term(
    provider: str, server: FakeModelServer, api_keys: dict[str, str]
) -> None:
    scene = tos.generate_scene(seed=3, n_rooms=2)
    env = gym.make("TheoryOfSpace/Explore-FalseBelief-v0", n_rooms=2, max_exp_steps=6, action_format="tools")
    _, _ = env.reset(options={"scene": scene})
    changed = [change.name for change in env.unwrapped.false_belief_changes]
    report = ", ".join(
        f"{name}: {'position' if c.kind == 'move' else 'orientation'}"
        for name, c in zip(changed, env.unwrapped.false_belief_changes)
    )
    server.push(
        Step(text="", tool_calls=OBSERVE),
        Step(text="", tool_calls=({"name": "Term", "arguments": {}},)),  # ends exploration
        Step(text="", tool_calls=OBSERVE),
        Step(text="", tool_calls=({"name": "Term", "arguments": {"changes": report}},)),
    )
    with _agent(provider, server) as agent:
        result = run_episode(env, agent, options={"scene": scene})
    assert [t.valid for t in result.turns] == [True, True, True, True]
    assert result.terminated and result.turns[-1].info["false_belief"]["f1_overall"] == 1.0
    # the phase's requests offer the Term tool that takes the change list
    term = next(s for s in tool_specs(false_belief=True) if s["name"] == "Term")
    last = server.received[-1].body["tools"]
    offered = [t["function"] if provider == "openai" else t for t in last]
    term_sent = next(t for t in offered if t["name"] == "Term")
    params = term_sent["parameters"] if provider == "openai" else term_sent["input_schema"]
    assert params == term["parameters"]
    assert "changes" in params["required"]
