"""Value types shared by the nine task families: questions, score records and the task table entry.

A :class:`Question` holds everything a scorer needs besides the scene, as plain JSON values, so that
stored answers can be scored again offline. A :class:`Score` is what every scorer returns: the value
in [0, 1], the answer it extracted and why it gave that value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from theory_of_space.world.scene import Item, Scene, SceneObject
from theory_of_space.world.view import ItemView
from theory_of_space.world.visibility import visible_items

TaskId = Literal["dir", "persp", "perc_dec", "act2view", "view2act", "alloc", "ment_rot", "loc2view", "view2loc"]
TaskGroup = Literal["route", "survey"]
QUESTION_FORMAT_VERSION = 1


class TaskUnavailable(ValueError):
    """The scene cannot produce a question of this task (e.g. no oriented object sees another object)."""

    def __init__(self, task: str, reason: str) -> None:
        super().__init__(f"task {task!r} cannot be generated for this scene: {reason}")
        self.task = task
        self.reason = reason


@dataclass(frozen=True)
class Question:
    """One evaluation question with its ground truth.

    The question is answered from the exploration conversation; ``data`` holds what the scorer and
    the oracle need (names, poses, plan steps, expected labels) as JSON values.
    """

    task: str
    """The task id (``dir``, ``persp``, ...; see :data:`TaskId`)."""
    qid: str
    """Unique within a scene: ``<task>_<index>``, with ``_dup<N>`` when a duplicate had to be kept."""
    text: str
    """The question in our wording, ending with the exact answer format."""
    answer: str
    """The ground-truth answer, written in the answer format."""
    data: dict[str, Any] = field(default_factory=dict, hash=False)
    """Task-specific ground truth and setup, JSON values only."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": QUESTION_FORMAT_VERSION,
            "task": self.task,
            "qid": self.qid,
            "text": self.text,
            "answer": self.answer,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        version = data.get("version", QUESTION_FORMAT_VERSION)
        if version != QUESTION_FORMAT_VERSION:
            raise ValueError(f"expected question format version {QUESTION_FORMAT_VERSION}, got {version}")
        for key in ("task", "qid", "text", "answer"):
            if key not in data:
                raise ValueError(f"question dict is missing the field `{key}`")
        return cls(
            task=str(data["task"]),
            qid=str(data["qid"]),
            text=str(data["text"]),
            answer=str(data["answer"]),
            data=dict(data.get("data", {})),
        )


@dataclass(frozen=True)
class Draft:
    """A generated question before it gets its id: text, ground-truth answer and scorer data."""

    text: str
    answer: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Score:
    """The mark of one answer: ``value`` in [0, 1], the extracted ``answer`` and the ``explanation``."""

    value: float
    answer: str
    """What the scorer read: the text after ``FINAL ANSWER:`` (or the whole reply), trimmed."""
    explanation: str
    """Why: what was parsed and what matched, or why the answer scored 0."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"expected a score in [0, 1], got {self.value}")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "answer": self.answer, "explanation": self.explanation}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        return cls(value=float(data["value"]), answer=str(data["answer"]), explanation=str(data["explanation"]))


Generator = Callable[[Scene, np.random.Generator], Draft]
"""Draws one question; raises :class:`TaskUnavailable` when the scene cannot produce the task."""
Scorer = Callable[[Question, str, Scene], Score]
"""Scores an extracted answer; pure and total: any text gives a :class:`Score`, nothing raises."""
Solver = Callable[[Scene, Question], "str | None"]
"""Answers a question from a (possibly partial) scene; ``None`` when the scene lacks what it needs."""


@dataclass(frozen=True)
class TaskSpec:
    """One task family: ids, group, exact answer format and its three functions."""

    id: str
    published: str
    """The published short name, recorded next to our id in logs."""
    column: str
    """The column header of the published tables."""
    group: TaskGroup
    answer_format: str
    generate: Generator
    score: Scorer
    solve: Solver


def observation_phrase(view: ItemView) -> str:
    """``<name> is <ego direction>, <distance>[, facing <rel>]`` (doors: ``, on <wall> wall``): one seen item."""
    return f"{view.name} is {view.direction}, {view.distance}{view.detail}"


def observation_list(views: list[ItemView]) -> str:
    """Observation phrases separated by ``; ``."""
    return "; ".join(observation_phrase(v) for v in views)


def view_to_dict(view: ItemView) -> dict[str, Any]:
    return {
        "name": view.name,
        "direction": view.direction,
        "distance": view.distance,
        "facing": view.facing,
        "wall": view.wall,
    }


def view_from_dict(data: Mapping[str, Any]) -> ItemView:
    return ItemView(
        name=str(data["name"]),
        direction=str(data["direction"]),
        distance=str(data["distance"]),
        facing=None if data.get("facing") is None else str(data["facing"]),
        wall=None if data.get("wall") is None else str(data["wall"]),
    )


def pick(rng: np.random.Generator, items: list[Any]) -> Any:
    """One element drawn uniformly (the list is in a fixed order, so draws are reproducible)."""
    return items[int(rng.integers(len(items)))]


def sample(rng: np.random.Generator, items: list[Any], k: int) -> list[Any]:
    """Up to ``k`` distinct elements in random order."""
    order = rng.permutation(len(items))[: min(k, len(items))]
    return [items[int(i)] for i in order]


def weighted_pick(rng: np.random.Generator, items: list[Any], weights: list[float]) -> Any:
    """One element drawn with probability proportional to its weight."""
    total = float(sum(weights))
    return items[int(rng.choice(len(items), p=[w / total for w in weights]))]


def oriented_anchors(scene: Scene, *, doors: bool) -> list[tuple[SceneObject, list[Item]]]:
    """Each oriented object with what it sees, leaving out those that see nothing.

    Args:
        scene: the scene.
        doors: whether doors count as seen items (perception decoding, as published) or only objects
            do (perspective taking, whose target must be an object).
    """
    anchors = []
    for anchor in scene.objects:
        if anchor.facing is None:
            continue
        seen = [
            item
            for item in visible_items(scene, anchor.cell, anchor.facing, anchor.rooms)
            if doors or isinstance(item, SceneObject)
        ]
        if seen:
            anchors.append((anchor, seen))
    return anchors
