"""Probe requests of a false-belief episode, their answers, and the record that re-scores offline.

Two kinds of map are asked of an episode played with ``false_belief=True``:

- the last exploration-phase ``global`` map, built by the exploration probe builder from the
  exploration part of the conversation only (its last env message without the false-belief phase
  prompt, so the map is asked before the agent learns that anything changed);
- a ``global_fb`` map after every valid false-belief turn that is not a ``Term``: the context is the
  whole conversation up to the env message that followed the turn, with that message's budget line
  and footer removed, then the ``global_fb`` prompt.

Each request's ``context`` holds what scripted map writers need: the items observed while exploring,
those seen again so far, and the agent's pose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from theory_of_space.agents.base import Message
from theory_of_space.probes.cogmap import parse_cogmap
from theory_of_space.probes.false_belief import FalseBeliefMap, score_false_belief_maps
from theory_of_space.probes.replay import replay_episode, strip_budget_and_footer
from theory_of_space.probes.requests import (
    ProbeAnswer,
    ProbeAnswerer,
    ProbeRequest,
    answer_probes,
    build_probe_requests,
    probe_request,
)
from theory_of_space.world.geometry import Facing
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Pose, Scene

FALSE_BELIEF_RECORD_VERSION = 1
FALSE_BELIEF_PHASE = "false_belief"


@dataclass(frozen=True)
class FalseBeliefTurn:
    """One probed false-belief turn: its number among the phase's valid turns, the pose, what was seen again."""

    turn: int
    message_index: int
    pose: Pose
    seen_again: tuple[str, ...]


@dataclass(frozen=True)
class FalseBeliefEpisode:
    """What the false-belief probes and scores read from one episode's transcript and turn records."""

    scene: Scene
    changed: Scene
    changes: tuple[SceneChange, ...]
    messages: tuple[Message, ...]
    exploration_messages: tuple[Message, ...]
    """The conversation up to the end of exploration, its last env message without the phase prompt."""
    explored: tuple[str, ...]
    exploration_pose: Pose
    turns: tuple[FalseBeliefTurn, ...]
    first_seen: dict[str, int]
    """Object name → the false-belief turn in which an Observe first showed it again."""
    identification: dict[str, Any] = field(default_factory=dict)
    query_enabled: bool = True


def false_belief_episode(result: Any, changed: Scene) -> FalseBeliefEpisode:
    """Read a false-belief episode from a runner ``EpisodeResult`` (duck-typed: ``scene``, ``messages``, ``turns``).

    Args:
        result: the episode.
        changed: the changed scene (the env's ``false_belief_scene``).

    Raises:
        ValueError: when the episode has no false-belief phase.
    """
    exploration = [t for t in result.turns if t.info.get("phase") == "exploration"]
    phase = [t for t in result.turns if t.info.get("phase") == FALSE_BELIEF_PHASE]
    if not exploration or not phase:
        raise ValueError(f"episode on scene {result.scene.scene_id} has no false-belief phase")
    messages = tuple(result.messages)
    end = exploration[-1]
    parts = end.info["message_parts"]
    closing = "\n\n".join(parts[key] for key in ("result", "budget") if parts.get(key))
    end_index = _message_index(end.index)
    exploration_messages = (*messages[:end_index], replace(messages[end_index], content=closing))
    first_seen: dict[str, int] = {}
    turns: list[FalseBeliefTurn] = []
    seen: list[str] = []
    for turn in phase:
        info = turn.info
        for name in (*info["first_seen_changed"], *info["first_seen_unchanged"]):
            first_seen[name] = info["steps"]
        seen.extend(info["newly_observed"])
        if info["valid"] and not any(a.startswith("Term(") for a in info["actions"]):
            turns.append(FalseBeliefTurn(info["steps"], _message_index(turn.index), _pose(info["agent"]), tuple(seen)))
    session = getattr(result, "session", None)
    return FalseBeliefEpisode(
        scene=result.scene,
        changed=changed,
        changes=tuple(SceneChange.from_dict(c) for c in phase[0].info["changes"]),
        messages=messages,
        exploration_messages=exploration_messages,
        explored=tuple(end.info["observed"]),
        exploration_pose=_pose(end.info["agent"]),
        turns=tuple(turns),
        first_seen=first_seen,
        identification=dict(phase[-1].info.get("false_belief", {})),
        query_enabled=bool(getattr(session, "query_enabled", True)),
    )


