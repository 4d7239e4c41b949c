"""Per-turn facts of a stored exploration, derived again from the scene and the transcript.

Probes are asked after the episode, and their metrics need what the env knew at every turn: the pose,
what was visible, observed and newly observed, the knowledge solver's candidate counts and the fog
probe's candidates. :func:`replay_episode` plays the transcript's replies on a fresh
:class:`~theory_of_space.env.session.ExplorationSession`, so the same transcript always gives the same
snapshots, and nothing of the live run has to be kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.agents.answerers import conversation_turns
from theory_of_space.agents.base import Message
from theory_of_space.env.actions import ParsedTurn
from theory_of_space.env.session import ExplorationSession
from theory_of_space.env.tools import ToolCalls
from theory_of_space.probes.fog import FogCandidates, ObserveRecord, fog_candidates
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Pose, Scene, scene_seed

MAX_CANDIDATE_SAMPLE = 200
"""The exploration log records at most this many candidate cells per item; Stability reads counts capped here."""
_REPLAY_BUDGET = 10**6
_BUDGET_LINE = re.compile(r"\n\n(?:You have \d+ exploration steps? left\.|No exploration steps are left\.)")


@dataclass(frozen=True)
class TurnSnapshot:
    """What the env knew after one valid turn."""

    turn: int
    """1-based index among the valid turns."""
    message_index: int
    """Index in the conversation of the env message that followed this turn."""
    pose: Pose
    rooms: tuple[int, ...]
    visible: tuple[str, ...]
    """Items in view at this turn's observation (empty without one)."""
    observed: tuple[str, ...]
    """Items observed so far, in order of first sight."""
    newly_observed: tuple[str, ...]
    candidate_counts: dict[str, int]
    """Per item, the solver's candidate-set size, capped at :data:`MAX_CANDIDATE_SAMPLE`."""
    fog: FogCandidates | None
    """The fog probe's candidates (``None`` when no room offers both explored and unexplored cells)."""
    final: bool
    """Whether this turn ended the phase with a valid ``Term()``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "message_index": self.message_index,
            "pose": self.pose.to_dict(),
            "rooms": list(self.rooms),
            "visible": list(self.visible),
            "observed": list(self.observed),
            "newly_observed": list(self.newly_observed),
            "candidate_counts": dict(self.candidate_counts),
            "fog": None if self.fog is None else self.fog.to_dict(),
            "final": self.final,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TurnSnapshot:
        return cls(
            turn=int(data["turn"]),
            message_index=int(data["message_index"]),
            pose=Pose.from_dict(data["pose"]),
            rooms=tuple(int(r) for r in data["rooms"]),
            visible=tuple(data["visible"]),
            observed=tuple(data["observed"]),
            newly_observed=tuple(data["newly_observed"]),
            candidate_counts={str(k): int(v) for k, v in data["candidate_counts"].items()},
            fog=None if data.get("fog") is None else FogCandidates.from_dict(data["fog"]),
            final=bool(data["final"]),
        )


@dataclass(frozen=True)
class EpisodeReplay:
    """A transcript with its per-turn snapshots: the input of the probe request builder."""

    scene: Scene
    messages: tuple[Message, ...]
    turns: tuple[TurnSnapshot, ...]
    agent: str = ""
    passive: bool = False
    """A passive episode: the conversation is a history prompt, probed once with a global map."""
    query_enabled: bool = True
    observations: tuple[ObserveRecord, ...] = ()
    """Every ``Observe()`` of the replayed turns, in order."""
    session: ExplorationSession | None = field(default=None, compare=False, repr=False)
    """The replayed session in its final state (its knowledge solver included)."""


def replay_episode(
    scene: Scene,
    messages: Sequence[Message],
    *,
    agent: str = "",
    query_enabled: bool = True,
    solver: bool = True,
) -> EpisodeReplay:
    """Replay a conversation's exploration and take a snapshot after every valid turn.

    Args:
        scene: the episode's scene.
        messages: the conversation: system, first prompt, then replies and env messages (active), or
            system and the history prompt (passive). When replies carry tool calls (a tool-calling
            model's episode), each reply is played as its calls.
        agent: the explorer's name, kept for the record.
        query_enabled: whether ``Query`` was part of the grammar.
        solver: whether to run the knowledge solver for the candidate counts (they are empty otherwise).
    """
    messages = tuple(messages)
    session = ExplorationSession(scene, max_steps=_REPLAY_BUDGET, query_enabled=query_enabled)
    replies = [i for i, m in enumerate(messages) if m.role == "assistant"]
    passive = not replies
    plays: list[tuple[str | ParsedTurn | ToolCalls, int]]
    if passive:
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
        plays = [(t, last_user) for t in conversation_turns(messages, query_enabled=query_enabled)]
    else:
        # A tool-calling model's turns are its calls (a reply without one was an invalid turn, as in the env).
        tools = any(messages[i].tool_calls for i in replies)
        plays = [(ToolCalls(list(messages[i].tool_calls)) if tools else messages[i].content, i + 1) for i in replies]
    seed = scene_seed(scene)
    observations: list[ObserveRecord] = []
    snapshots: list[TurnSnapshot] = []
    for reply, message_index in plays:
        if session.done:
            break
        outcome = session.play(reply if isinstance(reply, (str, ToolCalls)) else list(reply.actions))
        if not outcome.valid:
            continue
        if outcome.view is not None:
            observations.append(ObserveRecord(session.cell, session.facing, tuple(session.rooms), session.anchor))
        turn = len(snapshots) + 1
        counts: dict[str, int] = {}
        if solver:
            knowledge = session.knowledge()
            counts = {item.name: min(MAX_CANDIDATE_SAMPLE, knowledge.domain_size(item.name)) for item in scene.items}
        fog = fog_candidates(scene, observations, session.cell, seed=seed, turn=turn) if observations else None
        snapshots.append(
            TurnSnapshot(
                turn=turn,
                message_index=min(message_index, len(messages) - 1),
                pose=Pose(session.cell, Facing(session.facing)),
                rooms=tuple(session.rooms),
                visible=() if outcome.view is None else tuple(outcome.view.names),
                observed=tuple(session.coverage.observed),
                newly_observed=tuple(outcome.newly_observed),
                candidate_counts=counts,
                fog=fog if fog is not None and fog.letters else None,
                final=outcome.phase_end == "term",
            )
        )
    return EpisodeReplay(scene, messages, tuple(snapshots), agent, passive, query_enabled, tuple(observations), session)


def strip_budget_and_footer(text: str) -> str:
    """An env message without its budget line and reply-format footer (the probe context of a turn)."""
    matches = list(_BUDGET_LINE.finditer(text))
    return text[: matches[-1].start()] if matches else text
