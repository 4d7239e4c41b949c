"""``tos run``, ``tos probe`` and ``tos report``: the benchmark end to end, its probe phase, and its report.

``tos run`` with no argument runs the built-in scripted agents on 3 generated scenes through every
phase, then prints the tables and the report's path. ``tos probe`` (in
:mod:`theory_of_space.commands.probe`) is the same pipeline with the phases explore and probe (and
false_belief); ``tos evaluate`` (in :mod:`theory_of_space.commands.evaluate`) with explore and evaluate.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from theory_of_space.agents.config import parse_overrides
from theory_of_space.agents.factory import check_agent_spec
from theory_of_space.commands.batch import add_batch_arguments, batch_lines, batch_rounds
from theory_of_space.runner.experiment import (
    PHASES,
    PROXIES,
    SCRIPTED_ANSWERERS,
    SETTINGS,
    WORLDS,
    Experiment,
    experiment_from,
    load_experiment,
    split_list,
)

_FLAGS = {
    "agent": "agents", "scenes": "scenes", "world": "worlds", "setting": "settings", "phases": "phases",
    "out": "out", "max_steps": "max_exp_steps", "questions": "n_per_task", "tasks": "tasks", "proxy": "proxy",
    "rooms": "rooms", "model_config": "model_config", "in_flight": "in_flight", "max_cost": "max_cost",
    "max_false_belief_steps": "max_false_belief_steps", "answerer": "answerer",
}


def add_pipeline_arguments(parser: argparse.ArgumentParser, *, phases: bool = True) -> None:
    """The options shared by ``tos run`` and ``tos probe``; each overrides the ``--config`` file."""
    parser.add_argument("--config", help="an experiment TOML file; command-line options override its keys")
    parser.add_argument("--agent", action="append", help="an agent (repeatable or comma-separated): scout, "
                        "strategist, random, oracle, belief or a model spec / config entry (default: scripted)")
    parser.add_argument("--scenes", help="seed ranges, seeds or published scenes, e.g. 0:100 or tos:run00 "
                        "(default 0:3)")
    parser.add_argument("--world", help=f"comma-separated worlds: {','.join(WORLDS)} (default text)")
    parser.add_argument("--setting", help=f"comma-separated settings: {','.join(SETTINGS)} (default active)")
    if phases:
        parser.add_argument("--phases", help=f"comma-separated phases from {','.join(PHASES)} (default: all "
                            "available but rescore)")
    parser.add_argument("--out", help="the run folder (default runs/default); a rerun resumes it")
    parser.add_argument("--max-steps", type=int, help="active exploration budget (default 20)")
    parser.add_argument("--max-false-belief-steps", type=int, help="budget of the false-belief phase (default 15)")
    parser.add_argument("--questions", type=int, help="questions per task (default 3)")
    parser.add_argument("--tasks", help="comma-separated task ids (default all)")
    parser.add_argument("--proxy", choices=PROXIES, help="the passive explorer (default: scout for vision, "
                        "strategist for text)")
    parser.add_argument("--answerer", choices=SCRIPTED_ANSWERERS, help="who answers the questions and writes the "
                        "maps of scripted explorers (default belief)")
    parser.add_argument("--rooms", type=int, help="rooms of generated scenes (default 3)")
    parser.add_argument("--no-think", action="store_true", help="prompts without the THINK: section")
    parser.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    parser.add_argument("--model-config", help="model configuration file (for model agents)")
    parser.add_argument("--in-flight", type=int, help="episodes and model requests in flight (default 8)")
    parser.add_argument("--max-cost", type=float, help="stop cleanly (resumable) once this many USD are spent")
    parser.add_argument("--no-retry-failed", action="store_true",
                        help="keep stored failed requests instead of retrying them")
    parser.add_argument("--dry-run", action="store_true", help="print the requests and their estimated cost only")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")


def add_scene_count_arguments(parser: argparse.ArgumentParser) -> None:
    """``--scenes N`` as a count of generated (or published) scenes from ``--first-seed``, or ``--scene``.

    ``tos evaluate`` and ``tos probe`` take these; :func:`scene_count_spec` turns them into the pipeline's
    scene list.
    """
    parser.add_argument("--scenes", type=int, default=10, help="number of scenes (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first scene (default 0)")
    parser.add_argument("--rooms", type=int, default=3, help="rooms of the generated scenes (default 3)")
    parser.add_argument("--data-dir", help="a folder of published runNN scene folders instead of generated scenes")
    parser.add_argument(
        "--scene",
        dest="scene_paths",
        action="append",
        metavar="SCENE",
        help="use this scene instead (repeatable): a shipped published scene (tos:run00 ... tos:run04), "
        "a published scene folder or a scene JSON file",
    )


def scene_count_spec(args: argparse.Namespace) -> str:
    """The pipeline's ``scenes`` value of :func:`add_scene_count_arguments`' options.

    Raises:
        ValueError: both ``--scene`` and ``--data-dir``.
        FileNotFoundError: ``--data-dir`` is not a folder.
    """
    if args.scene_paths:
        if args.data_dir is not None:
            raise ValueError("give either --scene or --data-dir, not both")
        return ",".join(args.scene_paths)
    first, stop = args.first_seed, args.first_seed + args.scenes
    if args.data_dir is None:
        return f"{first}:{stop}"
    root = Path(args.data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-dir: no folder {root}")
    return ",".join(str(root / f"run{seed:02d}") for seed in range(first, stop))


def one_episode_kind_fields(args: argparse.Namespace, out: str) -> dict[str, Any]:
    """The experiment fields ``tos evaluate`` and ``tos probe`` share: their scenes, one world and setting,
    the exploration options and the model settings (``--set``), stored under ``out``."""
    return {
        "scenes": scene_count_spec(args),
        "worlds": (args.world,),
        "settings": (args.setting,),
        "out": out,
        "think": not args.no_think,
        "query_enabled": not args.no_query,
        "max_exp_steps": args.max_steps,
        "rooms": args.rooms,
        "model_config": args.model_config,
        "overrides": tuple(parse_overrides(args.overrides).items()),
    }


def add_run_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``report``."""
    run = subparsers.add_parser("run", help="the benchmark end to end (default: scripted agents, 3 scenes, "
                                "all phases)")
    add_pipeline_arguments(run)
    add_batch_arguments(run)
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: threads in this process (default); ray: one Ray task per episode")
    run.add_argument("--address", help="with --executor ray: the Ray cluster to join (default: start Ray here)")
    run.set_defaults(func=_run, fixed_phases=None)

    report = subparsers.add_parser("report", help="summary.json and report.html of one or more run folders")
    report.add_argument("runs", nargs="+", help="run folders (the --out of tos run)")
    report.add_argument("--out", help="where to write the report (default: the first run folder)")
    report.set_defaults(func=_report)