def build_false_belief_requests(episode: FalseBeliefEpisode) -> list[ProbeRequest]:
    """The last exploration ``global`` probe and a ``global_fb`` probe per probed turn (pure)."""
    replay = replay_episode(
        episode.scene, episode.exploration_messages, query_enabled=episode.query_enabled, solver=False
    )
    exploration = [r for r in build_probe_requests(replay, ("global",)) if r.turn == len(replay.turns)]
    context = {"explored": list(episode.explored), "pose": _pose_dict(episode.exploration_pose)}
    requests = [replace(r, context={**r.context, **context}) for r in exploration]
    for turn in episode.turns:
        messages = list(episode.messages[: turn.message_index + 1])
        messages[-1] = replace(messages[-1], content=strip_budget_and_footer(messages[-1].content))
        extra = {"explored": list(episode.explored), "seen_again": list(turn.seen_again), "pose": _pose_dict(turn.pose)}
        requests.append(probe_request(messages, "global_fb", turn.turn, phase=FALSE_BELIEF_PHASE, extra=extra))
    return requests


@dataclass
class FalseBeliefRecord:
    """One episode's false-belief probes: what was asked, every answer, and what scoring needs."""

    scene: Scene
    changed: Scene
    changes: tuple[SceneChange, ...]
    explored: tuple[str, ...]
    first_seen: dict[str, int]
    identification: dict[str, Any]
    requests: list[dict[str, Any]]
    answers: dict[str, ProbeAnswer]
    answerer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FALSE_BELIEF_RECORD_VERSION,
            "scene": self.scene.to_dict(),
            "changed": self.changed.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
            "explored": list(self.explored),
            "first_seen": dict(self.first_seen),
            "identification": self.identification,
            "requests": list(self.requests),
            "answers": {key: answer.to_dict() for key, answer in self.answers.items()},
            "answerer": self.answerer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FalseBeliefRecord:
        version = data.get("version")
        if version != FALSE_BELIEF_RECORD_VERSION:
            raise ValueError(f"expected false-belief record version {FALSE_BELIEF_RECORD_VERSION}, got {version!r}")
        return cls(
            scene=Scene.from_dict(data["scene"]),
            changed=Scene.from_dict(data["changed"]),
            changes=tuple(SceneChange.from_dict(c) for c in data["changes"]),
            explored=tuple(data["explored"]),
            first_seen={str(k): int(v) for k, v in data["first_seen"].items()},
            identification=dict(data.get("identification", {})),
            requests=[dict(r) for r in data["requests"]],
            answers={str(k): ProbeAnswer.from_dict(v) for k, v in data["answers"].items()},
            answerer=str(data.get("answerer", "")),
        )

    def score(self, *, inertia_skip_exact: bool = True) -> dict[str, Any]:
        """The probe scores (:func:`score_false_belief_maps`); a failed or JSON-less answer is an invalid map."""
        exploration = [r for r in self.requests if r["kind"] == "global"]
        last = None
        if exploration:
            answer = self.answers.get(exploration[-1]["key"])
            parsed = parse_cogmap(answer.reply if answer and not answer.error else None, "global")
            last = parsed.entries if parsed.valid else None
        maps = []
        for request in (r for r in self.requests if r["kind"] == "global_fb"):
            answer = self.answers.get(request["key"])
            parsed = parse_cogmap(answer.reply if answer and not answer.error else None, "global_fb")
            maps.append(FalseBeliefMap(int(request["turn"]), parsed.entries if parsed.valid else None))
        scores = score_false_belief_maps(
            self.scene,
            self.changed,
            self.changes,
            exploration_map=last,
            maps=maps,
            first_seen=self.first_seen,
            known_before=self.explored,
            inertia_skip_exact=inertia_skip_exact,
        )
        return scores.to_dict()


def run_false_belief_probes(
    episode: FalseBeliefEpisode, answerer: ProbeAnswerer, *, in_flight: int = 8, per_request: bool = False
) -> FalseBeliefRecord:
    """Build the false-belief probes, answer them (failures are recorded, never raised), assemble the record."""
    requests = build_false_belief_requests(episode)
    answers = answer_probes(requests, answerer, in_flight=in_flight, per_request=per_request)
    return assemble_false_belief_record(episode, requests, answers, answerer=str(getattr(answerer, "name", "")))


def assemble_false_belief_record(
    episode: FalseBeliefEpisode, requests: Sequence[ProbeRequest], answers: Iterable[ProbeAnswer], *, answerer: str
) -> FalseBeliefRecord:
    """The record of an episode's false-belief probes from its requests and the answers that arrived (pure)."""
    return FalseBeliefRecord(
        scene=episode.scene,
        changed=episode.changed,
        changes=episode.changes,
        explored=episode.explored,
        first_seen=dict(episode.first_seen),
        identification=dict(episode.identification),
        requests=[{"key": r.key, "kind": r.kind, "turn": r.turn} for r in requests],
        answers={a.key: a for a in answers},
        answerer=answerer,
    )


def _message_index(turn_index: int) -> int:
    """The env message after the turn with this 1-based index (system, first prompt, then reply/answer pairs)."""
    return 2 * turn_index + 1


def _pose(agent: Mapping[str, Any]) -> Pose:
    return Pose((int(agent["cell"][0]), int(agent["cell"][1])), Facing.from_label(agent["facing"]))


def _pose_dict(pose: Pose) -> dict[str, Any]:
    return pose.to_dict()
