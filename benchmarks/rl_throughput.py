"""Env-side cost per rollout step of the trainer adapters against the bare env step, in one run.

Every runner plays the same scripted episodes (SCOUT's turns on seeded 3-room scenes, cut to the
budget), so they do the same work in the world:

- ``bare env``: ``ExploreEnv.reset(seed=k)`` and ``step(reply_text)``, the peer;
- ``env, tools``: the same env with ``action_format="tools"``, stepped with tool-call lists;
- ``TRL adapter``: :class:`~theory_of_space.integrations.trl.ExplorationToolEnv`, ``reset(seed=k)`` then
  one method call per tool call (motions held, the final call plays the turn), then ``get_reward()``;
- ``MultiTurnTextEnv (1)`` and ``(8)``: ``reset(rows)`` and ``step(replies)``, one scene or eight side by side.

All use ``reward="info_gain"`` (the knowledge solver runs every step). Timed chunks of each runner are
interleaved over several rounds so that load from other processes hits all alike; the script prints
the median time per rollout step (resets included) and each runner's overhead over the bare env.

    python benchmarks/rl_throughput.py [--episodes 40] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from theory_of_space.agents.scripted import scout_agent
from theory_of_space.env.actions import parse_actions, split_reply
from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.env.tools import tool_calls_for
from theory_of_space.integrations.multiturn import MultiTurnTextEnv
from theory_of_space.integrations.trl import ExplorationToolEnv
from theory_of_space.world.generate import generate_scene

BUDGET = 20
N_ROOMS = 3


def scripted_episodes(n: int) -> list[tuple[int, list[str]]]:
    """SCOUT's replies for seeds ``0 .. n - 1``, at most ``BUDGET`` turns each."""
    episodes = []
    for seed in range(n):
        agent = scout_agent(generate_scene(seed, n_rooms=N_ROOMS))
        replies = []
        for _ in range(BUDGET):
            reply = agent.act([]).text
            replies.append(reply)
            if "Term()" in reply:
                break
        episodes.append((seed, replies))
    return episodes


def bare_runner(episodes: list[tuple[int, list[str]]]) -> Callable[[], int]:
    env = ExploreEnv(n_rooms=N_ROOMS, max_exp_steps=BUDGET)

    def run() -> int:
        steps = 0
        for seed, replies in episodes:
            env.reset(seed=seed)
            for reply in replies:
                env.step(reply)
            steps += len(replies)
        return steps

    return run


def tools_env_runner(episodes: list[tuple[int, list[str]]]) -> Callable[[], int]:
    env = ExploreEnv(n_rooms=N_ROOMS, max_exp_steps=BUDGET, action_format="tools")
    calls = [(seed, [tool_calls_for(parse_actions(split_reply(r)[1]).actions) for r in rs]) for seed, rs in episodes]

    def run() -> int:
        steps = 0
        for seed, turns in calls:
            env.reset(seed=seed)
            for turn in turns:
                env.step(turn)
            steps += len(turns)
        return steps

    return run


def trl_runner(episodes: list[tuple[int, list[str]]]) -> Callable[[], int]:
    env = ExplorationToolEnv(env_options={"n_rooms": N_ROOMS, "max_exp_steps": BUDGET})
    calls = [(seed, [tool_calls_for(parse_actions(split_reply(r)[1]).actions) for r in rs]) for seed, rs in episodes]
    # bound methods looked up once, as TRL does when it builds its tool dict
    tools = {name: getattr(env, name) for name in ("JumpTo", "Rotate", "Observe", "Query", "Term")}

    def run() -> int:
        steps = 0
        for seed, turns in calls:
            env.reset(seed=seed, prompt=[])
            for turn in turns:
                for call in turn:
                    tools[call["name"]](**call["arguments"])
            env.get_reward()
            steps += len(turns)
        return steps

    return run


def multiturn_runner(episodes: list[tuple[int, list[str]]], n_envs: int) -> Callable[[], int]:
    env = MultiTurnTextEnv(n_envs, env_options={"n_rooms": N_ROOMS, "max_exp_steps": BUDGET})
    batches = [episodes[i : i + n_envs] for i in range(0, len(episodes) - n_envs + 1, n_envs)]

    def run() -> int:
        steps = 0
        for batch in batches:
            env.reset([{"seed": seed} for seed, _ in batch])
            for turn in range(max(len(replies) for _, replies in batch)):
                replies = [rs[turn] if turn < len(rs) else None for _, rs in batch]
                env.step(replies)
                steps += sum(reply is not None for reply in replies)
        return steps

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40, help="scripted episodes per timed chunk")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds; medians are reported")
    args = parser.parse_args()
    episodes = scripted_episodes(args.episodes)
    runners = {
        "bare env (text)": bare_runner(episodes),
        "env, tools": tools_env_runner(episodes),
        "TRL adapter": trl_runner(episodes),
        "MultiTurnTextEnv (1)": multiturn_runner(episodes, 1),
        "MultiTurnTextEnv (8)": multiturn_runner(episodes, 8),
    }
    for run in runners.values():  # warm-up: view caches, lazily built tables
        run()
    per_step: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            steps = run()
            per_step[name].append((time.perf_counter() - start) / steps * 1e6)
    bare = per_step["bare env (text)"]
    print(f"{len(episodes)} SCOUT episodes on {N_ROOMS}-room scenes, {sum(len(r) for _, r in episodes)} steps a round")
    for name, times in per_step.items():
        overhead = statistics.median(t / b - 1 for t, b in zip(times, bare))
        note = "" if name.startswith("bare") else f", overhead {overhead:+.1%} (target < 20%)"
        print(f"{name:22}: {statistics.median(times):8.1f} µs per rollout step{note}")


if __name__ == "__main__":
    main()
