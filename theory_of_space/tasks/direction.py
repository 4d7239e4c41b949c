"""Direction (``dir``) and perspective taking (``persp``): relations between two objects.

``dir`` asks where one object lies from another on a north-up map (cardinal bin + distance bin);
``persp`` puts the agent on an oriented object, facing the way it faces, and asks for the egocentric
relation of an object visible from there (ego bin + distance bin).
"""

from __future__ import annotations

import numpy as np

from theory_of_space.tasks.base import Draft, Question, Score, TaskUnavailable, oriented_anchors, pick
from theory_of_space.tasks.scoring import score_direction_distance
from theory_of_space.world.geometry import cardinal_of_offset, distance, distance_label, sub
from theory_of_space.world.scene import Scene, SceneObject
from theory_of_space.world.view import describe_item

DIR_FORMAT = "<cardinal direction>, <distance>"
PERSP_FORMAT = "<ego direction>, <distance>"


def _object(scene: Scene, name: str) -> SceneObject | None:
    item = scene.item(name)
    return item if isinstance(item, SceneObject) else None


# ---- dir ----------------------------------------------------------------------------------------


def dir_relation(scene: Scene, target: str, anchor: str) -> str | None:
    """``<cardinal>, <distance>`` of ``target`` seen from ``anchor`` on a north-up map."""
    a, b = _object(scene, target), _object(scene, anchor)
    if a is None or b is None:
        return None
    return f"{cardinal_of_offset(sub(a.cell, b.cell))}, {distance_label(distance(a.cell, b.cell))}"


def generate_dir(scene: Scene, rng: np.random.Generator) -> Draft:
    """Two distinct random objects (doors excluded, any rooms): the target and the anchor."""
    if len(scene.objects) < 2:
        raise TaskUnavailable("dir", "fewer than two objects")
    first = int(rng.integers(len(scene.objects)))
    second = int(rng.integers(len(scene.objects) - 1))
    target, anchor = scene.objects[first], scene.objects[second + (second >= first)]
    answer = dir_relation(scene, target.name, anchor.name)
    assert answer is not None
    direction, dist = answer.split(", ")
    text = (
        "Imagine you are back at your starting position, facing north. On a map with north pointing up, "
        f"in which direction does the {target.name} lie from the {anchor.name}, and how far away is it?\n"
        f"Answer format: {DIR_FORMAT}, for example: south east, mid distance"
    )
    return Draft(text, answer, {"target": target.name, "anchor": anchor.name, "direction": direction, "distance": dist})


def score_dir(question: Question, answer: str, scene: Scene) -> Score:
    return score_direction_distance(answer, question.data["direction"], question.data["distance"], "cardinal")


def solve_dir(scene: Scene, question: Question) -> str | None:
    return dir_relation(scene, question.data["target"], question.data["anchor"])


# ---- persp --------------------------------------------------------------------------------------


def persp_relation(scene: Scene, target: str, anchor: str) -> str | None:
    """``<ego>, <distance>`` of ``target`` for a viewer on ``anchor``'s cell facing ``anchor``'s way."""
    a, b = _object(scene, target), _object(scene, anchor)
    if a is None or b is None or b.facing is None:
        return None
    view = describe_item(scene, b.cell, b.facing, b.rooms, a)
    return f"{view.direction}, {view.distance}"


def generate_persp(scene: Scene, rng: np.random.Generator) -> Draft:
    """A random oriented object that sees at least one other object; the target is one it sees."""
    anchors = oriented_anchors(scene, doors=False)
    if not anchors:
        raise TaskUnavailable("persp", "no oriented object sees another object")
    anchor, seen = pick(rng, anchors)
    target = pick(rng, seen)
    answer = persp_relation(scene, target.name, anchor.name)
    assert answer is not None
    direction, dist = answer.split(", ")
    text = (
        f"Imagine you stand on the cell of the {anchor.name} and face the same direction as the {anchor.name} "
        f"faces. Relative to you, in which egocentric direction is the {target.name}, and how far away is it?\n"
        f"Answer format: {PERSP_FORMAT}, for example: front-left, near"
    )
    return Draft(text, answer, {"target": target.name, "anchor": anchor.name, "direction": direction, "distance": dist})


def score_persp(question: Question, answer: str, scene: Scene) -> Score:
    return score_direction_distance(answer, question.data["direction"], question.data["distance"], "ego")


def solve_persp(scene: Scene, question: Question) -> str | None:
    return persp_relation(scene, question.data["target"], question.data["anchor"])
