"""Non-model answerers for the evaluation tasks: an oracle and a belief baseline, behind the agent protocol.

Both read the question from the last user message (:func:`~theory_of_space.tasks.find_question`)
and reply in the benchmark's ``THINK:`` / ``FINAL ANSWER:`` format, so the evaluation runner drives
them exactly like models.

Asked a belief probe (a cognitive map or the fog probe), each replies as the map writer of the same
name (:mod:`theory_of_space.probes.writers`).

- :class:`OracleAnswerer` answers from the true scene with each task's solver. It checks the
  generators and the scorers against each other: it must score 1.0 on every question. Asked to
  explore, it ends exploration at once.
- :class:`BeliefAnswerer` answers only from what the exploration in the conversation established.
  It replays the exploration (the assistant's turns in active mode, the ``Actions: [...]`` lines of
  the exploration history in passive mode) through an :class:`ExplorationSession` and reads its
  knowledge solver. An item counts as known when its candidate set is a single cell (it was then
  observed, so its facing is known too); the task solvers run on the scene restricted to the known
  items, which makes every label answer right by construction. For the two-item relations (dir,
  persp, loc2view) with an item not pinned down, each part (direction, distance) is given when every
  pair of candidate cells agrees on it. Everything else that needs an unknown item is answered
  ``unknown`` (score 0 for that part). Coordinates are always given: the known cell, or the
  candidate nearest the centre of the item's candidate set. Asked to explore, it explores as
  STRATEGIST.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.agents.scripted import strategist_agent
from theory_of_space.env.actions import ParsedTurn, format_actions, parse_actions
from theory_of_space.env.knowledge import KnowledgeSolver
from theory_of_space.env.session import ExplorationSession
from theory_of_space.tasks import TASKS, Question, find_question, generate_questions
from theory_of_space.tasks.allocentric import format_coordinates
from theory_of_space.tasks.base import view_from_dict
from theory_of_space.tasks.localisation import origin_cell
from theory_of_space.tasks.navigation import replay_plan
from theory_of_space.world.geometry import (
    Cell,
    Facing,
    cardinal_label,
    distance_label,
    ego_direction_label,
    offset_bearing,
)
from theory_of_space.world.scene import Scene
from theory_of_space.world.view import describe_item

UNKNOWN = "unknown"
"""What the belief answerer writes where the exploration left doubt."""
_HISTORY_LINE = re.compile(r"^\s*\d+\.\s*(Actions:\s*\[[^\]]*\])", re.MULTILINE)
_HISTORY_HEADING = "## Exploration History"
_REPLAY_BUDGET = 10**6
MAX_RELATION_PAIRS = 50_000
"""Beyond this many candidate pairs a relation counts as unknown (an unobserved item has the whole box)."""


def _reply(name: str, think: str, answer: str) -> AgentReply:
    return AgentReply(text=f"THINK: {think}\nFINAL ANSWER: {answer}", record=CallRecord(model=name))


def _last_user_text(messages: Sequence[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


class OracleAnswerer:
    """Answers every question from the true scene; ends exploration at once.

    Args:
        scene: the true scene.
        questions: the questions it may be asked; by default the scene's question suite.

    Example:
        >>> oracle = OracleAnswerer(scene)  # doctest: +SKIP
        >>> oracle.act(question_messages(conversation, question)).text  # doctest: +SKIP
        'THINK: ...\\nFINAL ANSWER: south east, mid distance'
    """

    name = "oracle"

    def __init__(self, scene: Scene, questions: Sequence[Question] | None = None) -> None:
        self.scene = scene
        self.questions = tuple(generate_questions(scene).questions if questions is None else questions)

    def act(self, messages: Sequence[Message]) -> AgentReply:
        from theory_of_space.probes.writers import write_probe_reply  # probes replay with this module's helpers

        probe = write_probe_reply("oracle", self.scene, messages)
        if probe is not None:
            return AgentReply(text=probe, record=CallRecord(model=self.name))
        question = find_question(_last_user_text(messages), self.questions)
        if question is None:
            return _reply(self.name, "The oracle needs no exploration.", "Actions: [Term()]")
        answer = TASKS[question.task].solve(self.scene, question)
        return _reply(self.name, "Read from the true scene.", UNKNOWN if answer is None else answer)


@dataclass(frozen=True)
class Beliefs:
    """What an exploration established: the known sub-scene and the solver behind it."""

    known: Scene
    """The true scene restricted to the items whose position the solver pins to one cell."""
    solver: KnowledgeSolver
    uncertain_rooms: frozenset[int]
    """Rooms that may hold an item whose position is not known (all rooms for an unobserved item)."""
    observed: frozenset[str]
    """Items seen at least once: their facing (or lack of one) is known."""


def replay_exploration(scene: Scene, turns: Sequence[ParsedTurn | str], *, query_enabled: bool = True) -> Beliefs:
    """Replay exploration turns on a fresh session and read what its knowledge solver pins down.

    Args:
        scene: the true scene (it only supplies what the replayed observations showed).
        turns: reply texts or parsed turns, in order; invalid ones use no budget that matters here.
        query_enabled: whether ``Query`` was part of the grammar.
    """
    session = ExplorationSession(scene, max_steps=_REPLAY_BUDGET, query_enabled=query_enabled)
    for turn in turns:
        if session.done:
            break
        session.play(turn if isinstance(turn, str) else list(turn.actions))
    solver = session.knowledge()
    known_names = {item.name for item in scene.items if solver.domain_size(item.name) == 1}
    uncertain: set[int] = set()
    for item in scene.items:
        if item.name in known_names:
            continue
        uncertain.update(item.rooms if session.coverage.has_observed(item.name) else scene.room_ids)
    known = Scene(
        mask=scene.mask,
        objects=tuple(o for o in scene.objects if o.name in known_names),
        doors=tuple(d for d in scene.doors if d.name in known_names),
        start=scene.start,
        source=scene.source,
    )
    observed = frozenset(item.name for item in scene.items if session.coverage.has_observed(item.name))
    return Beliefs(known, solver, frozenset(uncertain), observed)


def conversation_turns(messages: Sequence[Message], *, query_enabled: bool = True) -> list[ParsedTurn | str]:
    """The exploration turns of a conversation: assistant replies (active) or history lines (passive)."""
    replies = [m.content for m in messages if m.role == "assistant"]
    if replies:
        return list(replies)
    first_user = next((m.content for m in messages if m.role == "user"), "")
    if _HISTORY_HEADING not in first_user:
        return []
    history = first_user.split(_HISTORY_HEADING, 1)[1]
    turns: list[ParsedTurn | str] = []
    for match in _HISTORY_LINE.finditer(history):
        parsed = parse_actions(match.group(1), query_enabled=query_enabled)
        if isinstance(parsed, ParsedTurn):
            turns.append(parsed)
    return turns


def _centre(candidates: list[Cell]) -> Cell:
    """The candidate cell nearest the mean of the candidates."""
    points = np.array(candidates, dtype=float)
    mean = points.mean(axis=0)
    best = int(np.argmin(((points - mean) ** 2).sum(axis=1)))
    return candidates[best]


def unanimous_relation(
    viewers: Sequence[Cell], targets: Sequence[Cell], facing: Facing, kind: str
) -> tuple[str | None, str | None]:
    """The direction and distance labels shared by every (viewer, target) pair of candidate cells.

    Args:
        viewers: candidate cells of the viewer (the anchor).
        targets: candidate cells of the target.
        facing: the viewer's facing (north for map directions).
        kind: ``"ego"`` (egocentric bins) or ``"cardinal"`` (8-way map bins).

    Returns:
        (direction, distance), each ``None`` when the pairs disagree or there are too many to check.
    """
    if not viewers or not targets or len(viewers) * len(targets) > MAX_RELATION_PAIRS:
        return None, None
    offsets = np.unique((np.array(targets)[None, :, :] - np.array(viewers)[:, None, :]).reshape(-1, 2), axis=0)
    directions, distances = set(), set()
    for dx, dy in offsets.tolist():
        theta = offset_bearing((dx, dy), facing)
        directions.add(ego_direction_label(theta) if kind == "ego" else cardinal_label(theta))
        distances.add(distance_label(math.hypot(dx, dy)))
    return (directions.pop() if len(directions) == 1 else None), (distances.pop() if len(distances) == 1 else None)


class BeliefAnswerer:
    """Answers from the knowledge solver of the exploration in the conversation; explores as STRATEGIST.

    Args:
        scene: the true scene (for replaying the exploration and for STRATEGIST's plan).
        questions: the questions it may be asked; by default the scene's question suite.
        query_enabled: whether ``Query`` is part of the exploration grammar.
    """

    name = "belief"

    def __init__(
        self, scene: Scene, questions: Sequence[Question] | None = None, *, query_enabled: bool = True
    ) -> None:
        self.scene = scene
        self.questions = tuple(generate_questions(scene).questions if questions is None else questions)
        self.query_enabled = query_enabled
        self._explorer = strategist_agent(scene, query_enabled=query_enabled)
        self._cache: tuple[tuple[str, ...], Beliefs] | None = None

    def act(self, messages: Sequence[Message]) -> AgentReply:
        from theory_of_space.probes.writers import write_probe_reply  # probes replay with this module's helpers

        probe = write_probe_reply("belief", self.scene, messages, query_enabled=self.query_enabled)
        if probe is not None:
            return AgentReply(text=probe, record=CallRecord(model=self.name))
        question = find_question(_last_user_text(messages), self.questions)
        if question is None:
            reply = self._explorer.act(messages)
            return AgentReply(text=reply.text, record=CallRecord(model=self.name))
        beliefs = self.beliefs(messages)
        return _reply(self.name, "Answered from the solver's candidate positions.", self.answer(question, beliefs))

    def beliefs(self, messages: Sequence[Message]) -> Beliefs:
        """The beliefs of the conversation's exploration (cached: every question shares it)."""
        turns = conversation_turns(messages, query_enabled=self.query_enabled)
        key = tuple(t if isinstance(t, str) else format_actions(t.actions) for t in turns)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, replay_exploration(self.scene, turns, query_enabled=self.query_enabled))
        return self._cache[1]

    def answer(self, question: Question, beliefs: Beliefs) -> str:
        """The answer text: what the known items determine, else ``unknown`` or a best coordinate guess."""
        known = beliefs.known
        if question.task == "alloc":
            return format_coordinates([self._position(name, beliefs) for name in question.data["objects"]])
        if question.task == "view2loc":
            return self._locate(question, beliefs)
        if question.task == "act2view":
            trace = replay_plan(known, question.data["steps"])
            if trace is None or any(set(rooms) & beliefs.uncertain_rooms for rooms in trace.rooms_used):
                return UNKNOWN
        answer = TASKS[question.task].solve(known, question)
        if answer is None and question.task in ("dir", "persp", "loc2view"):
            return self._relation(question, beliefs)
        return UNKNOWN if answer is None else answer

    def _relation(self, question: Question, beliefs: Beliefs) -> str:
        """Direction and distance parts that every pair of candidate cells agrees on; ``unknown`` for the rest."""
        data, solver = question.data, beliefs.solver
        targets = solver.candidates(data["target"])
        if question.task == "dir":
            viewers, facing, kind = solver.candidates(data["anchor"]), Facing.NORTH, "cardinal"
        elif question.task == "persp":
            anchor = self.scene.item(data["anchor"])
            if anchor is None or anchor.facing is None or anchor.name not in beliefs.observed:
                return f"{UNKNOWN}, {UNKNOWN}"
            viewers, facing, kind = solver.candidates(anchor.name), anchor.facing, "ego"
        else:
            origin = data["origin"]
            origins = [(0, 0)] if origin is None else solver.candidates(origin)
            dx, dy = data["position"]
            viewers, facing, kind = [(x + dx, y + dy) for x, y in origins], Facing.from_label(data["facing"]), "ego"
        direction, dist = unanimous_relation(viewers, targets, facing, kind)
        return f"{direction or UNKNOWN}, {dist or UNKNOWN}"

    def _position(self, name: str, beliefs: Beliefs) -> Cell:
        """The allocentric cell of an item: its one candidate, else the candidate nearest the centre."""
        return _centre(beliefs.solver.candidates(name))

    def _locate(self, question: Question, beliefs: Beliefs) -> str:
        """Cells of the candidate box from which every known listed item looks as observed, nearest the centre."""
        known, start = beliefs.known, self.scene.start.cell
        facing = Facing.from_label(question.data["facing"])
        observations = [view_from_dict(v) for v in question.data["observations"]]
        g = beliefs.solver.g
        cells = [(start[0] + x, start[1] + y) for x in range(-g, g + 1) for y in range(-g, g + 1)]
        for observed in observations:
            target = known.item(observed.name)
            if target is None:
                continue
            cells = [
                c
                for c in cells
                if c != target.cell and describe_item(known, c, facing, target.rooms, target) == observed
            ]
        origin = origin_cell(known, question.data["origin"])
        if origin is None:
            door = self.scene.item(question.data["origin"])
            assert door is not None
            x, y = self._position(door.name, beliefs)
            origin = (start[0] + x, start[1] + y)
        if not cells:
            return UNKNOWN
        x, y = _centre(cells)
        return f"({x - origin[0]}, {y - origin[1]})"
