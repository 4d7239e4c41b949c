"""``tos evaluate`` and ``tos rescore``: the task suite after exploration, and offline re-scoring."""

from __future__ import annotations

import argparse
from pathlib import Path

from theory_of_space.commands.probe import add_probe_scoring_options, rescore_probes
from theory_of_space.env.exploration import DEFAULT_IMAGE_SIZE
from theory_of_space.probes.modes import EVALUATION_MODES
from theory_of_space.runner.evaluate import (
    PROXIES,
    PUBLISHED_PROXIES,
    SETTINGS,
    WORLDS,
    EvaluationSettings,
    SceneEvaluation,
    agent_factory,
    evaluate,
    find_evaluations,
    format_table,
    load_evaluation,
    rescore,
    save_evaluation,
    summary,
)
from theory_of_space.tasks import TASK_IDS, can_generate_all
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Scene
from theory_of_space.world.tos_format import load_tos_scene


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``rescore`` subcommands."""
    run = subparsers.add_parser("evaluate", help="exploration plus the nine evaluation tasks on N scenes")
    run.add_argument("--agent", default="oracle", help="oracle | belief | scout | strategist | random | a model spec")
    run.add_argument("--scenes", type=int, default=10, help="number of scenes (default 10)")
    run.add_argument("--first-seed", type=int, default=0, help="seed of the first scene (default 0)")
    run.add_argument("--rooms", type=int, default=3, help="rooms of the generated scenes (default 3)")
    run.add_argument("--data-dir", help="a folder of published runNN scene folders instead of generated scenes")
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
    run.add_argument("--max-steps", type=int, default=20, help="active exploration budget (default 20)")
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
    run.add_argument("--out", help="store every answer under this folder and resume what is stored there")
    run.set_defaults(func=_evaluate)

    again = subparsers.add_parser("rescore", help="score stored evaluation answers again, without a model")
    again.add_argument("path", help="an output folder of `tos evaluate --out`")
    again.add_argument("--write", action="store_true", help="write the new scores back into the stored files")
    add_probe_scoring_options(again)
    again.set_defaults(func=_rescore)


def _scenes(args: argparse.Namespace) -> list[Scene]:
    seeds = range(args.first_seed, args.first_seed + args.scenes)
    if args.data_dir is None:
        return [generate_scene(seed, n_rooms=args.rooms, accept=can_generate_all) for seed in seeds]
    root = Path(args.data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-dir: no folder {root}")
    return [load_tos_scene(root / f"run{seed:02d}") for seed in seeds]


def _evaluate(args: argparse.Namespace) -> int:
    if args.scenes < 1:
        raise ValueError(f"expected a positive number for --scenes, got {args.scenes}")
    tasks = TASK_IDS if args.tasks is None else tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    settings = EvaluationSettings(
        setting=args.setting,
        world=args.world,
        proxy=PUBLISHED_PROXIES[args.world] if args.proxy is None else args.proxy,
        image_size=args.image_size,
        think=not args.no_think,
        query_enabled=not args.no_query,
        max_exp_steps=args.max_steps,
        n_per_task=args.questions,
        tasks=tasks,
        mode=args.mode,
    )
    make = agent_factory(args.agent, query_enabled=settings.query_enabled, config_path=args.model_config)
    out = None if args.out is None else Path(args.out)
    runs = evaluate(_scenes(args), make, settings, agent_name=args.agent, out_dir=out)
    skipped = sorted({task for run in runs for task in run.unavailable})
    label = args.agent if settings.setting == "active" else f"{args.agent} ({settings.proxy} log)"
    questions = sum(len(r.answers) for r in runs)
    mode = "" if settings.mode == "default" else f"{settings.mode} mode, "
    print(f"{len(runs)} scenes, {settings.world} world, {settings.setting} setting, {mode}{questions} questions")
    if skipped:
        print(f"tasks some scenes could not produce: {', '.join(skipped)}")
    print(format_table([(label, summary(runs))], with_steps=settings.setting == "active"))
    return 0


def _rescore(args: argparse.Namespace) -> int:
    paths = find_evaluations(Path(args.path))
    probed = rescore_probes(args)
    if not paths:
        if probed:
            return 0
        raise FileNotFoundError(f"no stored evaluations or probe records under {args.path}")
    groups: dict[tuple[str, str, str, str, str], list[SceneEvaluation]] = {}
    changed = 0
    for path in paths:
        # scoring reads only the stored replies: the pictures stay on disk
        stored = load_evaluation(path, images=False)
        fresh = rescore(stored)
        changed += sum(a.score != b.score for a, b in zip(stored.answers, fresh.answers))
        if args.write:
            save_evaluation(fresh, path, images=False)
        key = (fresh.settings.world, fresh.settings.setting, fresh.agent, fresh.settings.proxy, fresh.settings.mode)
        groups.setdefault(key, []).append(fresh)
    print(f"{len(paths)} stored scenes re-scored; {changed} scores changed{' and written' if args.write else ''}")
    for (world, setting, agent, proxy, mode), runs in sorted(groups.items()):
        label = agent if setting == "active" else f"{agent} ({proxy} log)"
        print(f"\n{world}, {setting}{'' if mode == 'default' else ', ' + mode}:")
        print(format_table([(label, summary(runs))], with_steps=setting == "active"))
    return 0
