"""Belief-inertia pairs from scripted false-belief episodes played in the env."""

from __future__ import annotations

import json

import gymnasium as gym

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.false_belief import FalseBeliefAgent
from theory_of_space.probes.false_belief_requests import build_false_belief_requests, false_belief_episode
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.inertia import inertia_episode, write_inertia_episodes
from theory_of_space.steering.inertia import build_inertia_pairs, pairs_from_episodes
from theory_of_space.world.generate import generate_scene

FB_ID = "TheoryOfSpace/Explore-FalseBelief-v0"


def _play(seed: int):
    env = gym.make(FB_ID, reward="none")
    scene = generate_scene(seed)
    env.reset(options={"scene": scene})
    changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
    agent = FalseBeliefAgent("updating", scene, changed, changes)
    return scene, false_belief_episode(run_episode(env, agent, options={"scene": scene}), changed)


def test_pairs_from_a_scripted_episode_carry_the_right_old_and_new_values(tmp_path):
    scene, episode = _play(2)
    record = inertia_episode(episode, seed=2)
    pairs = pairs_from_episodes([record])
    assert pairs, "the scripted agent re-observes changed objects"
    changes = {c.name: c for c in episode.changes}
    start = scene.start.cell
    probed = {t.turn for t in episode.turns}
    for pair in pairs:
        change = changes[pair.object]
        assert pair.turn == episode.first_seen[pair.object] and pair.turn in probed
        new = [change.cell_to[0] - start[0], change.cell_to[1] - start[1]]
        old = [change.cell_from[0] - start[0], change.cell_from[1] - start[1]]
        assert pair.new["position"] == new and pair.old["position"] == old
        if change.kind == "rotate":
            assert (pair.old["facing"], pair.new["facing"]) == (change.facing_from.label, change.facing_to.label)
            assert json.loads(pair.positive)[pair.object]["facing"] == change.facing_to.label
        else:
            assert json.loads(pair.negative)[pair.object]["position"] == old
    # The prompt is exactly what that turn's global_fb probe sees, before the probe question.
    fb_requests = {r.turn: r for r in build_false_belief_requests(episode) if r.kind == "global_fb"}
    for pair in pairs_from_episodes([record], probe="global_fb"):
        request = fb_requests[pair.turn]
        assert pair.prompt == [{"role": m.role, "content": m.content} for m in request.messages]
    path = write_inertia_episodes([record], tmp_path)
    assert build_inertia_pairs(tmp_path) == pairs and path.name == "inertia_episodes.jsonl"
