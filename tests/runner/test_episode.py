import json

import gymnasium as gym

from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.agents.scripted import scout_agent
from theory_of_space.runner.episode import exploration_history, run_episode


def test_episode_transcript_alternates_and_serialises(example_scene):
    env = gym.make("TheoryOfSpace/Explore-v0")
    result = run_episode(env, scout_agent(example_scene), options={"scene": example_scene})
    roles = [m.role for m in result.messages]
    assert roles[:2] == ["system", "user"]
    assert roles[2:] == ["assistant", "user"] * len(result.turns)
    assert result.terminated and result.turns[-1].actions == ["Term()"]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["scene_id"] == example_scene.scene_id and len(data["turns"]) == len(result.turns)
    assert result.session.knowledge().information_gain() == result.metrics["information_gain"]


def test_passive_history_lines(example_scene):
    env = gym.make("TheoryOfSpace/Explore-v0")
    history = exploration_history(run_episode(env, scout_agent(example_scene), options={"scene": example_scene}))
    lines = [line for line in history.splitlines() if line[:1].isdigit()]
    assert lines[0] == "1. Actions: [Observe()]. You observe: "
    assert lines[1].startswith("2. Actions: [Rotate(90), Observe()]. You rotated clockwise 90°. You observe:")
    assert lines[-1] == "10. Actions: [Term()]. Exploration terminated."


def test_vision_episodes_carry_their_pictures_in_the_messages(example_scene):
    env = gym.make("TheoryOfSpace/Explore-Vision-v0", image_size=64)
    result = run_episode(env, scout_agent(example_scene), options={"scene": example_scene})
    first = result.messages[1]
    assert first.content.count("<image>") == len(first.images) == 2  # calibration image and reference sheet
    views = [m for m in result.messages[2:] if m.role == "user" and m.images]
    assert len(views) == result.metrics["action_counts"]["observe"]
    assert all(m.images[0].shape == (64, 64, 3) and m.content.count("<image>") == 1 for m in views)


class _ToolsAgent:
    """A tools-mode agent that records the tools it is offered before each request, then ends at once."""

    name = "tools"
    action_format = "tools"

    def __init__(self) -> None:
        self.tools: list[str] | None = ["Term(changes)"]  # left over from another episode's false-belief phase
        self.offered: list[list[str] | None] = []

    def set_tools(self, specs):
        self.tools = [spec["name"] for spec in specs]

    def act(self, messages):
        self.offered.append(self.tools)
        return AgentReply("", CallRecord(model="tools"), tool_calls=({"name": "Term", "arguments": {}},))


def test_a_tools_agent_is_offered_the_env_tools_from_its_first_request(example_scene):
    """A model shared by a run's episodes must not keep offering the tools of another episode's phase."""
    env = gym.make("TheoryOfSpace/Explore-v0", action_format="tools", query_enabled=False)
    agent = _ToolsAgent()
    result = run_episode(env, agent, options={"scene": example_scene})
    assert result.terminated and result.turns[0].valid
    assert agent.offered == [["JumpTo", "Rotate", "Observe", "Term"]]  # no Query: this env disables it
