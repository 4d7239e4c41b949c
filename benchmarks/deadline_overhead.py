"""What the whole-request deadline costs per request, against the same SDK client without it.

``timeout_s`` bounds each request as a whole through :class:`theory_of_space.agents.clients.deadline.DeadlineTransport`
(a clamp of the request's timeouts, a watchdog entry per answer and a wrapper around its byte stream). This
script posts the same chat request to the lean local server (``benchmarks/latency_server.py``, in its own
process, answering at once) through two ``openai.OpenAI`` clients that differ only in that transport, in
alternating blocks, and prints the CPU time per request of each (median over the blocks) and their ratio.

Run: ``python benchmarks/deadline_overhead.py [--requests 2000 --blocks 5]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_server import serve

BODY = {"model": "bench", "messages": [{"role": "user", "content": "Where is the chair?"}], "max_tokens": 64}


def _serve(channel: multiprocessing.connection.Connection) -> None:
    serve(0.0, "FINAL ANSWER: north", channel)


def _cpu_per_request(client: object, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        client.post("/chat/completions", body=BODY, cast_to=object)  # type: ignore[attr-defined]
    return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per block")
    parser.add_argument("--blocks", type=int, default=5, help="blocks per client, alternating")
    args = parser.parse_args()

    import openai

    from theory_of_space.agents.clients.deadline import deadline_http_client

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs,), daemon=True)
    server.start()
    url = ours.recv()
    plain = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=60)
    bounded = openai.OpenAI(
        base_url=url, api_key="x", max_retries=0, timeout=60, http_client=deadline_http_client(openai, 60)
    )
    for client in (plain, bounded):  # warm the connection pools
        _cpu_per_request(client, 50)
    results: dict[str, list[float]] = {"plain SDK": [], "with deadline": []}
    for _ in range(args.blocks):
        results["plain SDK"].append(_cpu_per_request(plain, args.requests))
        results["with deadline"].append(_cpu_per_request(bounded, args.requests))
    ours.send("stop")
    server.join(5)
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"{args.blocks} blocks of {args.requests} requests per client, answers at once from a local server")
    for name, value in medians.items():
        blocks = ", ".join(f"{1e3 * v:.3f}" for v in results[name])
        print(f"{name:>14}: {1e3 * value:.3f} ms CPU per request (blocks: {blocks})")
    print(f"with deadline / plain SDK: {medians['with deadline'] / medians['plain SDK']:.3f}")


if __name__ == "__main__":
    main()
