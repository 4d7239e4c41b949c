"""Text-mode steps per second and reset time of our env against MiniGrid's MultiRoom, in one run.

Both envs take random actions and reset when an episode ends; both are built with ``gym.make`` (the
default wrapper stack). Ours gets random reply texts of the benchmark grammar, MiniGrid random
discrete actions with its symbolic observation. After a warm-up, short timed chunks of each env are
interleaved over several rounds so that load from other processes hits all alike; the script prints
median steps per second, reset times and the median ratio ours / MiniGrid.

    python benchmarks/env_speed.py [--steps 4000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import gymnasium as gym
import numpy as np

import theory_of_space  # noqa: F401  (registers our ids)

MINIGRID_ID = "MiniGrid-MultiRoom-N4-S5-v0"
OUR_ID = "TheoryOfSpace/Explore-v0"
REPLIES = (
    "THINK: look ahead\nFINAL ANSWER: Actions: [Observe()]",
    "THINK: turn\nFINAL ANSWER: Actions: [Rotate(90), Observe()]",
    "THINK: turn back\nFINAL ANSWER: Actions: [Rotate(-90), Observe()]",
    "THINK: go\nFINAL ANSWER: Actions: [JumpTo(blue door), Rotate(180), Observe()]",
    "THINK: ask\nFINAL ANSWER: Actions: [Query(lamp)]",
    "I am not sure what to do.",
)


class _Runner:
    """Steps one env through a fixed action list, resetting when an episode ends, and times chunks."""

    def __init__(self, env: gym.Env, actions: list) -> None:
        self.env, self.actions, self.i = env, actions, 0
        env.reset(seed=0)

    def steps_per_second(self, n_steps: int) -> float:
        env, actions = self.env, self.actions
        start = time.perf_counter()
        for _ in range(n_steps):
            _, _, terminated, truncated, _ = env.step(actions[self.i % len(actions)])
            self.i += 1
            if terminated or truncated:
                env.reset()
        return n_steps / (time.perf_counter() - start)


def reset_ms(env: gym.Env, n: int) -> float:
    start = time.perf_counter()
    for seed in range(n):
        env.reset(seed=seed)
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="steps per timed chunk")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported")
    parser.add_argument("--resets", type=int, default=500)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import minigrid  # noqa: F401  (registers MiniGrid's ids)

    rng = np.random.default_rng(0)
    minigrid_env = gym.make(MINIGRID_ID)
    runners = {
        "minigrid": _Runner(minigrid_env, [int(a) for a in rng.integers(0, minigrid_env.action_space.n, size=4096)]),
    }
    replies = [REPLIES[int(i)] for i in rng.integers(0, len(REPLIES), size=4096)]
    for reward in ("none", "info_gain"):
        runners[reward] = _Runner(gym.make(OUR_ID, reward=reward), replies)
    for runner in runners.values():  # warm-up: caches, lazily built tables, allocator
        runner.steps_per_second(args.steps)
    # Interleave short chunks so that load from other processes hits every env alike; report medians.
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, runner in runners.items():
            rates[name].append(runner.steps_per_second(args.steps))
    mg = statistics.median(rates["minigrid"])
    print(f"{MINIGRID_ID} (symbolic obs): {mg:8.0f} steps/s, reset {reset_ms(minigrid_env, args.resets):.3f} ms")
    for reward in ("none", "info_gain"):
        ratio = statistics.median(r / m for r, m in zip(rates[reward], rates["minigrid"]))
        reset = reset_ms(runners[reward].env, args.resets)
        target = "  (targets: ratio >= 1, reset < 5 ms)" if reward == "none" else ""
        print(
            f"{OUR_ID} text, reward={reward!r:12}: {statistics.median(rates[reward]):8.0f} steps/s, "
            f"reset {reset:.3f} ms, ratio ours/MiniGrid = {ratio:.2f}{target}"
        )


if __name__ == "__main__":
    main()
