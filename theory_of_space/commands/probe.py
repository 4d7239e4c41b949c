"""``tos probe``: exploration then the belief probes on N scenes, with the six diagnostics; probe re-scoring."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from theory_of_space.agents.factory import is_scripted, make_agent
from theory_of_space.commands.probe_false_belief import add_false_belief_options, probe_false_belief
from theory_of_space.probes.metrics import aggregate_probe_metrics, format_probe_table, probe_metrics
from theory_of_space.probes.replay import replay_episode
from theory_of_space.probes.requests import (
    PROBE_KINDS,
    ProbeRecord,
    ProbeRequest,
    answer_probes,
    assemble_probe_record,
    build_probe_requests,
)
from theory_of_space.runner.pool import AgentSpec, EpisodeJob, run_episodes
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Scene
from theory_of_space.world.tos_format import load_tos_scene

PROBE_FILE = "probe_record.json"
MAP_WRITERS = ("oracle", "belief")


def add_probe_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``probe`` subcommand."""
    run = subparsers.add_parser("probe", help="exploration plus the belief probes (cognitive maps) on N scenes")
    run.add_argument("--agent", default="oracle", help="who answers the probes: oracle | belief | a model spec")
    run.add_argument(
        "--explorer",
        help="who explores (default: the agent itself; strategist for the oracle, which does not explore)",
    )
    run.add_argument("--scenes", type=int, default=10, help="number of scenes (default 10)")
    run.add_argument("--first-seed", type=int, default=0, help="seed of the first scene (default 0)")
    run.add_argument("--rooms", type=int, default=3, help="rooms of the generated scenes (default 3)")
    run.add_argument("--data-dir", help="a folder of published runNN scene folders instead of generated scenes")
    run.add_argument("--max-steps", type=int, default=20, help="exploration budget (default 20)")
    run.add_argument("--kinds", default=",".join(PROBE_KINDS), help="probes to ask (default global,local,fog)")
    run.add_argument("--in-flight", type=int, default=8, help="requests in flight at once (default 8)")
    run.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    run.add_argument("--model-config", help="model configuration file (for model agents)")
    run.add_argument("--out", help=f"write each scene's {PROBE_FILE} under this folder")
    add_probe_scoring_options(run)
    add_false_belief_options(run)
    run.set_defaults(func=_probe)


def add_probe_scoring_options(parser: argparse.ArgumentParser) -> None:
    """The scoring options of :func:`~theory_of_space.probes.metrics.probe_metrics` as flags."""
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


def _scoring(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "invalid_maps": args.invalid_maps,
        "correctness_scope": args.correctness_scope,
        "perception_scope": args.perception_scope,
    }


def _scenes(args: argparse.Namespace) -> list[Scene]:
    seeds = range(args.first_seed, args.first_seed + args.scenes)
    if args.data_dir is None:
        return [generate_scene(seed, n_rooms=args.rooms) for seed in seeds]
    root = Path(args.data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-dir: no folder {root}")
    return [load_tos_scene(root / f"run{seed:02d}") for seed in seeds]


def _probe(args: argparse.Namespace) -> int:
    if args.scenes < 1 or args.in_flight < 1 or args.max_steps < 1:
        raise ValueError("expected positive --scenes, --in-flight and --max-steps")
    if args.false_belief:
        probe_false_belief(args, _scenes(args))
        return 0
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    query = not args.no_query
    agent = args.agent.strip()
    explorer = args.explorer or ("strategist" if agent.lower() == "oracle" else agent)
    scenes = _scenes(args)
    jobs = [EpisodeJob(s, env_kwargs={"max_exp_steps": args.max_steps, "query_enabled": query}) for s in scenes]
    spec = AgentSpec(explorer, config_path=args.model_config, query_enabled=query)
    episodes = run_episodes(jobs, spec, in_flight=args.in_flight)

    replays = [replay_episode(e.scene, e.messages, agent=explorer, query_enabled=query) for e in episodes]
    per_episode = [build_probe_requests(replay, kinds) for replay in replays]
    owner: dict[int, Scene] = {id(r): replay.scene for replay, rs in zip(replays, per_episode) for r in rs}
    shared = None if is_scripted(agent) else make_agent(agent, scene=scenes[0], config_path=args.model_config)
    writers: dict[str, Any] = {}

    def answerer_for(request: ProbeRequest) -> Any:
        if shared is not None:
            return shared
        scene = owner[id(request)]
        if scene.scene_id not in writers:
            writers[scene.scene_id] = make_agent(agent, scene=scene, query_enabled=query)
        return writers[scene.scene_id]

    flat = [r for rs in per_episode for r in rs]
    try:
        answers = answer_probes(flat, answerer_for, in_flight=args.in_flight, per_request=True)
    finally:
        close = getattr(shared, "close", None)
        if callable(close):
            close()
    by_request = {id(r): a for r, a in zip(flat, answers)}
    records = [
        assemble_probe_record(replay, rs, [by_request[id(r)] for r in rs], answerer=agent)
        for replay, rs in zip(replays, per_episode)
    ]
    if args.out is not None:
        for record in records:
            _save(record, Path(args.out) / _safe(agent) / record.scene.scene_id / PROBE_FILE)
    metrics = [probe_metrics(record, **_scoring(args)) for record in records]
    print(f"{len(records)} scenes, explored by {explorer}, probes answered by {agent}, {len(flat)} probes")
    print(format_probe_table([(f"{agent} ({explorer} exploration)", aggregate_probe_metrics(metrics))]))
    return 0


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.," else "_" for ch in name)


def _save(record: ProbeRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_dict()))
    os.replace(tmp, path)


def load_probe_record(path: Path) -> ProbeRecord:
    """A stored probe record; a malformed file raises ``ValueError`` naming it."""
    try:
        return ProbeRecord.from_dict(json.loads(Path(path).read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a probe record ({error})") from error


def rescore_probes(args: argparse.Namespace) -> int:
    """Re-score every stored probe record under ``args.path`` and print the table per answerer; the count."""
    paths = sorted(Path(args.path).rglob(PROBE_FILE))
    if not paths:
        return 0
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        record = load_probe_record(path)
        label = f"{record.answerer or '?'} ({record.agent or '?'} exploration)"
        groups.setdefault(label, []).append(probe_metrics(record, **_scoring(args)))
    print(f"{len(paths)} stored probe records re-scored")
    print(format_probe_table([(label, aggregate_probe_metrics(m)) for label, m in sorted(groups.items())]))
    return len(paths)
