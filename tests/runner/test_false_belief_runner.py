import gymnasium as gym
import pytest

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.false_belief import FalseBeliefAgent
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.false_belief import false_belief_episode, score_map_writer
from theory_of_space.world.generate import generate_scene


def _evaluate(mode, seeds, **options):
    env = gym.make("TheoryOfSpace/Explore-FalseBelief-v0", reward="none")
    samples = []
    for seed in seeds:
        scene = generate_scene(seed)
        env.reset(options={"scene": scene})
        changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
        agent = FalseBeliefAgent(mode, scene, changed, changes)
        episode = false_belief_episode(run_episode(env, agent, options={"scene": scene}), changed)

        def write(turn, episode=episode, agent=agent):
            if turn is None:
                return agent.exploration_map(explored=episode.explored, pose=episode.exploration_pose)
            return agent.false_belief_map(explored=episode.explored, seen_again=turn.seen_again, pose=turn.pose)

        samples.append(
            {"identification": episode.identification, "probes": score_map_writer(episode, write, **options)}
        )
    return summarise_false_belief(samples)


def test_the_two_scripted_agents_sit_at_the_two_ends_of_the_scale():
    updating = _evaluate("updating", range(6), inertia_skip_exact=False)
    inertial = _evaluate("inertial", range(6))
    assert updating["f1_overall"] == inertial["f1_overall"] == 1.0
    assert updating["inertia_pos"] == 0.0 and updating["inertia_ori"] == 0.0
    assert inertial["inertia_pos"] == pytest.approx(1.0) and inertial["inertia_ori"] == 1.0
    assert updating["correctness"] == 1.0 and inertial["correctness_ori"] == 0.0
    assert inertial["unchanged_retention"] == 1.0


def test_an_episode_without_the_phase_is_refused():
    scene = generate_scene(0)
    env = gym.make("TheoryOfSpace/Explore-v0")
    result = run_episode(env, FalseBeliefAgent("updating", scene, scene, ()), options={"scene": scene})
    with pytest.raises(ValueError, match="no false-belief phase"):
        false_belief_episode(result, scene)
