"""Location → view (``loc2view``) and view → location (``view2loc``).

Both draw a pose as the published generators do: 20 tries, each drawing a random room that holds
two objects more than 1 apart, a free floor cell of it (up to 10 draws of a cell until one holds no
object) and a random facing. A pose that sees fewer than two items (objects and doors alike) is
dropped, not redrawn; of the poses kept, one is chosen with probability proportional to how many
items it sees. Coordinates are given relative to an origin: the start when the room is the start
room, otherwise a random door of the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
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
from theory_of_space.world.geometry import Cell, Facing, distance, sub
from theory_of_space.world.scene import Item, Scene
from theory_of_space.world.view import describe_item
from theory_of_space.world.visibility import visible_items

LOC2VIEW_FORMAT = "<direction>, <distance>"
VIEW2LOC_FORMAT = "(x, y)"
OUTER_TRIES = 20
CELL_DRAWS = 10
MIN_VISIBLE = 2
MIN_SPREAD = 1.0
"""A room qualifies when some two of its objects are more than this far apart."""
MAX_OBSERVATIONS = 3


@dataclass(frozen=True)
class SampledPose:
    """A pose inside one room, the items it sees, and the origin its coordinates are given from."""

    cell: Cell
    facing: Facing
    room: int
    visible: tuple[Item, ...]
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


def pose_rooms(scene: Scene) -> list[int]:
    """The rooms a location pose may be drawn in: some two of their objects are more than 1 apart."""
    return [
        room
        for room in scene.room_ids
        if any(
            distance(a.cell, b.cell) > MIN_SPREAD
            for a, b in combinations([o for o in scene.objects if o.room == room], 2)
        )
    ]


def _draw_free_cell(scene: Scene, rng: np.random.Generator, room: int, occupied: set[Cell]) -> Cell | None:
    """Up to :data:`CELL_DRAWS` draws of a floor cell of ``room`` until one holds no object."""
    cells = scene.room_cells(room)
    for _ in range(CELL_DRAWS):
        cell = pick(rng, cells)
        if cell not in occupied:
            return cell
    return None


PoseCandidate = tuple[int, Cell, Facing, tuple[Item, ...]]
"""(room, cell, facing, the items seen) of a pose that qualifies."""


def draw_pose(scene: Scene, rng: np.random.Generator, rooms: list[int], occupied: set[Cell]) -> PoseCandidate | None:
    """One try of the pose sampler: a room, a free cell, a facing; ``None`` when the try is dropped.

    A try is dropped when ten cell draws find no free cell or when the pose sees fewer than two items.
    """
    room = pick(rng, rooms)
    cell = _draw_free_cell(scene, rng, room, occupied)
    if cell is None:
        return None
    facing = Facing(int(rng.integers(4)))
    seen = tuple(visible_items(scene, cell, facing, (room,)))
    # A pose that sees too little is dropped, not redrawn, as published.
    return (room, cell, facing, seen) if len(seen) >= MIN_VISIBLE else None


def sample_pose(scene: Scene, rng: np.random.Generator, task: str) -> SampledPose:
    """Draw a pose as the module docstring describes; :class:`TaskUnavailable` when every try is dropped."""
    occupied = {o.cell for o in scene.objects}
    rooms = pose_rooms(scene)
    if not rooms:
        raise TaskUnavailable(task, f"no room holds two objects more than {MIN_SPREAD:g} apart")
    tries = (draw_pose(scene, rng, rooms, occupied) for _ in range(OUTER_TRIES))
    candidates = [c for c in tries if c is not None]
    if not candidates:
        raise TaskUnavailable(task, f"none of {OUTER_TRIES} sampled poses sees {MIN_VISIBLE} items")
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
    """A sampled pose given as coordinates and facing; asks for the relation of one item it sees.

    The target is the first of the pose's observations: its first visible item when it sees at most
    three, else the first of three drawn at random (the published rule).
    """
    pose = sample_pose(scene, rng, "loc2view")
    shown = list(pose.visible)
    if len(shown) > MAX_OBSERVATIONS:
        shown = sample(rng, shown, MAX_OBSERVATIONS)
    target = shown[0]
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
