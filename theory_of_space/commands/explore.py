"""``tos explore`` and ``tos scene``: exploration episodes and scenes from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

from theory_of_space.agents.config import parse_overrides
from theory_of_space.agents.factory import check_agent_spec, make_agent
from theory_of_space.env.actions import split_reply
from theory_of_space.env.ascii_map import ascii_map
from theory_of_space.env.false_belief import false_belief_target
from theory_of_space.runner.episode import EpisodeResult, TurnRecord, run_episode
from theory_of_space.world.generate import TOPOLOGIES, generate_scene
from theory_of_space.world.published import SCENE_PREFIX, published_scene_names
from theory_of_space.world.scene import Scene, load_scene_file
from theory_of_space.world.tos_format import META_FILE, load_tos_scene

DEMO_AGENTS = ("scout", "strategist")
METRIC_KEYS = ("node_coverage", "edge_coverage", "information_gain", "steps", "invalid_steps", "action_cost")
DEFAULT_MAX_STEPS = 20
"""The exploration budget of ``tos explore`` and ``tos evaluate`` in turns, as in the published benchmark."""


def add_explore_parsers(subparsers: argparse._SubParsersAction) -> None:
    explore = subparsers.add_parser("explore", help="one exploration episode with an agent")
    explore.add_argument("--agent", default="scout", help="scout | strategist | random | a model spec or config entry")
    add_scene_arguments(explore)
    explore.add_argument(
        "--max-steps",
        type=int,
        default=DEFAULT_MAX_STEPS,
        help=f"exploration budget in turns (default {DEFAULT_MAX_STEPS})",
    )
    explore.add_argument("--no-query", action="store_true", help="remove Query() from the action set")
    explore.add_argument("--no-think", action="store_true", help="prompts without the THINK: section")
    explore.add_argument("--model-config", help="model configuration file (for model agents)")
    add_set_argument(explore)
    explore.add_argument(
        "--false-belief",
        action="store_true",
        help="after exploring, change objects and play the false-belief phase (agents updating/inertial fit it)",
    )
    explore.add_argument("--json", dest="json_out", help="also write the transcript and metrics to this JSON file")
    explore.set_defaults(func=_explore)

    scene = subparsers.add_parser("scene", help="print a scene's ASCII map, and its JSON (to --out, or after the map)")
    add_scene_arguments(scene)
    scene.add_argument("--out", help="write the scene JSON to this file; stdout then holds only the map")
    scene.set_defaults(func=_scene)


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """The repeatable ``--set KEY=VALUE`` model-setting override (``tos explore`` and ``tos evaluate``)."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model setting of the configuration entry (repeatable), e.g. --set temperature=0",
    )


