"""``tos evaluate`` and ``tos rescore``: the run pipeline with the phases explore and evaluate, and offline
re-scoring of stored answers."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from theory_of_space.agents.factory import check_agent_spec
from theory_of_space.commands.explore import DEFAULT_MAX_STEPS, add_set_argument, failed_call_status
from theory_of_space.commands.probe import add_probe_scoring_options, rescore_probes
from theory_of_space.commands.run import add_scene_count_arguments, one_episode_kind_fields
from theory_of_space.env.exploration import DEFAULT_IMAGE_SIZE
from theory_of_space.probes.modes import EVALUATION_MODES
from theory_of_space.runner.evaluate import (
    PROXIES,
    SETTINGS,
    WORLDS,
    SceneEvaluation,
    find_evaluations,
    format_table,
    load_evaluation,
    rescore,
    save_evaluation,
    summary,
)
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.phases import rescore_store
from theory_of_space.runner.pipeline import outcome_lines, run_experiment
from theory_of_space.runner.store import EpisodeStore
from theory_of_space.tasks import TASK_IDS


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``rescore`` subcommands."""
    run = subparsers.add_parser("evaluate", help="exploration plus the nine evaluation tasks on N scenes")
    run.add_argument("--agent", default="oracle", help="oracle | belief | scout | strategist | random | a model spec")
    add_scene_count_arguments(run)
    run.add_argument("--setting", choices=SETTINGS, default="active", help="active (default) or passive")
    run.add_argument("--world", choices=WORLDS, default="text", help="text (default) or vision")
    run.add_argument(
        "--proxy",
        choices=PROXIES,
        help="the passive explorer (default: the published pairing, scout for vision and strategist for text)",
    )
    run.add_argument(
        "--image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"side of the vision world's views in pixels (default {DEFAULT_IMAGE_SIZE})",
    )
    run.add_argument(
        "--max-steps",
        type=int,
        default=DEFAULT_MAX_STEPS,
        help=f"active exploration budget (default {DEFAULT_MAX_STEPS})",
    )
    run.add_argument("--questions", type=int, default=3, help="questions per task (default 3)")
    run.add_argument("--tasks", help=f"comma-separated task ids (default all: {','.join(TASK_IDS)})")
    run.add_argument(
        "--mode",
        choices=EVALUATION_MODES,
        default="default",
        help="cognitive-map mode: the question alone (default), a map written with the answer "
        "(prompt_cogmap), the true map (use_gt_cogmap) or the model's own final map (use_model_cogmap) "
        "placed before the question",
    )
    run.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    run.add_argument("--no-think", action="store_true", help="prompts without the THINK: section")
    run.add_argument("--model-config", help="model configuration file (for model agents)")
    add_set_argument(run)
    run.add_argument("--out", help="store every answer under this folder and resume what is stored there")
    run.set_defaults(func=_evaluate)

    again = subparsers.add_parser("rescore", help="score stored evaluation answers again, without a model")
    again.add_argument("path", help="an output folder of `tos evaluate --out`")
    again.add_argument("--write", action="store_true", help="write the new scores back into the stored files")
    add_probe_scoring_options(again)
    again.set_defaults(func=_rescore)


def _evaluate(args: argparse.Namespace) -> int:
    """The run pipeline with the phases explore and evaluate, for one agent, world and setting."""
    if args.scenes < 1:
        raise ValueError(f"expected a positive number for --scenes, got {args.scenes}")
    tasks = TASK_IDS if args.tasks is None else tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    check_agent_spec(args.agent, config_path=args.model_config)
    with tempfile.TemporaryDirectory(prefix="tos-evaluate-") as scratch:
        experiment = Experiment(
            agents=(args.agent,),
            phases=("explore", "evaluate"),
            n_per_task=args.questions,
            tasks=tasks,
            proxy=args.proxy,
            image_size=args.image_size,
            mode=args.mode,
            **one_episode_kind_fields(args, args.out or scratch),
        )
        outcome = run_experiment(experiment)
        runs = [load_evaluation(path, images=False) for path in find_evaluations(outcome.root)]
    settings = runs[0].settings
    skipped = sorted({task for run in runs for task in run.unavailable})
    label = args.agent if settings.setting == "active" else f"{args.agent} ({settings.proxy} log)"
    questions = sum(len(r.answers) for r in runs)
    mode = "" if settings.mode == "default" else f"{settings.mode} mode, "
    print(f"{len(runs)} scenes, {settings.world} world, {settings.setting} setting, {mode}{questions} questions")
    if skipped:
        print(f"tasks some scenes could not produce: {', '.join(skipped)}")
    for line in outcome_lines(outcome)[1:]:
        print(line)
    print(format_table([(label, summary(runs))], with_steps=settings.setting == "active"))
    errors = [answer.call.get("error") for run in runs for answer in run.answers]
    return failed_call_status(errors, command="evaluate")


def _rescore(args: argparse.Namespace) -> int:
    paths = find_evaluations(Path(args.path))
    probed = rescore_probes(args)
    if not paths:
        if probed:
            return 0
        raise FileNotFoundError(f"no stored evaluations or probe records under {args.path}")
    groups: dict[tuple[str, str, str, str, str], list[SceneEvaluation]] = {}
    changed = 0
    bad = empty = 0
    for path in paths:
        # scoring reads only the stored replies: the pictures stay on disk
        try:
            stored = load_evaluation(path, images=False)
        except ValueError as error:  # one bad file is reported; the other scenes go on
            print(f"tos rescore: skipped {error}", file=sys.stderr)
            bad += 1
            continue
        if not stored.answers:  # an episode of a run without the evaluate phase: nothing to score
            empty += 1
            continue
        fresh = rescore(stored)
        changed += sum(a.score != b.score for a, b in zip(stored.answers, fresh.answers))
        if args.write:
            save_evaluation(fresh, path, images=False)
            # the pipeline's stored results are the source of reports: keep them in step
            rescore_store(EpisodeStore(path.parent), fresh.scene, fresh.settings.mode)
        key = (fresh.settings.world, fresh.settings.setting, fresh.agent, fresh.settings.proxy, fresh.settings.mode)
        groups.setdefault(key, []).append(fresh)
    done = len(paths) - bad - empty
    if not done and not bad and probed:
        return 0
    print(f"{done} stored scenes re-scored; {changed} scores changed{' and written' if args.write else ''}")
    for (world, setting, agent, proxy, mode), runs in sorted(groups.items()):
        label = agent if setting == "active" else f"{agent} ({proxy} log)"
        print(f"\n{world}, {setting}{'' if mode == 'default' else ', ' + mode}:")
        print(format_table([(label, summary(runs))], with_steps=setting == "active"))
    return 1 if bad else 0
