"""``tos probe --false-belief``: episodes with the false-belief phase, its map probes and every figure.

Each scene is explored, changed and explored again by one agent (``updating``, ``inertial`` or a model);
the same agent then answers the probes: the last exploration-phase map and a ``global_fb`` map after
each probed turn of the second phase. The table pools identification, steps, belief correctness,
belief inertia and the unchanged objects' accuracy and retention over the scenes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import gymnasium as gym

from theory_of_space.agents.factory import is_scripted, make_agent
from theory_of_space.agents.false_belief import FALSE_BELIEF_AGENTS, FalseBeliefAgent
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import (
    FalseBeliefRecord,
    false_belief_episode,
    run_false_belief_probes,
)
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.scene import Scene

FALSE_BELIEF_FILE = "false_belief_record.json"
TABLE_FIGURES = (
    ("f1_pos", "ident. pos"),
    ("f1_ori", "ident. ori"),
    ("f1_overall", "ident. all"),
    ("steps", "steps"),
    ("redundancy", "redundancy"),
    ("correctness_pos", "correct pos"),
    ("correctness_ori", "correct ori"),
    ("inertia_pos", "inertia pos"),
    ("inertia_ori", "inertia ori"),
    ("unchanged_accuracy", "unchanged acc"),
    ("unchanged_retention", "retention"),
)


def add_false_belief_options(parser: argparse.ArgumentParser) -> None:
    """The ``--false-belief`` switch of ``tos probe`` and its options."""
    parser.add_argument(
        "--false-belief",
        action="store_true",
        help="play the false-belief phase too and score it (agent: updating | inertial | a model spec)",
    )
    parser.add_argument(
        "--max-false-belief-steps", type=int, default=15, help="budget of the false-belief phase (default 15)"
    )
    parser.add_argument(
        "--inertia-keep-exact",
        action="store_true",
        help="score exactly correct moved objects as position inertia 0 instead of leaving them out",
    )


def probe_false_belief(args: argparse.Namespace, scenes: list[Scene]) -> dict[str, Any]:
    """Play, probe and score the false-belief phase on ``scenes``; prints the table and returns the summary.

    Raises:
        ValueError: when the agent is a map writer that cannot play the phase (``oracle``, ``belief``).
    """
    agent_spec = args.agent.strip()
    scripted = is_scripted(agent_spec)
    if scripted and agent_spec.lower() not in FALSE_BELIEF_AGENTS:
        raise ValueError(
            f"--false-belief needs --agent {' | '.join(FALSE_BELIEF_AGENTS)} or a model spec, got {agent_spec!r}"
        )
    if args.max_false_belief_steps < 1:
        raise ValueError(f"expected a positive --max-false-belief-steps, got {args.max_false_belief_steps}")
    query = not args.no_query
    shared = None if scripted else make_agent(agent_spec, scene=scenes[0], config_path=args.model_config)
    samples = []
    try:
        for scene in scenes:
            record = _one_scene(args, scene, agent_spec, shared, query=query)
            if args.out is not None:
                _save(record, Path(args.out) / _safe(agent_spec) / scene.scene_id / FALSE_BELIEF_FILE)
            probes = record.score(inertia_skip_exact=not args.inertia_keep_exact)
            samples.append({"identification": record.identification, "probes": probes})
    finally:
        close = getattr(shared, "close", None)
        if callable(close):
            close()
    summary = summarise_false_belief(samples)
    print(f"{len(scenes)} scenes, false-belief phase played and probed by {agent_spec}")
    print(format_false_belief_table(summary))
    return summary


def _one_scene(
    args: argparse.Namespace, scene: Scene, agent_spec: str, shared: Any, *, query: bool
) -> FalseBeliefRecord:
    env = gym.make(
        "TheoryOfSpace/Explore-FalseBelief-v0",
        max_exp_steps=args.max_steps,
        max_false_belief_steps=args.max_false_belief_steps,
        query_enabled=query,
        reward="none",
        data_dir=args.data_dir,
    )
    try:
        env.reset(options={"scene": scene})
        changed = env.unwrapped.false_belief_scene
        changes = env.unwrapped.false_belief_changes
        agent = shared
        if agent is None:
            agent = FalseBeliefAgent(
                agent_spec.lower(),  # type: ignore[arg-type]
                scene,
                changed,
                changes,
                query_enabled=query,
                max_false_belief_steps=args.max_false_belief_steps,
            )
        result = run_episode(env, agent, options={"scene": scene})
    finally:
        env.close()
    answerer = agent.answer_probe if isinstance(agent, FalseBeliefAgent) else agent
    return run_false_belief_probes(false_belief_episode(result, changed), answerer, in_flight=args.in_flight)


def format_false_belief_table(summary: dict[str, Any]) -> str:
    """The pooled figures as a two-line table, then the skipped-object counts."""
    header = " ".join(f"{label:>13s}" for _, label in TABLE_FIGURES)
    cells = " ".join(
        f"{'n/a' if summary[key] is None else format(summary[key], '.3f'):>13s}" for key, _ in TABLE_FIGURES
    )
    skipped = ", ".join(f"{reason}={count}" for reason, count in sorted(summary["skipped"].items())) or "none"
    return f"{header}\n{cells}\nleft out of inertia: {skipped}; invalid maps: {summary['invalid_maps']}"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.," else "_" for ch in name)


def _save(record: FalseBeliefRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_dict()))
    os.replace(tmp, path)
