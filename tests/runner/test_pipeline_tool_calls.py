"""``tos run`` with a model that acts through tool calls (``action_format = "tools"``): the pipeline makes
its envs in the model's format, stores the calls, and a resumed run replays them, through the real openai
SDK against the local fake server."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

from tests.agents.fake_servers import FAST_RETRIES, FakeModelServer, Step
from theory_of_space.agents.base import Message
from theory_of_space.agents.model_agent import make_model_agent
from theory_of_space.env.tools import tool_specs
from theory_of_space.runner.evaluate import EVALUATION_FILE, SceneEvaluation
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.false_belief_phase import (
    FALSE_BELIEF_RECORD_FILE,
    false_belief_turn_key,
    stored_false_belief_episode,
)
from theory_of_space.runner.phases import ReplayAgent, episode_settings, explore_turn_key
from theory_of_space.runner.pipeline import run_experiment
from theory_of_space.runner.store import EpisodeStore
from theory_of_space.world.generate import generate_scene

pytest.importorskip("openai")

OBSERVE = Step(text="THINK: look first", tool_calls=({"name": "Observe", "arguments": {}},))
TURN_AND_LOOK = Step(
    text="THINK: turn right",
    tool_calls=({"name": "Rotate", "arguments": {"degrees": 90}}, {"name": "Observe", "arguments": {}}),
)
TERM = Step(text="", tool_calls=({"name": "Term", "arguments": {}},))
ANSWER = Step(text="THINK: from what I saw\nFINAL ANSWER: A")
"""The text answer of every question and map request (the server's default once the script is used up)."""


@pytest.fixture
def server():
    with FakeModelServer(default=ANSWER) as fake:
        yield fake


def _experiment(tmp_path: Path, server: FakeModelServer, **changes) -> Experiment:
    settings = {"action_format": "tools", "max_retries": "0", **{k: str(v) for k, v in FAST_RETRIES.items()}}
    values = {"agents": (f"compat:tool-model@{server.url}",), "scenes": "0:1", "rooms": 2, "phases": ("explore",),
              "out": str(tmp_path / "run"), "max_exp_steps": 6, "n_per_task": 1, "in_flight": 2,
              "overrides": tuple(settings.items())}
    values.update(changes)
    return Experiment(**values)


def _folder(root: Path) -> Path:
    (path,) = root.rglob("explore.jsonl")
    return path.parent


def test_a_tool_calling_model_explores_and_a_resumed_run_replays_its_calls(tmp_path, server):
    server.push(OBSERVE, TURN_AND_LOOK, OBSERVE, TERM)
    outcome = run_experiment(_experiment(tmp_path, server))
    assert outcome.done == 1 and not outcome.errors
    folder = _folder(outcome.root)
    store = EpisodeStore(folder)
    turns = [store.get("explore", explore_turn_key(i)) for i in range(1, 5)]
    assert [t["valid"] for t in turns] == [True] * 4
    assert [t["actions"] for t in turns] == [["Observe()"], ["Rotate(90)", "Observe()"], ["Observe()"], ["Term()"]]
    assert [c["name"] for c in turns[1]["call"]["extra"]["tool_calls"]] == ["Rotate", "Observe"]
    assert all("tools" in r.body for r in server.received)
    messages = (folder / "messages.json").read_text()
    assert json.loads(messages)[4]["tool_calls"][0]["name"] == "Rotate"
    record = SceneEvaluation.from_dict(json.loads((folder / EVALUATION_FILE).read_text()))
    assert record.conversation[4].tool_calls == tuple(turns[1]["call"]["extra"]["tool_calls"])

    store.drop("explore", [explore_turn_key(3), explore_turn_key(4)])
    server.push(OBSERVE, TERM)
    again = run_experiment(_experiment(tmp_path, server))
    assert again.done == 1 and not again.errors
    # only the dropped turns are asked, with the same requests: the replayed turns kept their calls
    assert len(server.received) == 6
    assert [r.body for r in server.received[4:]] == [r.body for r in server.received[2:4]]
    assert (folder / "messages.json").read_text() == messages


def test_probes_and_questions_of_a_tool_calling_model_are_answered_in_text(tmp_path, server):
    server.push(OBSERVE, TURN_AND_LOOK, TERM)
    experiment = _experiment(tmp_path, server, phases=("explore", "probe", "evaluate"), tasks=("dir",))
    outcome = run_experiment(experiment)
    assert outcome.done == 1 and not outcome.errors
    store = EpisodeStore(_folder(outcome.root))
    # the probes replay the exploration through its calls: every valid turn is probed
    probed = {key.split("/")[1] for key in store.results("probe") if key.startswith("probe/")}
    assert probed == {"t01", "t02", "t03"}
    answers = list(store.results("evaluate").values())
    assert answers and all(a["reply"] == ANSWER.text and a["score"]["answer"] == "A" for a in answers)
    # every request offers the tools: the conversation holds tool calls, which Anthropic only takes with them
    later = server.received[3:]
    assert len(later) == len(store.results("probe")) + len(answers)
    assert all("tools" in r.body and any("tool_calls" in m for m in r.body["messages"]) for r in later)


def _false_belief_report(experiment: Experiment) -> str:
    """The change list of the episode's false-belief phase, as ``object: position|orientation`` pairs."""
    env = gym.make("TheoryOfSpace/Explore-FalseBelief-v0", max_exp_steps=experiment.max_exp_steps,
                   max_false_belief_steps=experiment.max_false_belief_steps, action_format="tools")
    env.reset(options={"scene": generate_scene(0, n_rooms=2)})
    changes = env.unwrapped.false_belief_changes
    return ", ".join(f"{c.name}: {'position' if c.kind == 'move' else 'orientation'}" for c in changes)


def test_a_tool_calling_model_plays_the_false_belief_phase_and_resumes_it(tmp_path, server):
    experiment = _experiment(tmp_path, server, phases=("explore", "false_belief"), max_false_belief_steps=4)
    report = Step(text="", tool_calls=({"name": "Term", "arguments": {"changes": _false_belief_report(experiment)}},))
    server.push(OBSERVE, TERM, OBSERVE, report)
    outcome = run_experiment(experiment)
    assert outcome.done == 1 and not outcome.errors
    folder = _folder(outcome.root)
    store = EpisodeStore(folder)
    phase = [store.get("false_belief", false_belief_turn_key(i)) for i in (1, 2)]
    assert [t["valid"] for t in phase] == [True, True]
    assert phase[1]["actions"][0].startswith("Term(changes=")
    record = json.loads((folder / FALSE_BELIEF_RECORD_FILE).read_text())
    assert record["identification"]["f1_overall"] == 1.0
    # the phase's turns offer the Term that takes the change list
    term = next(t["function"] for t in server.received[3].body["tools"] if t["function"]["name"] == "Term")
    assert term["parameters"]["required"] == ["changes"]
    settings = episode_settings(experiment, "text", "active")
    scene = generate_scene(0, n_rooms=2)
    played = stored_false_belief_episode(store, scene, settings, experiment.max_false_belief_steps)
    assert [m.to_dict() for m in played.messages][-2]["tool_calls"][0]["name"] == "Term"

    asked = len(server.received)
    store.drop("false_belief", [false_belief_turn_key(2)])
    server.push(report)
    again = run_experiment(experiment)
    assert again.done == 1 and not again.errors
    # the stored exploration and first phase turn are replayed with their calls; only the dropped turn is asked
    assert server.received[asked].body == server.received[3].body
    replayed = stored_false_belief_episode(EpisodeStore(folder), scene, settings, experiment.max_false_belief_steps)
    assert [m.to_dict() for m in replayed.messages] == [m.to_dict() for m in played.messages]


@pytest.mark.parametrize("provider", ["compat", "anthropic"])
def test_the_tools_of_one_episode_phase_leave_the_shared_model_unchanged(provider, server, monkeypatch):
    """Episodes in flight share one model: the false-belief Term of one must not reach the others' requests."""
    overrides = {"action_format": "tools", **FAST_RETRIES}
    if provider == "anthropic":
        pytest.importorskip("anthropic")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        spec, overrides = "claude-sonnet-4.5", {**overrides, "base_url": server.root_url, "stream": "false"}
    else:
        spec = f"compat:tool-model@{server.url}"
    with make_model_agent(spec, overrides=overrides) as model:
        in_phase, exploring = ReplayAgent(model, [], advance=False), ReplayAgent(model, [], advance=False)
        in_phase.set_tools(tool_specs(false_belief=True))
        for agent in (in_phase, exploring, model):
            agent.act([Message("user", "Begin.")])
    offered = [[t.get("function", t) for t in r.body["tools"]] for r in server.received]
    terms = [next(t for t in tools if t["name"] == "Term") for tools in offered]
    schemas = [t.get("parameters") or t.get("input_schema") for t in terms]
    assert [s["required"] for s in schemas] == [["changes"], [], []]
    with make_model_agent(f"compat:text-model@{server.url}") as text_model, pytest.raises(ValueError, match="tools"):
        text_model.act([Message("user", "Begin.")], tools=tool_specs())
