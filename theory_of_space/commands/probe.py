"""``tos probe``: the run pipeline with the phases explore and probe (``--false-belief`` adds the false-belief
phase) on N scenes, its tables, and the re-scoring of stored probe and false-belief records."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from theory_of_space.agents.factory import check_agent_spec, is_scripted
from theory_of_space.commands.explore import DEFAULT_MAX_STEPS, add_set_argument
from theory_of_space.commands.run import add_scene_count_arguments, one_episode_kind_fields
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.metrics import aggregate_probe_metrics, format_probe_table, probe_metrics
from theory_of_space.probes.requests import ProbeRecord
from theory_of_space.report.summary import FALSE_BELIEF_COLUMNS, false_belief_cells, false_belief_sample
from theory_of_space.runner.experiment import SETTINGS, WORLDS, Experiment
from theory_of_space.runner.false_belief_phase import FALSE_BELIEF_RECORD_FILE
from theory_of_space.runner.plugins import PROBE_RECORD_FILE
from theory_of_space.runner.roles import NON_MODEL_ANSWERERS, plays_false_belief

PROBE_FILE = PROBE_RECORD_FILE


def add_probe_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``probe`` subcommand."""
    run = subparsers.add_parser("probe", help="exploration plus the belief probes (cognitive maps) on N scenes")
    run.add_argument("--agent", default="strategist",
                     help="who explores and is probed: scout | strategist | random | belief | updating | inertial "
                     "(their maps are written by the belief map writer) | a model spec; or a scripted map writer, "
                     "oracle | belief, with --explorer (default strategist)")
    run.add_argument("--explorer", help="with --agent oracle | belief: the scripted explorer whose maps that writer "
                     "writes (default strategist for the oracle, which does not explore)")
    add_scene_count_arguments(run)
    run.add_argument("--world", choices=WORLDS, default="text", help="text (default) or vision")
    run.add_argument("--setting", choices=SETTINGS, default="active", help="active (default) or passive")
    run.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                     help=f"active exploration budget (default {DEFAULT_MAX_STEPS})")
    run.add_argument("--in-flight", type=int, default=8, help="requests in flight at once (default 8)")
    run.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    run.add_argument("--no-think", action="store_true", help="prompts without the THINK: section")
    run.add_argument("--model-config", help="model configuration file (for model agents)")
    add_set_argument(run)
    run.add_argument("--out", help="the run folder: every result is stored there and a rerun resumes it")
    add_probe_scoring_options(run)
    run.add_argument("--false-belief", action="store_true",
                     help="add the false-belief phase (agent: updating | inertial | a model spec)")
    run.add_argument("--max-false-belief-steps", type=int, default=15,
                     help="budget of the false-belief phase (default 15)")
    run.set_defaults(func=_probe)


def add_probe_scoring_options(parser: argparse.ArgumentParser) -> None:
    """The scoring options of the probe and false-belief metrics as flags."""
    parser.add_argument(
        "--invalid-maps",
        choices=("skip", "empty"),
        default="skip",
        help="maps with no JSON: left out of the averages (skip, default) or scored as empty maps",
    )
    parser.add_argument(
        "--correctness-scope",
        choices=("full", "observed"),
        default="full",
        help="final map against every item (full, default) or the observed ones",
    )
    parser.add_argument(
        "--perception-scope",
        choices=("new", "visible"),
        default="new",
        help="local maps against the newly observed items (new, default) or every visible one",
    )
    parser.add_argument(
        "--inertia-keep-exact",
        action="store_true",
        help="false belief: score exactly correct moved objects as position inertia 0 instead of leaving them out",
    )


def _scoring(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "invalid_maps": args.invalid_maps,
        "correctness_scope": args.correctness_scope,
        "perception_scope": args.perception_scope,
    }


