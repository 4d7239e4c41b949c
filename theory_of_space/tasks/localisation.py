"""Location → view (``loc2view``) and view → location (``view2loc``) (spec §10.4).

Both draw a pose: a random room with at least two objects, a random free floor cell in it and a
random facing that sees at least two objects (20 outer tries of 10 draws each; one candidate pose is
kept with probability proportional to how many objects it sees). Coordinates are given relative to
an origin: the start when the room is the start room, otherwise a random door of the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theory_of_space.tasks.base import (
    Draft,
    Question,
    Score,
    TaskUnavailable,
    observation_list,
    pick,
    sample,
    view_to_dict,
    weighted_pick,
)
from theory_of_space.tasks.scoring import score_direction_distance, score_location
from theory_of_space.world.geometry import Cell, Facing, sub
from theory_of_space.world.scene import Scene, SceneObject
from theory_of_space.world.view import describe_item
from theory_of_space.world.visibility import visible_items

LOC2VIEW_FORMAT = "<direction>, <distance>"
VIEW2LOC_FORMAT = "(x, y)"
OUTER_TRIES = 20
CELL_DRAWS = 10
MIN_VISIBLE = 2
MAX_OBSERVATIONS = 3


@dataclass(frozen=True)
class SampledPose:
    """A pose inside one room, the objects it sees, and the origin its coordinates are given from."""

    cell: Cell
    facing: Facing
    room: int
    visible: tuple[SceneObject, ...]
    origin: str | None
    """The door that is the origin (0, 0), or ``None`` for the start."""


def origin_cell(scene: Scene, origin: str | None) -> Cell | None:
    """The cell of an origin: the start for ``None``, else the named door (``None`` if it is unknown)."""
    if origin is None:
        return scene.start.cell
    door = scene.item(origin)
    return None if door is None else door.cell


def origin_phrase(origin: str | None) -> str:
    if origin is None:
        return "Your starting position is the origin (0, 0)"
    return f"The {origin} is the origin (0, 0) for this question"


def sample_pose(scene: Scene, rng: np.random.Generator, task: str) -> SampledPose:
    """Draw a pose as spec §10.4 describes; :class:`TaskUnavailable` when no pose sees two objects."""
    occupied = {o.cell for o in scene.objects}
    rooms = [room for room in scene.room_ids if sum(o.room == room for o in scene.objects) >= MIN_VISIBLE]
    if not rooms:
        raise TaskUnavailable(task, f"no room holds {MIN_VISIBLE} objects")
    candidates: list[tuple[int, Cell, Facing, tuple[SceneObject, ...]]] = []
    for _ in range(OUTER_TRIES):
        room = pick(rng, rooms)
        free = [cell for cell in scene.room_cells(room) if cell not in occupied]
        for _ in range(CELL_DRAWS):
            cell, facing = pick(rng, free), Facing(int(rng.integers(4)))
            seen = tuple(o for o in visible_items(scene, cell, facing, (room,)) if isinstance(o, SceneObject))
            if len(seen) >= MIN_VISIBLE:
                candidates.append((room, cell, facing, seen))
                break
    if not candidates:
        raise TaskUnavailable(task, f"no sampled pose sees {MIN_VISIBLE} objects")
    room, cell, facing, seen = weighted_pick(rng, candidates, [len(c[3]) for c in candidates])
    origin = None
    if room not in scene.rooms_at(scene.start.cell):
        origin = pick(rng, [d for d in scene.doors if room in d.rooms]).name
    return SampledPose(cell, facing, room, seen, origin)


def _pose_data(scene: Scene, pose: SampledPose) -> dict[str, Any]:
    origin = origin_cell(scene, pose.origin)
    assert origin is not None
    return {
        "origin": pose.origin,
        "position": list(sub(pose.cell, origin)),
        "facing": pose.facing.label,
        "room": pose.room,
    }


# ---- loc2view -----------------------------------------------------------------------------------


def generate_loc2view(scene: Scene, rng: np.random.Generator) -> Draft:
    """A sampled pose given as coordinates and facing; asks for the relation of one object it sees."""
    pose = sample_pose(scene, rng, "loc2view")
    target = sample(rng, list(pose.visible), len(pose.visible))[0]
    view = describe_item(scene, pose.cell, pose.facing, (pose.room,), target)
    data = _pose_data(scene, pose)
    x, y = data["position"]
    text = (
        f"{origin_phrase(pose.origin)}; x points east and y points north. Imagine you stand at ({x}, {y}), "
        f"facing {pose.facing.label}. In which egocentric direction is the {target.name}, and how far away is it?\n"
        f"Answer format: {LOC2VIEW_FORMAT}, for example: front-right, near"
    )
    data.update({"target": target.name, "direction": view.direction, "distance": view.distance})
    return Draft(text, f"{view.direction}, {view.distance}", data)


def score_loc2view(question: Question, answer: str, scene: Scene) -> Score:
    return score_direction_distance(answer, question.data["direction"], question.data["distance"], "ego")


def solve_loc2view(scene: Scene, question: Question) -> str | None:
    origin = origin_cell(scene, question.data["origin"])
    target = scene.item(question.data["target"])
    if origin is None or target is None:
        return None
    dx, dy = question.data["position"]
    cell = (origin[0] + int(dx), origin[1] + int(dy))
    view = describe_item(scene, cell, Facing.from_label(question.data["facing"]), (question.data["room"],), target)
    return f"{view.direction}, {view.distance}"


# ---- view2loc -----------------------------------------------------------------------------------


def generate_view2loc(scene: Scene, rng: np.random.Generator) -> Draft:
    """A sampled pose described by its facing and up to 3 observations; asks for its coordinates."""
    pose = sample_pose(scene, rng, "view2loc")
    chosen = {o.name for o in sample(rng, list(pose.visible), MAX_OBSERVATIONS)}
    views = [describe_item(scene, pose.cell, pose.facing, (pose.room,), o) for o in pose.visible if o.name in chosen]
    data = _pose_data(scene, pose)
    x, y = data["position"]
    text = (
        f"Imagine you stand somewhere in the scene, facing {pose.facing.label}, and observe: "
        f"{observation_list(views)}.\n"
        f"{origin_phrase(pose.origin)}; x points east and y points north. What are your coordinates?\n"
        f"Answer format: {VIEW2LOC_FORMAT}"
    )
    data["observations"] = [view_to_dict(v) for v in views]
    return Draft(text, f"({x}, {y})", data)


def score_view2loc(question: Question, answer: str, scene: Scene) -> Score:
    x, y = question.data["position"]
    return score_location(answer, (int(x), int(y)))


def solve_view2loc(scene: Scene, question: Question) -> str | None:
    """The stored pose: the observations need not pin one cell, so only the pose itself is certain."""
    if origin_cell(scene, question.data["origin"]) is None:
        return None
    x, y = question.data["position"]
    return f"({x}, {y})"
