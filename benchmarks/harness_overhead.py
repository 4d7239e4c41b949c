"""How much throughput the model harness loses to its own overhead, against the bare SDK.

A lean local OpenAI-compatible server (``benchmarks/latency_server.py``, in its own process, as a real
server would be) answers every request after a fixed latency. Two workloads then send the same requests
from the same worker processes, each with its share of the in-flight limit, one thread per episode in
flight, and alternate for ``--rounds`` rounds:

- **harness**: the episodes run through :func:`theory_of_space.runner.pool.run_episodes_threaded` with a
  real ``openai`` SDK client: env steps, transcripts, history limits, retries, call records;
- **bare SDK**: the peer, the request bodies those episodes send (built before the clock) posted with a
  plain ``openai.OpenAI`` client and nothing else: no env, no harness.

With zero overhead a workload would take ``requests * latency / in_flight`` seconds; the script prints each
one's achieved fraction of that ideal (median over the rounds) and their ratio. The target is a harness
fraction of at least 0.9 for 64 episodes x 20 steps, 32 in flight, 50 ms; the bare SDK's fraction is the
ceiling the machine allows (the SDK spends about 1 ms of CPU per call, so on two cores it sits near 0.9).
Workers start each workload at one shared instant, after their imports and after building their SDK
client, which a long run does once (its TLS context alone takes ~35 ms).

Run: ``python benchmarks/harness_overhead.py [--episodes 64 --steps 20 --in-flight 32 --latency 0.05
--processes 2 --rounds 3]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_server import serve

REPLY = "THINK: turn and look.\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"
WORKLOADS = ("bare SDK", "harness")


def _serve(latency_s: float, channel: Connection) -> None:
    serve(latency_s, REPLY, channel)


class _FixedReply:
    """The server's reply, played locally to learn the conversations the harness will send."""

    name = "fixed"

    def act(self, messages: Any) -> Any:
        from theory_of_space.agents.base import AgentReply, CallRecord

        return AgentReply(REPLY, CallRecord(model="fixed"))


def _worker(url: str, seeds: list[int], in_flight: int, steps: int, reward: str, channel: Connection) -> None:
    """Set up, say ready, then run each workload the parent names at the start time it gives."""
    import gymnasium as gym
    import openai

    import theory_of_space  # noqa: F401  (registers the env ids)
    from theory_of_space.agents.base import Message
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.episode import run_episode
    from theory_of_space.runner.pool import EpisodeJob, run_episodes_threaded
    from theory_of_space.world.generate import generate_scene

    env_kwargs = {"max_exp_steps": steps, "reward": reward}
    jobs = [EpisodeJob(generate_scene(s), env_kwargs=env_kwargs) for s in seeds]
    agent = make_model_agent(
        f"compat:harness-bench@{url}", overrides={"max_tokens": 512, "max_retries": 0, "max_concurrent": in_flight}
    )
    agent.act([Message("user", "warm up")])
    env = gym.make(jobs[0].env_id, **env_kwargs)
    transcripts = [run_episode(env, _FixedReply(), options={"scene": job.scene}).messages for job in jobs]
    episodes_bodies = [
        [agent.client.build_request(messages[: 2 + 2 * turn]) for turn in range(steps)] for messages in transcripts
    ]
    sdk = openai.OpenAI(api_key="EMPTY", base_url=url, max_retries=0)
    sdk.post("/chat/completions", body=episodes_bodies[0][0], cast_to=object)

    def post_episode(bodies: list[dict[str, Any]]) -> int:
        for body in bodies:
            sdk.post("/chat/completions", body=body, cast_to=object)
        return len(bodies)

    def run(workload: str) -> int:
        if workload == "bare SDK":
            with ThreadPoolExecutor(max_workers=min(in_flight, len(jobs))) as pool:
                return sum(pool.map(post_episode, episodes_bodies))
        results = run_episodes_threaded(jobs, lambda scene: agent, in_flight=in_flight)
        failed = [t.record.error for r in results for t in r.turns if t.record.error]
        if failed:
            raise RuntimeError(f"{len(failed)} failed calls, e.g. {failed[0]}")
        return sum(len(r.turns) for r in results)

    channel.send("ready")
    while (order := channel.recv()) is not None:
        workload, start_at = order
        time.sleep(max(0.0, start_at - time.time()))
        cpu = time.process_time()
        requests = run(workload)
        channel.send((requests, time.process_time() - cpu, time.time()))
    agent.close()
    sdk.close()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--processes", type=int, default=2, help="worker processes sharing the in-flight limit")
    parser.add_argument("--reward", default="none", help="env reward (info_gain runs the solver every step)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both workloads, alternating")
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

    fractions: dict[str, list[float]] = {workload: [] for workload in WORKLOADS}
    cpu_ms: dict[str, list[float]] = {workload: [] for workload in WORKLOADS}
    requests = 0
    for _ in range(args.rounds):
        for workload in WORKLOADS:
            start_at = time.time() + 0.2
            for channel in channels:
                channel.send((workload, start_at))
            reports = [channel.recv() for channel in channels]
            requests = sum(r[0] for r in reports)
            elapsed = max(r[2] for r in reports) - start_at
            fractions[workload].append(requests * args.latency / args.in_flight / elapsed)
            cpu_ms[workload].append(sum(r[1] for r in reports) / requests * 1000)
    for channel in channels:
        channel.send(None)
    for worker in workers:
        worker.join(timeout=30)
    ours.send("stop")
    server.join(timeout=10)

    print(
        f"{args.episodes} episodes x {args.steps} steps = {requests} requests, {args.in_flight} in flight "
        f"({args.processes} process(es): {shares}), {args.latency * 1000:.0f} ms server latency, "
        f"reward={args.reward}, {args.rounds} rounds"
    )
    medians = {workload: statistics.median(values) for workload, values in fractions.items()}
    for workload in WORKLOADS:
        runs = ", ".join(f"{value:.3f}" for value in fractions[workload])
        print(
            f"{workload:>8}: {medians[workload]:.3f} of ideal throughput (rounds: {runs}; "
            f"CPU {statistics.median(cpu_ms[workload]):.2f} ms/request)"
        )
    ratio = medians["harness"] / medians["bare SDK"]
    print(f"harness / bare SDK: {ratio:.3f}; harness target >= 0.9 of ideal")
    return {**medians, "ratio": ratio}


if __name__ == "__main__":
    main()
