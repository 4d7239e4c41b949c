"""Allocentric map (``alloc``): the coordinates of 3–5 objects in the start frame.

The start is the origin (0, 0), facing north, x east and y north. Exactly k coordinates are
required; the score is (pos_sim + dir_sim) / 2 (:func:`~theory_of_space.tasks.scoring.allocentric_similarity`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theory_of_space.tasks.base import Draft, Question, Score, TaskUnavailable, sample
from theory_of_space.tasks.scoring import score_allocentric
from theory_of_space.world.scene import Scene, SceneObject

MIN_OBJECTS = 3
MAX_OBJECTS = 5


def format_coordinates(points: Sequence[tuple[int, int]]) -> str:
    """``(x0, y0); (x1, y1); …``"""
    return "; ".join(f"({x}, {y})" for x, y in points)


def generate_alloc(scene: Scene, rng: np.random.Generator) -> Draft:
    """3–5 random objects (doors excluded), in random order."""
    if len(scene.objects) < MIN_OBJECTS:
        raise TaskUnavailable("alloc", f"fewer than {MIN_OBJECTS} objects")
    k = int(rng.integers(MIN_OBJECTS, min(MAX_OBJECTS, len(scene.objects)) + 1))
    chosen: list[SceneObject] = sample(rng, list(scene.objects), k)
    truth = [scene.allocentric(o.cell) for o in chosen]
    names = ", ".join(o.name for o in chosen)
    skeleton = "; ".join(f"(x{i}, y{i})" for i in range(k))
    text = (
        "Take your starting position as the origin (0, 0), with you facing north, x pointing east and y "
        f"pointing north. Give the coordinates of these {k} objects, in this order: {names}.\n"
        f"Answer format: {skeleton}"
    )
    return Draft(text, format_coordinates(truth), {"objects": [o.name for o in chosen], "coordinates": truth})


def score_alloc(question: Question, answer: str, scene: Scene) -> Score:
    truth = [(int(x), int(y)) for x, y in question.data["coordinates"]]
    return score_allocentric(answer, truth)


def solve_alloc(scene: Scene, question: Question) -> str | None:
    points = []
    for name in question.data["objects"]:
        item = scene.item(name)
        if item is None:
            return None
        points.append(scene.allocentric(item.cell))
    return format_coordinates(points)
