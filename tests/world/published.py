"""A generated scene written in the published benchmark's ``meta_data.json`` form, for loader tests that must
not depend on the reference scenes beside the repository."""

from __future__ import annotations

from typing import Any

from theory_of_space.world.scene import DOOR_CONST_X, Scene

_YAWS = {"north": 0, "east": 90, "south": 180, "west": 270}
OFFSET = (7, 8)
"""Metre positions are grid cells minus this offset, as in the published files."""


def published_dict(scene: Scene) -> dict[str, Any]:
    """The published file's fields the loader reads: mask, offset, objects (doors among them), the agent camera,
    the room size and the rooms' bounds."""
    ox, oy = OFFSET
    objects: list[dict[str, Any]] = []
    for obj in scene.objects:
        attributes: dict[str, Any] = {"has_orientation": obj.facing is not None, "room_id": obj.room}
        entry: dict[str, Any] = {
            "name": obj.name,
            "label": str(obj.label),
            "pos": {"x": float(obj.cell[0] - ox), "y": 0.05, "z": float(obj.cell[1] - oy)},
            "attributes": attributes,
        }
        if obj.facing is not None:
            attributes["orientation"] = obj.facing.label
            entry["rot"] = {"x": 0, "y": _YAWS[obj.facing.label], "z": 0}
        objects.append(entry)
    for door in scene.doors:
        axis = "vertical" if scene.mask[door.cell[0]][door.cell[1]] == DOOR_CONST_X else "horizontal"
        objects.append(
            {
                "name": door.name,
                "pos": {"x": float(door.cell[0] - ox), "y": 0, "z": float(door.cell[1] - oy)},
                "attributes": {"color": door.colour, "orientation": axis, "connected_rooms": list(door.rooms)},
            }
        )
    rooms = {}
    for room in scene.room_ids:
        xs, ys = zip(*scene.room_cells(room))
        rooms[str(room)] = {"bounds": [min(xs) - ox, max(xs) - ox, min(ys) - oy, max(ys) - oy]}
    start = scene.start.cell
    return {
        "mask": [list(column) for column in scene.mask],
        "offset": [ox, oy],
        "objects": objects,
        "cameras": [{"id": "agent", "position": {"x": float(start[0] - ox), "y": 0.85, "z": float(start[1] - oy)}}],
        "room_size": [float(scene.shape[1]), float(scene.shape[0])],
        "rooms": rooms,
    }