def experiment_of(args: argparse.Namespace) -> Experiment:
    """The experiment of the ``--config`` file with the command-line options applied over it."""
    base = load_experiment(args.config) if getattr(args, "config", None) else Experiment()
    values: dict[str, Any] = {}
    for flag, key in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if key in ("agents",):
            value = list(split_list(value))
        values[key] = value
    if getattr(args, "fixed_phases", None):
        values["phases"] = list(args.fixed_phases)
    if args.no_think:
        values["think"] = False
    if args.no_query:
        values["query_enabled"] = False
    if args.no_retry_failed:
        values["retry_failed"] = False
    return experiment_from(base, values, source="command line")


def _run(args: argparse.Namespace) -> int:
    from theory_of_space.runner.pipeline import outcome_lines, plan_experiment, run_experiment
    from theory_of_space.runner.progress import Progress
    from theory_of_space.runner.roles import DEFAULT_AGENTS

    experiment = experiment_of(args)
    if args.dry_run:
        plan = plan_experiment(experiment, batch=getattr(args, "batch", False))
        total = sum(plan.requests.values())
        print(f"{total} requests at most: " + ", ".join(f"{p} {n}" for p, n in plan.requests.items()))
        for line in plan.details:
            print(f"  {line}")
        print(f"estimated cost: ${plan.cost_usd:.2f}")
        if plan.batched:
            print(f"  at batch prices for {', '.join(plan.batched)} (the list price less each model's "
                  "batch_discount); the other phases at list price")
        if plan.no_batch_discount:
            print(f"no batch_discount in the price table for: {', '.join(plan.no_batch_discount)} "
                  "(their batched requests at list price, as the run records them)")
        if plan.unpriced:
            print(f"no price in the price table for: {', '.join(plan.unpriced)} (not in the estimate)")
        return 0
    for spec in experiment.agents:  # an unknown agent is named before anything is printed or run
        check_agent_spec(spec, config_path=experiment.model_config)
    agents = ", ".join(experiment.agents or DEFAULT_AGENTS)
    print(
        f"{agents} on scenes {experiment.scenes}, {'/'.join(experiment.worlds)} world, "
        f"{'/'.join(experiment.settings)}, exploration budget {experiment.max_exp_steps} turns, into {experiment.out}",
        flush=True,
    )
    progress = None if args.quiet else Progress()
    if getattr(args, "batch", False):
        outcome = batch_rounds(experiment, wait=args.batch_wait, poll_s=args.batch_poll, quiet=args.quiet)
        lines = batch_lines(outcome)
    else:
        outcome = run_experiment(experiment, progress=progress, executor=getattr(args, "executor", "local"),
                                 address=getattr(args, "address", None))
        lines = outcome_lines(outcome)
    for line in lines:
        print(line)
    if not args.no_report and not outcome.pending:
        _write_report([outcome.root], outcome.root)
    if outcome.errors:
        return 4
    return 0 if not outcome.stopped else 3


def _write_report(runs: list[Path], out: Path) -> None:
    from theory_of_space.report.html import write_report

    written = write_report(runs, out)
    print()
    print(written.text)
    print()
    print(f"summary: {written.summary_path}")
    print(f"report:  {written.html_path}")
    if written.note:
        print(written.note)


def _report(args: argparse.Namespace) -> int:
    runs = [Path(r) for r in args.runs]
    _write_report(runs, Path(args.out) if args.out else runs[0])
    return 0

