"""Validation of scenes read from files: every field of our JSON format, and the consistency of any scene.

A scene file is user input. Loading one checks each field's type and range and says which field is wrong
(``objects[0].name``, ``mask[7][7]``, ``start.facing``), instead of failing later with a ``KeyError``
in the loader or an ``AssertionError`` deep in a proxy's planner. :func:`check_scene_dict` covers our
format (:meth:`~theory_of_space.world.scene.Scene.from_dict`); :func:`check_scene` the rules every scene
obeys whatever its file format: objects on floor cells of their room, one door on each door cell, items on
distinct cells, unique labels, and the start on a floor cell of room 1. The published format's loader
(:mod:`theory_of_space.world.tos_format`) uses the shared checks with its own error type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from theory_of_space.world.geometry import Facing

if TYPE_CHECKING:
    from theory_of_space.world.scene import Scene

__all__ = [
    "MASK_CODES",
    "MAX_GRID_SIDE",
    "MAX_LABEL",
    "SceneFormatError",
    "check_name",
    "check_scene",
    "check_scene_dict",
    "parse_mask",
]

MASK_CODES = frozenset({-1, 0, *range(1, 100), 100, 101})
"""Outside, wall, the floors of rooms 1 to 99, and the two door codes (see :mod:`theory_of_space.world.scene`)."""
MAX_GRID_SIDE = 1000
"""Cells along either side of a mask; generated and published scenes have a few dozen."""
MAX_LABEL = 10_000
MAX_NAME_CHARS = 100

_FACINGS = tuple(facing.label for facing in Facing)


class SceneFormatError(ValueError):
    """A scene in our JSON format that is malformed or inconsistent; the message names the field."""


def check_name(value: Any, field: str, error: type[ValueError]) -> str:
    """A printable, non-empty item name or colour of at most 100 characters (names appear in prompts)."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"expected a non-empty string for `{field}`, got {value!r}")
    if not value.isprintable() or len(value) > MAX_NAME_CHARS:
        raise error(f"expected one printable line of at most {MAX_NAME_CHARS} characters for `{field}`, got {value!r}")
    return value


def parse_mask(raw: Any, error: type[ValueError], field: str = "mask") -> tuple[tuple[int, ...], ...]:
    """The mask as a tuple of columns, each cell a known code.

    Raises:
        error: Naming the first bad cell (``mask[7][7]``) or the shape problem.
    """
    if not isinstance(raw, list) or not raw:
        raise error(f"expected a non-empty list of columns for `{field}`, got {_kind(raw)}")
    too_large = f"expected at most {MAX_GRID_SIDE} cells along each side of `{field}`"
    if len(raw) > MAX_GRID_SIDE:
        raise error(f"{too_large}, got {len(raw)} columns")
    height = None
    columns = []
    for x, column in enumerate(raw):
        if not isinstance(column, list) or not column:
            raise error(f"expected a non-empty list of cells for `{field}[{x}]`, got {_kind(column)}")
        if height is None:
            height = len(column)
            if height > MAX_GRID_SIDE:
                raise error(f"{too_large}, got {height} cells in `{field}[{x}]`")
        if len(column) != height:
            raise error(f"expected `{field}` to be rectangular: `{field}[{x}]` has {len(column)} cells, not {height}")
        for y, value in enumerate(column):
            if isinstance(value, bool) or not isinstance(value, int) or value not in MASK_CODES:
                raise error(
                    f"expected a mask code (-1 outside, 0 wall, 1..99 a room's floor, 100/101 a door) for "
                    f"`{field}[{x}][{y}]`, got {value!r}"
                )
        columns.append(tuple(column))
    return tuple(columns)


# ==== Our JSON format, field by field ====


def check_scene_dict(data: Any) -> None:
    """Check the fields of a scene dict (:meth:`Scene.to_dict`'s form) before it is built.

    Raises:
        SceneFormatError: Naming the field, with what was expected and what arrived.
    """
    # scene.py imports this module, so its names are imported when a check runs.
    from theory_of_space.world.scene import SCENE_FORMAT_VERSION

    if not isinstance(data, dict):
        raise SceneFormatError(f"expected a JSON object for a scene, got {_kind(data)}")
    version = data.get("version", SCENE_FORMAT_VERSION)
    if version != SCENE_FORMAT_VERSION:
        raise SceneFormatError(f"expected scene format version {SCENE_FORMAT_VERSION} for `version`, got {version!r}")
    for key in ("mask", "objects", "doors", "start"):
        if key not in data:
            raise SceneFormatError(f"scene dict is missing the field `{key}`")
    mask = parse_mask(data["mask"], SceneFormatError)
    objects = _list(data["objects"], "objects")
    if not objects:
        raise SceneFormatError("expected at least one object in `objects`, got none")
    for index, entry in enumerate(objects):
        _check_object(entry, f"objects[{index}]", mask)
    for index, entry in enumerate(_list(data["doors"], "doors")):
        _check_door(entry, f"doors[{index}]", mask)
    start = _dict(data["start"], "start")
    _cell(_get(start, "cell", "start"), "start.cell", mask)
    _facing(_get(start, "facing", "start"), "start.facing", optional=False)
    if not isinstance(data.get("source", {}), dict):
        raise SceneFormatError(f"expected an object for `source`, got {_kind(data['source'])}")


