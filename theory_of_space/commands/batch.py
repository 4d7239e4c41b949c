"""``tos batch status RUN`` and ``tos batch collect RUN``, and the rounds of ``tos run --batch``.

A batch run works in rounds (see :mod:`theory_of_space.runner.batch`): each round collects the ended
batches, runs the pipeline on what arrived and submits what is still missing. ``tos run --batch`` runs
one round (or, with ``--batch-wait``, rounds until every episode is complete); ``tos batch collect RUN``
runs the same rounds on the experiment stored in the run folder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from theory_of_space.agents.config import resolve_model_config
from theory_of_space.agents.factory import is_scripted
from theory_of_space.runner.batch import BatchBook, model_key
from theory_of_space.runner.experiment import Experiment, experiment_from
from theory_of_space.runner.pipeline import RunOutcome, outcome_lines, run_experiment
from theory_of_space.runner.progress import Progress

DEFAULT_POLL_S = 60.0


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--batch``, ``--batch-wait`` and ``--batch-poll`` of ``tos run``."""
    parser.add_argument("--batch", action="store_true", help="send probes and questions of openai/anthropic "
                        "models through the providers' batch APIs (half price); rerun, or `tos batch collect`, "
                        "to collect")
    add_wait_arguments(parser, prefix="batch-")


def add_wait_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}wait", action="store_true", dest="batch_wait",
                        help="poll until every batch has ended and every episode is complete")
    parser.add_argument(f"--{prefix}poll", type=float, default=DEFAULT_POLL_S, dest="batch_poll",
                        help=f"seconds between polls while waiting (default {DEFAULT_POLL_S:g})")


def add_batch_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tos batch status`` and ``tos batch collect``."""
    batch = subparsers.add_parser("batch", help="the provider batches of a `tos run --batch` folder")
    actions = batch.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="each batch of the run: provider, id, state, request counts")
    status.add_argument("run", help="the run folder")
    status.set_defaults(func=_status)
    collect = actions.add_parser("collect", help="download ended batches, store their results, submit what "
                                 "is missing (failed items included)")
    collect.add_argument("run", help="the run folder")
    add_wait_arguments(collect)
    collect.add_argument("--quiet", action="store_true", help="no progress display")
    collect.set_defaults(func=_collect)


def batch_rounds(experiment: Experiment, *, wait: bool, poll_s: float, quiet: bool) -> RunOutcome:
    """One round, or rounds every ``poll_s`` seconds until no episode waits for a batch (``wait``)."""
    while True:
        outcome = run_experiment(experiment, progress=None if quiet else Progress(), batch=True)
        if not wait or outcome.pending == 0 or outcome.stopped:
            return outcome
        time.sleep(poll_s)


def batch_lines(outcome: RunOutcome) -> list[str]:
    """The account of one round: the run's lines, then what the batches did."""
    lines = outcome_lines(outcome)
    info = outcome.batch
    lines.append(f"batches: {info.get('collected', 0)} collected ({info.get('results', 0)} results, "
                 f"{info.get('retry', 0)} items to retry), {info.get('submitted', 0)} submitted, "
                 f"{info.get('open', 0)} still running")
    if outcome.pending:
        lines.append(f"{outcome.pending} episodes wait for batch results; run `tos batch collect {outcome.root}` "
                     "(or the same tos run) later")
    return lines


def _collect(args: argparse.Namespace) -> int:
    book = BatchBook(Path(args.run))
    experiment = experiment_from(None, {**book.experiment(), "out": args.run}, source=f"{args.run}/batches")
    outcome = batch_rounds(experiment, wait=args.batch_wait, poll_s=args.batch_poll, quiet=args.quiet)
    for line in batch_lines(outcome):
        print(line)
    return 0 if not outcome.stopped else 3


def _status(args: argparse.Namespace) -> int:
    book = BatchBook(Path(args.run))
    experiment = experiment_from(None, {**book.experiment(), "out": args.run}, source=f"{args.run}/batches")
    for spec in experiment.agents:
        if not is_scripted(spec):
            config = resolve_model_config(spec, config_path=experiment.model_config,
                                          overrides=dict(experiment.overrides) or None)
            book.configs[model_key(config)] = config
    rows = book.states()
    if not rows:
        print(f"{args.run}: no batch submitted yet")
    for row in rows:
        counts = ", ".join(f"{k} {v}" for k, v in (row.get("counts") or {}).items() if v)
        print(f"{row['provider']:9} {row['batch_id'] or '(not sent)':30} {row['status']:12} "
              f"{row['requests']} requests" + (f" ({counts})" if counts else ""))
    return 0
