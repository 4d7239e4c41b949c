"""Whole exploration episodes driven by model agents: API models on the fake server, tiny local models."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gymnasium as gym
import pytest
from fake_servers import FAST_RETRIES, FakeModelServer, Step

import theory_of_space as tos
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.model_agent import ModelAgent, make_model_agent
from theory_of_space.runner.episode import run_episode

SCOUT_LIKE = [
    "THINK: look\nFINAL ANSWER: Actions: [Observe()]",
    "THINK: turn\nFINAL ANSWER: Actions: [Rotate(90), Observe()]",
    "THINK: turn again\nFINAL ANSWER: Actions: [Rotate(180), Observe()]",
]


def _env(steps: int) -> gym.Env:
    return gym.make("TheoryOfSpace/Explore-v0", n_rooms=2, max_exp_steps=steps)


def test_an_openai_model_explores_a_whole_episode(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.push(*(Step(text=text, reasoning_tokens=5) for text in SCOUT_LIKE))
    scene = tos.generate_scene(seed=3, n_rooms=2)
    overrides = {"base_url": server.url, **FAST_RETRIES}
    agent = make_agent("gpt-5.2", scene=scene, overrides=overrides)
    assert isinstance(agent, ModelAgent)
    result = run_episode(_env(5), agent, options={"scene": scene})
    assert len(result.turns) == 5 and result.truncated
    assert [t.valid for t in result.turns] == [True] * 5
    assert [t.reply for t in result.turns[:3]] == SCOUT_LIKE
    assert all(t.record.input_tokens > 0 and t.record.reasoning_tokens in (5, None) for t in result.turns)
    # The model saw the whole conversation the runner built, env messages verbatim.
    last = server.received[-1].body["messages"]
    assert len(last) == 2 + 2 * 4
    assert [m["content"] for m in last] == [m.content for m in result.messages[: len(last)]]
    agent.close()


def test_failed_calls_become_invalid_steps(server: FakeModelServer, api_keys: dict[str, str]) -> None:
    server.push(Step(text=SCOUT_LIKE[0]), Step(status=400, error_message="context too long"))
    with make_model_agent("gpt-5.2", overrides={"base_url": server.url, **FAST_RETRIES}) as agent:
        result = run_episode(_env(3), agent, seed=0)
    first, second, third = result.turns
    assert (first.valid, second.valid, third.valid) == (True, False, True)
    assert second.reply == "" and "context too long" in (second.record.error or "")
    assert len(result.turns) == 3  # the episode went on


def test_the_in_flight_limit_holds_under_64_parallel_episodes(api_keys: dict[str, str]) -> None:
    limit = 8
    with FakeModelServer(default=Step(text=SCOUT_LIKE[1]), latency_s=0.01) as server:
        # One agent per episode, as the factory builds them: the limit is per model, not per agent.
        overrides = {"base_url": server.url, "max_concurrent": limit, **FAST_RETRIES}

        def episode(seed: int) -> list[bool]:
            with make_model_agent("openai:limit-test-model", overrides=overrides) as agent:
                return [t.valid for t in run_episode(_env(3), agent, seed=seed).turns]

        with ThreadPoolExecutor(max_workers=64) as pool:
            outcomes = list(pool.map(episode, range(64)))
    assert outcomes == [[True, True, True]] * 64
    assert len(server.received) == 64 * 3
    assert 1 < server.peak_in_flight <= limit


def test_an_interrupted_run_replays_from_the_cache(
    server: FakeModelServer, api_keys: dict[str, str], tmp_path: Path
) -> None:
    server.responder = lambda body: Step(text=SCOUT_LIKE[len(body["messages"]) // 2 % 3])
    overrides = {"base_url": server.url, "cache_dir": str(tmp_path), **FAST_RETRIES}
    with make_model_agent("gpt-5.2", overrides=overrides) as agent:
        first = run_episode(_env(4), agent, seed=1)
    requests = len(server.received)
    with make_model_agent("gpt-5.2", overrides=overrides) as agent:
        again = run_episode(_env(4), agent, seed=1)
    assert len(server.received) == requests  # nothing was sent the second time
    assert [t.reply for t in again.turns] == [t.reply for t in first.turns]
    assert all(t.record.cached for t in again.turns)
    assert again.metrics == first.metrics


def test_tos_explore_drives_a_model_from_a_config_entry(
    server: FakeModelServer, api_keys: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from theory_of_space.cli import main

    config = tmp_path / "models.toml"
    config.write_text(f'[models.fake]\nprovider = "compat"\nmodel = "served"\nbase_url = "{server.url}"\n')
    transcript = tmp_path / "episode.json"
    argv = ["explore", "--agent", "fake", "--model-config", str(config), "--max-steps", "2", "--rooms", "2"]
    assert main([*argv, "--json", str(transcript), "--set", "temperature=0.25"]) == 0
    assert len(server.received) == 2
    assert server.received[0].body["model"] == "served"
    assert server.received[0].body["temperature"] == 0.25
    assert '"agent": "fake"' in transcript.read_text()


def test_tos_explore_exits_non_zero_when_every_model_call_failed(
    server: FakeModelServer, api_keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from theory_of_space.cli import main

    server.default = Step(status=401, error_message="no such key")
    spec = f"compat:served@{server.url}"
    assert main(["explore", "--agent", spec, "--max-steps", "3", "--rooms", "2"]) == 1
    assert "3 of 3 model calls failed" in capsys.readouterr().err


def test_tos_explore_exits_zero_when_some_calls_succeeded(
    server: FakeModelServer, api_keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from theory_of_space.cli import main

    server.push(Step(status=401, error_message="no such key"))
    assert main(["explore", "--agent", f"compat:served@{server.url}", "--max-steps", "3", "--rooms", "2"]) == 0
    assert "1 of 3 model calls failed" in capsys.readouterr().err
