"""``tos run``, ``tos explore`` and ``tos scene``: exploration episodes and scenes from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym

from theory_of_space.agents.config import parse_overrides
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS
from theory_of_space.env.actions import split_reply
from theory_of_space.env.ascii_map import ascii_map
from theory_of_space.runner.episode import EpisodeResult, run_episode
from theory_of_space.world.generate import TOPOLOGIES, generate_scene
from theory_of_space.world.scene import Scene
from theory_of_space.world.tos_format import load_tos_scene

DEMO_AGENTS = ("scout", "strategist")
METRIC_KEYS = ("node_coverage", "edge_coverage", "information_gain", "steps", "invalid_steps", "action_cost")


def add_explore_parsers(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="the default job: SCOUT and STRATEGIST on a generated 3-room scene (proxy budget)"
    )
    run.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    run.set_defaults(func=_run)

    explore = subparsers.add_parser("explore", help="one exploration episode with an agent")
    explore.add_argument("--agent", default="scout", help="scout | strategist | random | a model spec or config entry")
    _add_scene_arguments(explore)
    explore.add_argument("--max-steps", type=int, default=20, help="exploration budget in turns (default 20)")
    explore.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    explore.add_argument("--no-think", action="store_true", help="prompts without the THINK: section")
    explore.add_argument("--model-config", help="model configuration file (for model agents)")
    explore.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model setting of the configuration entry (repeatable), e.g. --set temperature=0",
    )
    explore.add_argument(
        "--false-belief",
        action="store_true",
        help="after exploring, change objects and play the false-belief phase (agents updating/inertial fit it)",
    )
    explore.add_argument("--json", dest="json_out", help="also write the transcript and metrics to this JSON file")
    explore.set_defaults(func=_explore)

    scene = subparsers.add_parser("scene", help="print a scene's ASCII map and its JSON")
    _add_scene_arguments(scene)
    scene.set_defaults(func=_scene)


def _add_scene_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    parser.add_argument("--scene", help="a published scene folder (runNN) or a scene JSON file")
    parser.add_argument("--rooms", type=int, default=3, help="number of rooms of a generated scene (default 3)")
    parser.add_argument("--topology", choices=TOPOLOGIES, help="topology of a generated scene")


def load_scene_argument(args: argparse.Namespace) -> Scene:
    """The scene named by ``--scene``, or the generated one for ``--seed``/``--rooms``/``--topology``."""
    if args.scene is None:
        return generate_scene(args.seed, n_rooms=args.rooms, topology=args.topology)
    path = Path(args.scene)
    if path.is_dir():
        return load_tos_scene(path)
    if path.suffix == ".json" and path.is_file():
        data = json.loads(path.read_text())
        return Scene.from_dict(data.get("scene", data))
    raise SystemExit(f"--scene: expected a published scene folder or a scene JSON file, got {args.scene}")


def print_episode(result: EpisodeResult) -> None:
    """The transcript (each reply's answer and the env's answer to it), then the final metrics."""
    print(f"== {result.agent} on scene {result.scene.scene_id} ==")
    phase = "exploration"
    for turn in result.turns:
        if turn.info.get("phase", phase) != phase:
            phase = turn.info["phase"]
            print(f"== {phase.replace('_', '-')} phase: " + ", ".join(_change_text(c) for c in turn.info["changes"]))
        answer = split_reply(turn.reply)[1]
        print(f"-- turn {turn.index}{'' if turn.valid else ' (invalid)'}: {answer}")
        print(turn.info["message_parts"]["result"])
    print("-- metrics: " + ", ".join(f"{key}={_fmt(result.metrics[key])}" for key in METRIC_KEYS))
    false_belief = result.metrics.get("false_belief")
    if false_belief:
        keys = ("f1_pos", "f1_ori", "f1_overall", "steps", "redundancy", "action_cost")
        print("-- false belief: " + ", ".join(f"{key}={_fmt(false_belief[key])}" for key in keys))


def _change_text(change: dict) -> str:
    if change["kind"] == "move":
        return f"{change['name']} moved {tuple(change['cell_from'])} -> {tuple(change['cell_to'])}"
    return f"{change['name']} turned {change['facing_from']} -> {change['facing_to']}"


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _run(args: argparse.Namespace) -> int:
    scene = generate_scene(args.seed, n_rooms=3)
    print(ascii_map(scene, scene.start))
    for name in DEMO_AGENTS:
        env = gym.make("TheoryOfSpace/Explore-v0", reward="none", max_exp_steps=PROXY_MAX_EXP_STEPS)
        print()
        print_episode(run_episode(env, make_agent(name, scene=scene), options={"scene": scene}))
    return 0


def _explore(args: argparse.Namespace) -> int:
    scene = load_scene_argument(args)
    options = {}
    if args.false_belief:
        folder = Path(args.scene) if args.scene and Path(args.scene).is_dir() else None
        options = {"false_belief": True, "data_dir": None if folder is None else str(folder.parent)}
    env = gym.make(
        "TheoryOfSpace/Explore-v0",
        max_exp_steps=args.max_steps,
        query_enabled=not args.no_query,
        think=not args.no_think,
        **options,
    )
    false_belief = None
    if args.false_belief:
        env.reset(options={"scene": scene})
        false_belief = (env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes)
    agent = make_agent(
        args.agent,
        scene=scene,
        seed=args.seed,
        query_enabled=not args.no_query,
        config_path=args.model_config,
        overrides=parse_overrides(args.overrides),
        false_belief=false_belief,
    )
    result = run_episode(env, agent, options={"scene": scene})
    print_episode(result)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=1))
    return 0


def _scene(args: argparse.Namespace) -> int:
    scene = load_scene_argument(args)
    print(ascii_map(scene, scene.start))
    print(json.dumps(scene.to_dict()))
    return 0
