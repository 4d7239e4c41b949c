"""What a viewer sees, as discretised relations: the structure behind every observation.

The text observation, the knowledge solver and the task questions are all built from
:func:`describe_view`, so they agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from theory_of_space.world.geometry import (
    PROXIMITY_MAX_DISTANCE,
    Cell,
    Facing,
    bearing,
    cardinal_label,
    distance,
    distance_label,
    ego_direction_label,
    relative_facing_label,
    wall_label,
)
from theory_of_space.world.scene import Door, Item, Scene
from theory_of_space.world.visibility import visible_items


@dataclass(frozen=True)
class ItemView:
    """One visible item: egocentric direction and distance bins, plus its facing or its wall."""

    name: str
    direction: str
    distance: str
    facing: str | None = None
    """``forward|backward|left|right`` for oriented objects."""
    wall: str | None = None
    """``front|back|left|right`` for doors."""

    @property
    def detail(self) -> str:
        """``, facing <rel>`` for an oriented object, ``, on <wall> wall`` for a door, else nothing."""
        if self.facing is not None:
            return f", facing {self.facing}"
        if self.wall is not None:
            return f", on {self.wall} wall"
        return ""


@dataclass(frozen=True)
class ProximityView:
    """Two visible items at most 2 apart: ``a`` is ``direction`` of ``b`` with the viewer's facing as north."""

    a: str
    b: str
    direction: str
    distance: str


@dataclass(frozen=True)
class ViewDescription:
    cell: Cell
    facing: Facing
    items: tuple[ItemView, ...]
    proximity: tuple[ProximityView, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(view.name for view in self.items)


def describe_item(scene: Scene, cell: Cell, facing: Facing, rooms: tuple[int, ...], item: Item) -> ItemView:
    """The relation of one item to a viewer, whether or not it is in view."""
    direction = ego_direction_label(bearing(cell, facing, item.cell))
    dist = distance_label(distance(cell, item.cell))
    if isinstance(item, Door):
        shared = [room for room in item.rooms if room in rooms]
        room = shared[0] if shared else item.rooms[0]
        return ItemView(item.name, direction, dist, wall=wall_label(item.vector_into(room), facing))
    rel = None if item.facing is None else relative_facing_label(item.facing, facing)
    return ItemView(item.name, direction, dist, facing=rel)


def describe_view(scene: Scene, cell: Cell, facing: Facing, rooms: tuple[int, ...] | None = None) -> ViewDescription:
    """Everything visible from a pose, in visible order, with the pairs close enough for a proximity relation."""
    viewer_rooms = scene.rooms_at(cell) if rooms is None else rooms
    visible = visible_items(scene, cell, facing, viewer_rooms)
    views = tuple(describe_item(scene, cell, facing, viewer_rooms, item) for item in visible)
    pairs = []
    for i, a in enumerate(visible):
        for b in visible[i + 1 :]:
            d = distance(a.cell, b.cell)
            if d <= PROXIMITY_MAX_DISTANCE:
                theta = bearing(b.cell, facing, a.cell)
                pairs.append(ProximityView(a.name, b.name, cardinal_label(theta), distance_label(d)))
    return ViewDescription(cell=cell, facing=facing, items=views, proximity=tuple(pairs))
