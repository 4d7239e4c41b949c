import statistics

import gymnasium as gym
import pytest

from theory_of_space.agents.base import Agent
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS, RandomAgent, strategist_plan
from theory_of_space.env.actions import Query
from theory_of_space.env.session import ExplorationSession
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene

N_SCENES = 100


def play(scene, name, **kwargs):
    env = gym.make("TheoryOfSpace/Explore-v0", reward="none", max_exp_steps=PROXY_MAX_EXP_STEPS, **kwargs)
    agent = make_agent(name, scene=scene, query_enabled=kwargs.get("query_enabled", True))
    return run_episode(env, agent, options={"scene": scene})


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(seed) for seed in range(N_SCENES)]


def test_scout_covers_every_node_of_100_scenes(scenes):
    results = [play(scene, "scout") for scene in scenes]
    assert all(r.metrics["node_coverage"] == 1.0 for r in results)
    assert all(r.terminated and r.metrics["invalid_steps"] == 0 for r in results)
    assert 8 <= statistics.mean(r.metrics["steps_excluding_term"] for r in results) <= 11


def test_strategist_pins_down_at_least_95_of_100_scenes(scenes):
    results = [play(scene, "strategist") for scene in scenes]
    assert sum(r.metrics["information_gain"] == 1.0 for r in results) >= 95
    assert all(r.metrics["action_failures"] == 0 and r.metrics["invalid_steps"] == 0 for r in results)


def test_scout_on_the_example_scene_uses_nine_observes(example_scene):
    result = play(example_scene, "scout")
    assert result.metrics["action_counts"]["observe"] == 9
    assert result.metrics["steps_excluding_term"] == 9


def test_strategist_without_query_never_queries_and_still_pins_the_example_down(example_scene):
    plan = strategist_plan(example_scene, query_enabled=False)
    assert not any(isinstance(action, Query) for turn in plan for action in turn)
    result = play(example_scene, "strategist", query_enabled=False)
    assert result.metrics["information_gain"] == 1.0


def test_proxies_are_pure_functions_of_the_scene():
    scene = generate_scene(17)
    assert strategist_plan(scene) == strategist_plan(generate_scene(17))
    session = ExplorationSession(scene, max_steps=PROXY_MAX_EXP_STEPS)
    for turn in strategist_plan(scene):
        outcome = session.play(list(turn))
        assert outcome.valid and not outcome.failed


def test_random_agent_is_seeded_and_speaks_the_protocol():
    scene = generate_scene(3)
    a, b = RandomAgent(scene, seed=5), RandomAgent(scene, seed=5)
    assert isinstance(a, Agent)
    replies = [a.act([]).text for _ in range(30)]
    assert replies == [b.act([]).text for _ in range(30)]
    assert replies != [RandomAgent(scene, seed=6).act([]).text for _ in range(30)]
    assert all(r.startswith("THINK:") and "FINAL ANSWER: Actions: [" in r for r in replies)


def test_factory_rejects_nothing_scripted_and_passes_the_rest_on():
    scene = generate_scene(0)
    assert make_agent("SCOUT", scene=scene).name == "scout"
    assert make_agent("random", scene=scene, seed=3).name == "random"
