"""The visibility rule: same room, inside the 90° cone, not on the viewer's own cell.

Distance never limits sight and nothing occludes; walls matter only because they separate rooms,
which is also why a closed door blocks the view. A viewer standing on a door sees into both of its
rooms. Text observations, the renderer, the tasks, the probes and the solver all call this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from theory_of_space.world.geometry import Cell, Facing, in_field_of_view
from theory_of_space.world.scene import Item, Scene


def shares_room(item: Item, viewer_rooms: Iterable[int]) -> bool:
    rooms = set(viewer_rooms)
    return any(room in rooms for room in item.rooms)


def is_visible(scene: Scene, cell: Cell, facing: Facing, item: Item, rooms: tuple[int, ...] | None = None) -> bool:
    """Whether ``item`` is visible from ``cell`` looking along ``facing``.

    Args:
        scene: the world.
        cell: the viewer's cell.
        facing: the viewer's facing.
        item: an object or door of ``scene``.
        rooms: the viewer's room membership; derived from ``cell`` when omitted.
    """
    if item.cell == cell:
        return False
    viewer_rooms = scene.rooms_at(cell) if rooms is None else rooms
    return shares_room(item, viewer_rooms) and in_field_of_view(cell, facing, item.cell)


def visible_items(scene: Scene, cell: Cell, facing: Facing, rooms: tuple[int, ...] | None = None) -> list[Item]:
    """All items visible from a pose, objects in scene order then doors in scene order."""
    viewer_rooms = scene.rooms_at(cell) if rooms is None else rooms
    if len(viewer_rooms) == 1:  # every candidate already shares the viewer's room
        candidates = scene.items_by_room.get(viewer_rooms[0], ())
        return [item for item in candidates if item.cell != cell and in_field_of_view(cell, facing, item.cell)]
    return [
        item
        for item in scene.items
        if item.cell != cell and shares_room(item, viewer_rooms) and in_field_of_view(cell, facing, item.cell)
    ]