def _probe(args: argparse.Namespace) -> int:
    from theory_of_space.runner.pipeline import outcome_lines, run_experiment

    if args.scenes < 1 or args.in_flight < 1:
        raise ValueError("expected positive --scenes and --in-flight")
    agent, answerer = _explorer_and_writer(args)
    check_agent_spec(agent, config_path=args.model_config)
    if args.false_belief and not plays_false_belief(agent, is_model=not is_scripted(agent)):
        raise ValueError(f"--false-belief needs --agent updating | inertial | a model spec, got {agent!r}")
    phases = ("explore", "probe", "false_belief") if args.false_belief else ("explore", "probe")
    with tempfile.TemporaryDirectory(prefix="tos-probe-") as scratch:
        experiment = Experiment(
            agents=(agent,),
            answerer=answerer,
            phases=phases,
            max_false_belief_steps=args.max_false_belief_steps,
            in_flight=args.in_flight,
            **one_episode_kind_fields(args, args.out or scratch),
        )
        outcome = run_experiment(experiment)
        writer = f"the {answerer} map writer" if is_scripted(agent) else agent
        played = f"; false-belief phase played and its maps written by {agent}" if args.false_belief else ""
        print(f"{outcome.done} scenes, {args.world} world, {args.setting} setting: explored by {agent}, "
              f"maps written by {writer}{played}")
        for line in outcome_lines(outcome):
            print(line)
        print_record_tables(outcome.root, args)
    return 4 if outcome.errors else 0


def _explorer_and_writer(args: argparse.Namespace) -> tuple[str, str]:
    """The pipeline's agent (who explores) and the map writer of a scripted one, from ``--agent`` and ``--explorer``.

    Raises:
        ValueError: ``--explorer`` with an ``--agent`` that is not a scripted map writer.
    """
    agent = args.agent.strip()
    writer = agent.lower()
    if writer in NON_MODEL_ANSWERERS and (args.explorer or writer == "oracle"):
        return (args.explorer or "strategist").strip(), writer
    if args.explorer:
        raise ValueError(f"--explorer goes with a scripted map writer, --agent oracle | belief; got {agent!r}")
    return agent, "belief"


def load_probe_record(path: Path) -> ProbeRecord:
    """A stored probe record; a malformed file raises ``ValueError`` naming it."""
    try:
        return ProbeRecord.from_dict(json.loads(Path(path).read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a probe record ({error})") from error


def false_belief_figures(path: Path, *, inertia_skip_exact: bool) -> dict[str, Any]:
    """A stored false-belief record scored again; a malformed file raises ``ValueError`` naming it."""
    try:
        sample = false_belief_sample(json.loads(Path(path).read_text()), inertia_skip_exact=inertia_skip_exact)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a false-belief record ({error})") from error
    assert sample is not None  # the probes package is part of this installation
    return sample


def format_false_belief_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table of pooled false-belief figures, one row per label (the report's columns)."""
    header = ["Agent", "Episodes", *(c for c, _, _ in FALSE_BELIEF_COLUMNS), "Left out of inertia", "Invalid maps"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([label, str(f["n_samples"]), *false_belief_cells(f)]) + " |" for label, f in rows]
    return "\n".join(lines)


def print_record_tables(root: Path, args: argparse.Namespace) -> int:
    """Score every stored probe and false-belief record under ``root`` with ``args``' options; print the
    tables (one row per answerer); the number of records."""
    probe_paths = sorted(Path(root).rglob(PROBE_FILE))
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in probe_paths:
        record = load_probe_record(path)
        label = f"{record.answerer or '?'} ({record.agent or '?'} exploration)"
        groups.setdefault(label, []).append(probe_metrics(record, **_scoring(args)))
    if groups:
        print(format_probe_table([(label, aggregate_probe_metrics(m)) for label, m in sorted(groups.items())]))
    fb_paths = sorted(Path(root).rglob(FALSE_BELIEF_RECORD_FILE))
    samples: dict[str, list[dict[str, Any]]] = {}
    for path in fb_paths:
        sample = false_belief_figures(path, inertia_skip_exact=not args.inertia_keep_exact)
        samples.setdefault(str(json.loads(path.read_text()).get("answerer") or "?"), []).append(sample)
    if samples:
        print("\nFalse belief:")
        print(format_false_belief_table([(label, summarise_false_belief(s)) for label, s in sorted(samples.items())]))
    return len(probe_paths) + len(fb_paths)


def rescore_probes(args: argparse.Namespace) -> int:
    """Re-score every stored probe and false-belief record under ``args.path``; print the tables; the count."""
    if not any(Path(args.path).rglob(PROBE_FILE)) and not any(Path(args.path).rglob(FALSE_BELIEF_RECORD_FILE)):
        return 0
    print("stored probe and false-belief records re-scored:")
    return print_record_tables(Path(args.path), args)
