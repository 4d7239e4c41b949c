import json

import gymnasium as gym

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
