"""Perception decoding (``perc_dec``): which object does the agent stand on, given what it sees?

The agent stands on an oriented object's cell facing that object's direction; the question lists up
to three of the items (objects and doors) it sees, as published: an anchor that sees only a door
qualifies. An answer is right when it names that object, or any item whose
pose (its cell and facing, north when it has none) reproduces every listed observation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theory_of_space.tasks.base import (
    Draft,
    Question,
    Score,
    TaskUnavailable,
    observation_list,
    oriented_anchors,
    sample,
    view_from_dict,
    view_to_dict,
    weighted_pick,
)
from theory_of_space.tasks.parsing import parse_name_list
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Item, Scene
from theory_of_space.world.view import ItemView, describe_item
from theory_of_space.world.visibility import is_visible

PERC_DEC_FORMAT = "<object_name>"
MAX_OBSERVATIONS = 3


def reproduces(scene: Scene, item: Item, observations: Sequence[ItemView]) -> bool:
    """Whether standing on ``item`` (its facing, north if it has none) gives every listed observation."""
    facing = item.facing if item.facing is not None else Facing.NORTH
    for observed in observations:
        target = scene.item(observed.name)
        if target is None or not is_visible(scene, item.cell, facing, target, item.rooms):
            return False
        if describe_item(scene, item.cell, facing, item.rooms, target) != observed:
            return False
    return True


def generate_perc_dec(scene: Scene, rng: np.random.Generator) -> Draft:
    """An oriented anchor drawn in proportion to how many items it sees; up to 3 of its observations."""
    anchors = oriented_anchors(scene, doors=True)
    if not anchors:
        raise TaskUnavailable("perc_dec", "no oriented object sees another item")
    anchor, seen = weighted_pick(rng, anchors, [len(s) for _, s in anchors])
    assert anchor.facing is not None
    chosen = {o.name for o in sample(rng, seen, MAX_OBSERVATIONS)}
    views = [describe_item(scene, anchor.cell, anchor.facing, anchor.rooms, o) for o in seen if o.name in chosen]
    text = (
        "Imagine you stand on the cell of one of the objects, facing the same direction as that object faces. "
        f"From there you observe: {observation_list(views)}.\n"
        "On which object are you standing?\n"
        f"Answer format: {PERC_DEC_FORMAT}"
    )
    return Draft(text, anchor.name, {"anchor": anchor.name, "observations": [view_to_dict(v) for v in views]})


def score_perc_dec(question: Question, answer: str, scene: Scene) -> Score:
    """1 for the anchor's name or any item consistent with every listed observation, else 0."""
    if not answer.strip():
        return Score(0.0, answer, "empty answer")
    names = parse_name_list(answer)
    if len(names) != 1:
        return Score(0.0, answer, f"expected one object name, read {len(names)} names {names}")
    name = names[0]
    if name == parse_name_list(question.data["anchor"])[0]:
        return Score(1.0, answer, f"{name} is the object the observations were made from")
    item = scene.item(name)
    if item is None:
        return Score(0.0, answer, f"{name!r} is not an item of the scene")
    observations = [view_from_dict(v) for v in question.data["observations"]]
    if reproduces(scene, item, observations):
        return Score(1.0, answer, f"{name} is not the anchor but reproduces every listed observation")
    return Score(0.0, answer, f"standing on {name} does not reproduce the observations; expected {question.answer}")


def solve_perc_dec(scene: Scene, question: Question) -> str | None:
    """The first item of the scene, in scene order, that reproduces every listed observation."""
    observations = [view_from_dict(v) for v in question.data["observations"]]
    for item in scene.items:
        if reproduces(scene, item, observations):
            return item.name
    return None
