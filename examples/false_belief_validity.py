"""The two scripted false-belief agents on generated scenes: belief inertia at both ends of the scale.

``updating`` re-explores and writes maps with the new state; ``inertial`` re-explores the same way but
keeps writing its exploration-phase map. A believable inertia metric puts the first near 0 and the
second near 1, with the same identification F1 (both report every change they saw).

Run from the repository root:

    python examples/false_belief_validity.py --scenes 100
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import theory_of_space  # noqa: F401  (registers the env ids)
from theory_of_space.agents.false_belief import FALSE_BELIEF_AGENTS, FalseBeliefAgent
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import false_belief_episode, run_false_belief_probes
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene

FIGURES = ("f1_pos", "f1_ori", "f1_overall", "correctness_pos", "correctness_ori", "inertia_pos", "inertia_ori")


def evaluate(mode: str, n_scenes: int, *, inertia_skip_exact: bool) -> dict:
    env = gym.make("TheoryOfSpace/Explore-FalseBelief-v0", reward="none")
    samples = []
    for seed in range(n_scenes):
        scene = generate_scene(seed)
        env.reset(options={"scene": scene})
        explore_env = env.unwrapped
        changed, changes = explore_env.false_belief_scene, explore_env.false_belief_changes
        agent = FalseBeliefAgent(mode, scene, changed, changes)
        result = run_episode(env, agent, options={"scene": scene})
        record = run_false_belief_probes(false_belief_episode(result, changed), agent.answer_probe, in_flight=1)
        probes = record.score(inertia_skip_exact=inertia_skip_exact)
        samples.append({"identification": record.identification, "probes": probes})
    return summarise_false_belief(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100, help="generated scenes, seeds 0..N-1 (default 100)")
    args = parser.parse_args()
    print(f"{'agent':10s} {'exact':7s} " + " ".join(f"{f:>15s}" for f in FIGURES) + "  skipped")
    for mode in FALSE_BELIEF_AGENTS:
        for skip_exact in (True, False):
            summary = evaluate(mode, args.scenes, inertia_skip_exact=skip_exact)
            cells = " ".join(f"{'n/a' if summary[f] is None else format(summary[f], '.3f'):>15s}" for f in FIGURES)
            print(f"{mode:10s} {'skip' if skip_exact else 'as 0':7s} {cells}  {summary['skipped']}")


if __name__ == "__main__":
    main()
