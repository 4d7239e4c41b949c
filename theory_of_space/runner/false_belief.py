"""False-belief episodes from a transcript: which turns are probed, what each map is scored on.

An episode played on an env with ``false_belief=True`` holds both phases in its turn records (each
turn's ``info["phase"]``). This module reads what the false-belief scores need from them, and scores
the maps of a map writer (a scripted agent, or stored model replies) with
:func:`~theory_of_space.probes.false_belief.score_false_belief_maps`.

Probed turns: every valid false-belief turn that is not a ``Term``; so the phase's terminal turn is not
probed when it is a ``Term``, and when the phase ran out of budget its last observation is probed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.probes.cogmap import parse_cogmap
from theory_of_space.probes.false_belief import FalseBeliefMap, score_false_belief_maps
from theory_of_space.runner.episode import EpisodeResult
from theory_of_space.world.geometry import Facing
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Pose, Scene


@dataclass
class FalseBeliefTurn:
    """One probed false-belief turn: its number in the phase, the agent's pose and what was seen again."""

    turn: int
    pose: Pose
    seen_again: list[str]


@dataclass
class FalseBeliefEpisode:
    """What the false-belief scores read from one episode."""

    scene: Scene
    changed: Scene
    changes: tuple[SceneChange, ...]
    explored: list[str]
    exploration_pose: Pose
    turns: list[FalseBeliefTurn] = field(default_factory=list)
    first_seen: dict[str, int] = field(default_factory=dict)
    identification: dict[str, Any] = field(default_factory=dict)


def false_belief_episode(result: EpisodeResult, changed: Scene) -> FalseBeliefEpisode:
    """Read the false-belief records of an episode.

    Args:
        result: an episode played with ``false_belief=True``.
        changed: the changed scene (the env's ``false_belief_scene``).

    Raises:
        ValueError: when the episode has no false-belief phase.
    """
    exploration = [t for t in result.turns if t.info.get("phase") == "exploration"]
    phase = [t for t in result.turns if t.info.get("phase") == "false_belief"]
    if not exploration or not phase:
        raise ValueError(f"episode on scene {result.scene.scene_id} has no false-belief phase")
    last = exploration[-1].info
    episode = FalseBeliefEpisode(
        scene=result.scene,
        changed=changed,
        changes=tuple(SceneChange.from_dict(c) for c in phase[0].info["changes"]),
        explored=list(last["observed"]),
        exploration_pose=_pose(last["agent"]),
        identification=dict(phase[-1].info.get("false_belief", {})),
    )
    seen: list[str] = []
    for turn in phase:
        info = turn.info
        for name in (*info["first_seen_changed"], *info["first_seen_unchanged"]):
            episode.first_seen[name] = info["steps"]
        seen.extend(info["newly_observed"])
        if info["valid"] and not any(a.startswith("Term(") for a in info["actions"]):
            episode.turns.append(FalseBeliefTurn(turn=info["steps"], pose=_pose(info["agent"]), seen_again=list(seen)))
    return episode


MapWriter = Callable[[FalseBeliefTurn | None], str]
"""Writes a map reply: the last exploration-phase global map for None, the ``global_fb`` map for a turn."""


def score_map_writer(
    episode: FalseBeliefEpisode, write: MapWriter, *, inertia_skip_exact: bool = True
) -> dict[str, Any]:
    """Score the maps a writer gives for one episode; returns the probe scores' dict."""
    last = parse_cogmap(write(None), "global")
    maps = []
    for turn in episode.turns:
        parsed = parse_cogmap(write(turn), "global_fb")
        maps.append(FalseBeliefMap(turn.turn, parsed.entries if parsed.valid else None))
    scores = score_false_belief_maps(
        episode.scene,
        episode.changed,
        episode.changes,
        exploration_map=last.entries if last.valid else None,
        maps=maps,
        first_seen=episode.first_seen,
        known_before=episode.explored,
        inertia_skip_exact=inertia_skip_exact,
    )
    return scores.to_dict()


def _pose(agent: dict[str, Any]) -> Pose:
    return Pose((int(agent["cell"][0]), int(agent["cell"][1])), Facing.from_label(agent["facing"]))