def _check_object(entry: Any, where: str, mask: Sequence[Sequence[int]]) -> None:
    entry = _dict(entry, where)
    check_name(_get(entry, "name", where), f"{where}.name", SceneFormatError)
    cell = _cell(_get(entry, "cell", where), f"{where}.cell", mask)
    room = _int(_get(entry, "room", where), f"{where}.room", 1, 99)
    code = mask[cell[0]][cell[1]]
    if code != room:
        raise SceneFormatError(f"`{where}.room` is {room} but `{where}.cell` {cell} lies on mask code {code}")
    _facing(_get(entry, "facing", where), f"{where}.facing", optional=True)
    _int(_get(entry, "label", where), f"{where}.label", 1, MAX_LABEL)


def _check_door(entry: Any, where: str, mask: Sequence[Sequence[int]]) -> None:
    from theory_of_space.world.scene import DOOR_CODES, DOOR_CONST_X

    entry = _dict(entry, where)
    check_name(_get(entry, "colour", where), f"{where}.colour", SceneFormatError)
    cell = _cell(_get(entry, "cell", where), f"{where}.cell", mask)
    code = mask[cell[0]][cell[1]]
    if code not in DOOR_CODES:
        raise SceneFormatError(f"`{where}.cell` {cell} is not a door cell (mask code {code})")
    rooms = _list(_get(entry, "rooms", where), f"{where}.rooms")
    vectors = _list(_get(entry, "into_room", where), f"{where}.into_room")
    if len(rooms) != 2 or len(vectors) != 2:
        raise SceneFormatError(f"expected two rooms and two vectors for `{where}`, got {rooms!r} and {vectors!r}")
    step = (1, 0) if code == DOOR_CONST_X else (0, 1)
    across = {}
    for sign in (-1, 1):
        x, y = cell[0] + sign * step[0], cell[1] + sign * step[1]
        inside = 0 <= x < len(mask) and 0 <= y < len(mask[0])
        across[mask[x][y] if inside else None] = [sign * step[0], sign * step[1]]
    for index, room in enumerate(rooms):
        _int(room, f"{where}.rooms[{index}]", 1, 99)
        if room not in across or not isinstance(vectors[index], list) or vectors[index] != across[room]:
            sides = {code: vector for code, vector in across.items() if code is not None}
            raise SceneFormatError(
                f"`{where}.rooms` {rooms!r} and `{where}.into_room` {vectors!r} do not match the mask: across the "
                f"door at {cell} lie these mask codes, in these directions: {sides}"
            )
    if rooms[0] == rooms[1]:
        raise SceneFormatError(f"expected two different rooms for `{where}.rooms`, got {rooms!r}")


# ==== Any scene: items against the grid and each other ====


def check_scene(scene: Scene, error: type[ValueError]) -> None:
    """The rules every scene obeys, whatever file it came from.

    Raises:
        error: Naming the items and cells at fault.
    """
    from theory_of_space.world.scene import DOOR_CODES, is_room_code

    if not scene.objects:
        raise error("expected at least one object in the scene, got none")
    for obj in scene.objects:
        code = _code(scene, obj.cell)
        if code is None or not is_room_code(code) or code != obj.room:
            raise error(f"object {obj.name!r} at {obj.cell} is in room {obj.room} but the mask holds {code} there")
    door_cells = {(x, y) for x, column in enumerate(scene.mask) for y, code in enumerate(column) if code in DOOR_CODES}
    doors = Counter(door.cell for door in scene.doors)
    missing = sorted(door_cells - set(doors))
    if missing:
        raise error(f"the mask has door cells {missing} with no door listed")
    stray = sorted(cell for cell, count in doors.items() if cell not in door_cells or count > 1)
    if stray:
        raise error(f"doors listed at {stray} are not on door cells, or share one")
    cells = Counter(item.cell for item in scene.items)
    shared = sorted(cell for cell, count in cells.items() if count > 1)
    if shared:
        names = [item.name for item in scene.items if item.cell in shared]
        raise error(f"items {names} share the cells {shared}")
    labels = Counter(obj.label for obj in scene.objects)
    repeated = sorted(label for label, count in labels.items() if count > 1)
    if repeated or not all(1 <= label <= MAX_LABEL for label in labels):
        raise error(f"expected unique object labels in 1..{MAX_LABEL}, got {sorted(labels.elements())}")
    start = scene.start.cell
    if _code(scene, start) != 1:
        raise error(f"the start {start} is not a floor cell of room 1 (mask code {_code(scene, start)})")


# ==== helpers ====


def _code(scene: Scene, cell: tuple[int, int]) -> int | None:
    x, y = cell
    if 0 <= x < scene.shape[0] and 0 <= y < scene.shape[1]:
        return scene.mask[x][y]
    return None


def _kind(value: Any) -> str:
    return repr(value) if isinstance(value, (int, float, bool)) or value is None else type(value).__name__


def _dict(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SceneFormatError(f"expected an object for `{field}`, got {_kind(value)}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise SceneFormatError(f"expected a list for `{field}`, got {_kind(value)}")
    return value


def _get(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise SceneFormatError(f"missing field `{where}.{key}`")
    return entry[key]


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SceneFormatError(f"expected an integer in {low}..{high} for `{field}`, got {value!r}")
    return value


def _cell(value: Any, field: str, mask: Sequence[Sequence[int]]) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise SceneFormatError(f"expected two integers for `{field}`, got {value!r}")
    x, y = value
    if not (0 <= x < len(mask) and 0 <= y < len(mask[0])):
        raise SceneFormatError(f"`{field}` {(x, y)} lies outside the {len(mask)} × {len(mask[0])} mask")
    return (x, y)


def _facing(value: Any, field: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or value.strip().lower() not in _FACINGS:
        unset = " or null" if optional else ""
        raise SceneFormatError(f"expected one of {', '.join(_FACINGS)}{unset} for `{field}`, got {value!r}")
