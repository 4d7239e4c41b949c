"""How much throughput the model harness loses to its own overhead.

A lean local OpenAI-compatible server (``benchmarks/latency_server.py``, in its own process, as a real
server would be) answers every request after a fixed latency and spends next to no CPU of its own, so
the measured loss is the harness's (the test suite's recording fake server adds its own parsing time).
Episodes of the exploration env run through :func:`theory_of_space.runner.pool.run_episodes_threaded`
in one or more worker processes, each with its share of the in-flight limit; every episode's agent is a
real ``openai`` SDK client. Workers start at one shared instant, after their imports, so process
start-up is not timed. With zero overhead the run would take ``requests * latency / in_flight``
seconds; the script prints the achieved fraction of that ideal throughput (target: at least 0.9 for
64 episodes x 20 steps, 32 in flight, 50 ms).

Run: ``python benchmarks/harness_overhead.py [--episodes 64 --steps 20 --in-flight 32 --latency 0.05
--processes 2]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_server import serve

REPLY = "THINK: turn and look.\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"


def _serve(latency_s: float, channel: Connection) -> None:
    serve(latency_s, REPLY, channel)


def _worker(url: str, seeds: list[int], in_flight: int, steps: int, reward: str, channel: Connection) -> None:
    """Set up, say ready, wait for the shared start time, run, report (requests, cpu, end time)."""
    import gymnasium as gym

    import theory_of_space  # noqa: F401  (registers the env ids)
    from theory_of_space.agents.base import Message
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.pool import EpisodeJob, run_episodes_threaded
    from theory_of_space.world.generate import generate_scene

    env_kwargs = {"max_exp_steps": steps, "reward": reward}
    jobs = [EpisodeJob(generate_scene(s), env_kwargs=env_kwargs) for s in seeds]
    # What a long run does once, before the clock: build the SDK client (its TLS context alone takes
    # ~35 ms) and send a first request, and import what a first env imports.
    agent = make_model_agent(
        f"compat:harness-bench@{url}", overrides={"max_tokens": 512, "max_retries": 0, "max_concurrent": in_flight}
    )
    agent.act([Message("user", "warm up")])
    gym.make(jobs[0].env_id, **env_kwargs).reset(options={"scene": jobs[0].scene})
    channel.send("ready")
    start_at = channel.recv()
    time.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    results = run_episodes_threaded(jobs, lambda scene: agent, in_flight=in_flight)
    end = time.time()
    cpu = time.process_time() - cpu
    agent.close()
    failed = [t.record.error for r in results for t in r.turns if t.record.error]
    if failed:
        raise RuntimeError(f"{len(failed)} failed calls, e.g. {failed[0]}")
    latencies = [t.record.latency_s for r in results for t in r.turns]
    channel.send((len(latencies), cpu, end, latencies))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--processes", type=int, default=2, help="worker processes sharing the in-flight limit")
    parser.add_argument("--reward", default="none", help="env reward (info_gain runs the solver every step)")
    args = parser.parse_args(argv)

    from theory_of_space.runner.pool import split_in_flight

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(args.latency, theirs), daemon=True)
    server.start()
    url = ours.recv()
    shares = split_in_flight(args.in_flight, args.processes)
    channels, workers = [], []
    for index, share in enumerate(shares):
        parent, child = context.Pipe()
        seeds = list(range(index, args.episodes, args.processes))
        worker = context.Process(target=_worker, args=(url, seeds, share, args.steps, args.reward, child))
        worker.start()
        channels.append(parent)
        workers.append(worker)
    for channel in channels:
        if channel.recv() != "ready":
            raise RuntimeError("a worker failed to start")
    start_at = time.time() + 0.2
    for channel in channels:
        channel.send(start_at)
    reports = [channel.recv() for channel in channels]
    for worker in workers:
        worker.join(timeout=30)
    ours.send("stop")
    server.join(timeout=10)

    requests = sum(r[0] for r in reports)
    elapsed = max(r[2] for r in reports) - start_at
    cpu = sum(r[1] for r in reports)
    latencies = sorted(latency for r in reports for latency in r[3])
    ideal = requests * args.latency / args.in_flight
    fraction = ideal / elapsed
    print(
        f"{args.episodes} episodes x {args.steps} steps = {requests} requests, {args.in_flight} in flight "
        f"({args.processes} process(es): {shares}), {args.latency * 1000:.0f} ms server latency, reward={args.reward}"
    )
    print(f"ideal {ideal:.2f} s, achieved {elapsed:.2f} s (harness CPU {cpu / requests * 1000:.2f} ms/request)")
    p50, p99 = (latencies[int(q * (len(latencies) - 1))] * 1000 for q in (0.5, 0.99))
    print(f"model call latency as the harness sees it: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"throughput: {fraction:.3f} of ideal (target >= 0.9)")
    return fraction


if __name__ == "__main__":
    main()
