"""How much throughput the model harness loses to its own overhead.

A local OpenAI-compatible server (``tests/agents/fake_servers.py``, in its own process, as a real server
would be) answers every request after a fixed latency. Episodes of the exploration env run concurrently
in threads and share one model agent whose in-flight limit is ``--in-flight``. With zero overhead the run
would take ``requests * latency / in_flight`` seconds; the script prints the achieved fraction of that
ideal throughput (target: at least 0.9 for 64 episodes x 20 steps, 32 in flight, 50 ms).

Run: ``python benchmarks/harness_overhead.py [--episodes 64 --steps 20 --in-flight 32 --latency 0.05]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "agents"))

from fake_servers import FakeModelServer, Step  # noqa: E402

REPLY = "THINK: turn and look.\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"


def _serve(latency_s: float, channel: Connection) -> None:
    """Server process: report the URL, serve until told to stop."""
    with FakeModelServer(default=Step(text=REPLY), latency_s=latency_s) as server:
        channel.send(server.url)
        channel.recv()


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--reward", default="info_gain", help="env reward (info_gain runs the solver every step)")
    args = parser.parse_args(argv)

    import gymnasium as gym

    import theory_of_space  # noqa: F401  (registers the env)
    from theory_of_space.agents.base import Message
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.episode import run_episode

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(args.latency, theirs), daemon=True)
    server.start()
    url = ours.recv()
    overrides = {"max_concurrent": args.in_flight, "max_tokens": 512, "max_retries": 0}
    agent = make_model_agent(f"compat:harness-bench@{url}", overrides=overrides)

    # Building envs is setup, not harness work; resetting and stepping them is timed.
    envs = [
        gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=args.steps, reward=args.reward) for _ in range(args.episodes)
    ]

    def episode(seed: int) -> int:
        result = run_episode(envs[seed], agent, seed=seed)
        failed = [t.record.error for t in result.turns if t.record.error]
        if failed:
            raise RuntimeError(f"episode {seed}: {len(failed)} failed calls, e.g. {failed[0]}")
        return len(result.turns)

    agent.act([Message("user", "warm up")])  # not timed: opens a connection and loads the SDK's lazy parts
    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(max_workers=args.episodes) as pool:
        requests = sum(pool.map(episode, range(args.episodes)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    agent.close()
    ours.send("stop")
    server.join(timeout=10)

    ideal = requests * args.latency / args.in_flight
    fraction = ideal / elapsed
    print(
        f"{args.episodes} episodes x {args.steps} steps = {requests} requests, {args.in_flight} in flight, "
        f"{args.latency * 1000:.0f} ms server latency"
    )
    print(f"ideal {ideal:.2f} s, achieved {elapsed:.2f} s (harness CPU {cpu / requests * 1000:.2f} ms/request)")
    print(f"throughput: {fraction:.3f} of ideal (target >= 0.9)")
    return fraction


if __name__ == "__main__":
    main()