def add_scene_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed``, ``--scene``, ``--rooms`` and ``--topology``: which scene a subcommand plays."""
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    parser.add_argument(
        "--scene",
        help=f"a shipped published scene ({', '.join(published_scene_names())}), a published scene folder "
        f"(runNN), its {META_FILE}, or a scene JSON file written by `tos scene --out`",
    )
    parser.add_argument("--rooms", type=int, default=3, help="number of rooms of a generated scene (default 3)")
    parser.add_argument("--topology", choices=TOPOLOGIES, help="topology of a generated scene")


def load_scene_argument(args: argparse.Namespace) -> Scene:
    """The scene named by ``--scene``, or the generated one for ``--seed``/``--rooms``/``--topology``."""
    if args.scene is None:
        return generate_scene(args.seed, n_rooms=args.rooms, topology=getattr(args, "topology", None))
    return load_scene_path(args.scene)


def load_scene_path(text: str) -> Scene:
    """A scene from ``tos:runNN``, a published folder or its ``meta_data.json``, or a scene JSON file.

    Raises:
        ValueError: an unknown ``tos:`` name (listing the shipped ones), or a file that is neither kind.
        FileNotFoundError: nothing at the path.
    """
    path = Path(text)
    if text.startswith(SCENE_PREFIX) or path.is_dir() or path.name == META_FILE:
        return load_tos_scene(text)
    if not path.is_file():
        raise FileNotFoundError(f"--scene: no scene folder or scene JSON file at {text}")
    return load_scene_file(path)


def print_turn(turn: TurnRecord) -> None:
    """One turn of the transcript: the reply's answer part and the env's answer to it (printed at once)."""
    answer = split_reply(turn.reply)[1]
    print(f"-- turn {turn.index}{'' if turn.valid else ' (invalid)'}: {answer}")
    print(turn.info["message_parts"]["result"], flush=True)
    if turn.info["message_parts"].get("phase_prompt"):
        print("== false-belief phase: the agent is back at the start; objects have changed ==", flush=True)


def print_metrics(result: EpisodeResult) -> None:
    """The final metrics; after a false-belief phase also what changed and the identification scores."""
    print("-- metrics: " + ", ".join(f"{key}={_fmt(result.metrics[key])}" for key in METRIC_KEYS))
    false_belief = result.metrics.get("false_belief")
    if false_belief:
        changes = result.turns[-1].info.get("changes", [])
        print("-- changes: " + ", ".join(_change_text(change) for change in changes))
        keys = ("f1_pos", "f1_ori", "f1_overall", "steps", "redundancy", "action_cost")
        print("-- false belief: " + ", ".join(f"{key}={_fmt(false_belief[key])}" for key in keys))


def _change_text(change: dict) -> str:
    if change["kind"] == "move":
        return f"{change['name']} moved {tuple(change['cell_from'])} -> {tuple(change['cell_to'])}"
    return f"{change['name']} turned {change['facing_from']} -> {change['facing_to']}"


def failed_call_status(errors: Sequence[str | None], *, command: str) -> int:
    """Report failed model calls; the exit status is 1 when there were calls and none of them succeeded.

    A run whose every call failed measured nothing (a wrong URL, key or model name): it must not look
    like a success to a script or CI job that checks the exit status.
    """
    failed = [error for error in errors if error is not None]
    if not failed:
        return 0
    summary = f"tos {command}: {len(failed)} of {len(errors)} model calls failed; first error: {failed[0]}"
    print(summary, file=sys.stderr)
    return 1 if len(failed) == len(errors) else 0


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _explore(args: argparse.Namespace) -> int:
    check_agent_spec(args.agent, config_path=args.model_config)
    scene = load_scene_argument(args)
    options = {}
    false_belief = None
    if args.false_belief:
        folder = Path(args.scene) if args.scene and Path(args.scene).is_dir() else None
        options = {"false_belief": True, "data_dir": None if folder is None else str(folder.parent)}
        false_belief = false_belief_target(scene, folder=folder)
    agent = make_agent(
        args.agent,
        scene=scene,
        seed=args.seed,
        query_enabled=not args.no_query,
        config_path=args.model_config,
        overrides=parse_overrides(args.overrides),
        false_belief=false_belief,
    )
    env = gym.make(
        "TheoryOfSpace/Explore-v0",
        max_exp_steps=args.max_steps,
        query_enabled=not args.no_query,
        think=not args.no_think,
        action_format=getattr(agent, "action_format", "text"),  # a model configured with tools acts by calls
        **options,
    )
    print(f"== {args.agent} on scene {scene.scene_id}, budget {args.max_steps} turns ==", flush=True)
    result = run_episode(env, agent, options={"scene": scene}, on_turn=print_turn)
    print_metrics(result)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=1))
    return failed_call_status([turn.record.error for turn in result.turns], command="explore")


def _scene(args: argparse.Namespace) -> int:
    scene = load_scene_argument(args)
    print(ascii_map(scene, scene.start))
    if args.out is None:
        print(json.dumps(scene.to_dict()))
    else:
        Path(args.out).write_text(json.dumps(scene.to_dict(), indent=1))
    return 0
