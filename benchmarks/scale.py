"""Scripted episodes per second on Ray workers against the local pool, in one run.

SCOUT on N generated scenes through every phase (explore, probe, evaluate), stored to a fresh run folder:

- *local*: ``run_experiment`` in this process (the default executor);
- *ray W*: the same run with ``executor="ray"`` on a local Ray instance of W worker CPUs
  (``ray.init(num_cpus=W)``), for each W asked. Ray is started, warmed with one small run (worker
  processes start and import the package once), then timed.

Printed per line: episodes per second (wall clock: the work is spread over processes), the ratio to the
local pool, and the efficiency per worker, ``rate(W) / (W * rate(1))`` against one Ray worker. A ratio
is only meaningful between lines of the same run; on a machine shared with other work the wall clock
counts their load too. Timing asserts do not belong in tests; this script prints the figures.

    python benchmarks/scale.py [--scenes 40] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from theory_of_space.runner.experiment import experiment_from
from theory_of_space.runner.pipeline import run_experiment


def timed_run(scenes: str, out: Path, executor: str) -> tuple[float, int]:
    """Wall seconds of one run, and its finished episodes."""
    experiment = experiment_from(None, {"agents": ["scout"], "scenes": scenes, "out": str(out),
                                        "phases": ["explore", "probe", "evaluate"]})
    started = time.perf_counter()
    outcome = run_experiment(experiment, executor=executor)
    return time.perf_counter() - started, outcome.done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40, help="generated scenes (seeds 0..N-1)")
    parser.add_argument("--workers", default="1,2", help="comma-separated Ray worker counts")
    args = parser.parse_args()
    import ray

    scenes = f"0:{args.scenes}"
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        seconds, done = timed_run(scenes, root / "local", "local")
        local_rate = done / seconds
        print(f"local pool     {done} episodes in {seconds:6.2f} s = {local_rate:6.2f} episodes/s")
        rates: dict[int, float] = {}
        for count in workers:
            ray.init(num_cpus=count, include_dashboard=False, log_to_driver=False)
            try:
                timed_run(f"{args.scenes}:{args.scenes + count}", root / f"warm{count}", "ray")
                seconds, done = timed_run(scenes, root / f"ray{count}", "ray")
            finally:
                ray.shutdown()
            rates[count] = done / seconds
            line = (f"ray {count:2d} worker{'s' if count > 1 else ' '} {done} episodes in {seconds:6.2f} s = "
                    f"{rates[count]:6.2f} episodes/s, {rates[count] / local_rate:5.2f}x the local pool")
            if 1 in rates:
                line += f", efficiency per worker {rates[count] / (count * rates[1]):.2f}"
            print(line)


if __name__ == "__main__":
    main()
