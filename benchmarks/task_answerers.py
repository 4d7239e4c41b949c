"""The oracle and belief answerers on N generated scenes, and how often a scene fails task pre-validation.

Runs the evaluation runner (exploration + the nine tasks, 3 questions each) for:
- the oracle (must be 100 everywhere: generators and scorers agree);
- the belief baseline in the passive setting on STRATEGIST logs, with and without Query;
- the belief baseline in the active setting (it explores as STRATEGIST under the 20-step budget).
Then it counts the generated scenes for which :func:`can_generate_all` fails, and prints timings.

    python benchmarks/task_answerers.py [--scenes 100] [--prevalidation-scenes 1000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from theory_of_space.runner.evaluate import EvaluationSettings, agent_factory, evaluate, format_table, summary
from theory_of_space.tasks import unavailable_tasks
from theory_of_space.world.generate import generate_scene

RUNS = (
    ("oracle", "oracle", EvaluationSettings(setting="passive")),
    ("belief, passive STRATEGIST log, Query on", "belief", EvaluationSettings(setting="passive")),
    ("belief, passive STRATEGIST log, Query off", "belief", EvaluationSettings(setting="passive", query_enabled=False)),
    ("belief, active, 20 steps, Query on", "belief", EvaluationSettings(setting="active")),
    ("belief, active, 20 steps, Query off", "belief", EvaluationSettings(setting="active", query_enabled=False)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--prevalidation-scenes", type=int, default=1000)
    args = parser.parse_args()

    scenes = [generate_scene(seed) for seed in range(args.scenes)]
    rows = []
    for label, agent, settings in RUNS:
        start = time.perf_counter()
        runs = evaluate(scenes, agent_factory(agent, query_enabled=settings.query_enabled), settings, agent_name=agent)
        rows.append((label, summary(runs)))
        questions = sum(len(r.answers) for r in runs)
        print(f"{label}: {questions} questions in {time.perf_counter() - start:.1f} s")
    print()
    print(format_table(rows, with_steps=False))

    start = time.perf_counter()
    failures: Counter[str] = Counter()
    failing_scenes = 0
    for seed in range(args.prevalidation_scenes):
        missing = unavailable_tasks(generate_scene(seed))
        failing_scenes += bool(missing)
        failures.update(missing.keys())
    elapsed = time.perf_counter() - start
    print()
    print(
        f"can_generate_all fails on {failing_scenes} of {args.prevalidation_scenes} generated 3-room scenes "
        f"({dict(failures) or 'no task'}); {1000 * elapsed / args.prevalidation_scenes:.1f} ms per scene "
        "including generation"
    )


if __name__ == "__main__":
    main()
