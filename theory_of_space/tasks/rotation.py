"""Mental rotation (``ment_rot``): in which order do objects come straight ahead while turning?

The agent stands at the start facing north with every wall removed and turns a full circle
clockwise or counterclockwise. Candidates are all objects not exactly ahead at the start; a subset
with pairwise angle gaps above ε is picked greedily (ε = 30, 15, 7.5, 1 in turn, five shuffles
each), sorted by (angle, distance), and its first n are asked about, n drawn from 3 up to the smaller of
the subset size and 5 (as published).
"""

from __future__ import annotations

import numpy as np

from theory_of_space.tasks.base import Draft, Question, Score, TaskUnavailable, pick
from theory_of_space.tasks.scoring import score_order
from theory_of_space.world.geometry import bearing, distance
from theory_of_space.world.scene import Scene, SceneObject

MENT_ROT_FORMAT = "<object_name1>, <object_name2>, ..."
GAPS = (30.0, 15.0, 7.5, 1.0)
SHUFFLES = 5
MIN_OBJECTS = 3
MAX_OBJECTS = 5
DIRECTIONS = ("clockwise", "counterclockwise")
_AHEAD_TOLERANCE = 1e-9


def turn_angle(scene: Scene, item: SceneObject, direction: str) -> float:
    """The angle in [0, 360) the agent turns from north before ``item`` is straight ahead."""
    theta = bearing(scene.start.cell, scene.start.facing, item.cell)
    return (theta if direction == "clockwise" else -theta) % 360.0


def rotation_order(scene: Scene, names: list[str], direction: str) -> list[str] | None:
    """The names sorted by turn angle, the nearer first at equal angle; ``None`` if one is missing."""
    items = [scene.item(name) for name in names]
    if any(not isinstance(item, SceneObject) for item in items):
        return None
    objects = [item for item in items if isinstance(item, SceneObject)]
    ordered = sorted(objects, key=lambda o: (turn_angle(scene, o, direction), distance(scene.start.cell, o.cell)))
    return [o.name for o in ordered]


def _spread_subset(
    rng: np.random.Generator, angles: dict[str, float], candidates: list[SceneObject]
) -> list[SceneObject] | None:
    for gap in GAPS:
        for _ in range(SHUFFLES):
            chosen: list[SceneObject] = []
            for index in rng.permutation(len(candidates)):
                obj = candidates[int(index)]
                if all(abs(angles[obj.name] - angles[c.name]) > gap for c in chosen):
                    chosen.append(obj)
            if len(chosen) >= MIN_OBJECTS:
                return chosen
    return None


def object_count(rng: np.random.Generator, available: int) -> int:
    """How many objects to ask about: uniform from 3 to the smaller of ``available`` and 5 (as published)."""
    return int(rng.integers(MIN_OBJECTS, min(available, MAX_OBJECTS) + 1))


def generate_ment_rot(scene: Scene, rng: np.random.Generator) -> Draft:
    direction = pick(rng, list(DIRECTIONS))
    candidates = [
        o for o in scene.objects if abs(bearing(scene.start.cell, scene.start.facing, o.cell)) > _AHEAD_TOLERANCE
    ]
    angles = {o.name: turn_angle(scene, o, direction) for o in candidates}
    subset = _spread_subset(rng, angles, candidates)
    if subset is None:
        raise TaskUnavailable("ment_rot", f"fewer than {MIN_OBJECTS} objects at distinct bearings from the start")
    ordered = rotation_order(scene, [o.name for o in subset], direction)
    assert ordered is not None
    order = ordered[: object_count(rng, len(ordered))]
    listed = ", ".join(sorted(order))
    text = (
        "Imagine every wall is removed. You stand at your starting position, facing north, and turn a full "
        f"circle in place, {direction}. In which order do these objects come straight ahead of you: {listed}? "
        "If two are in the same direction, the nearer one comes first.\n"
        f"Answer format: {MENT_ROT_FORMAT} (every listed object once, in the order they come ahead)"
    )
    return Draft(text, ", ".join(order), {"direction": direction, "objects": sorted(order), "order": order})


def score_ment_rot(question: Question, answer: str, scene: Scene) -> Score:
    return score_order(answer, question.data["order"])


def solve_ment_rot(scene: Scene, question: Question) -> str | None:
    order = rotation_order(scene, list(question.data["objects"]), question.data["direction"])
    return None if order is None else ", ".join(order)
