"""Import of the published benchmark's scene folders (``runNN/meta_data.json`` and friends).

The files carry their own grid (``mask[x][y]``) and an ``offset`` that maps metre positions to grid
cells (``x = pos.x + ox``, ``y = pos.z + oy``). We use both as they are, and check the file against
itself: every failure is a :class:`TosFormatError` that names the offending field.

In ``falsebelief_exp.json`` the ``room_id`` of a moved object is stale (it still names the room the
object left, in every move of the five reference scenes), so the changed scene takes each object's
room from the mask at its new cell.

``room_size`` in these files is ``[number of y values, number of x values]`` of the mask (checked on
all five reference scenes: ``run00`` has a 15 × 16 mask and ``room_size = [16, 15]``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from theory_of_space.world.geometry import Cell, Facing
from theory_of_space.world.perturb import DEFAULT_N_CHANGES, SceneChange, diff_scenes
from theory_of_space.world.published import resolve_scene_path
from theory_of_space.world.scene import (
    DOOR_CONST_X,
    DOOR_CONST_Y,
    Door,
    Pose,
    Scene,
    SceneObject,
    is_room_code,
    normalise_name,
)
from theory_of_space.world.scene_checks import MAX_LABEL, check_name, check_scene, parse_mask

META_FILE = "meta_data.json"
FALSE_BELIEF_FILE = "falsebelief_exp.json"
_YAW_FACINGS = {0: Facing.NORTH, 90: Facing.EAST, 180: Facing.SOUTH, 270: Facing.WEST}
_DOOR_AXES = {"vertical": DOOR_CONST_X, "horizontal": DOOR_CONST_Y}


class TosFormatError(ValueError):
    """A published scene file that is malformed or inconsistent with itself."""


def load_tos_scene(path: str | Path) -> Scene:
    """Load a published scene folder (or its ``meta_data.json``) as a :class:`Scene`.

    Args:
        path: a ``runNN`` folder, the path of its ``meta_data.json``, or the name of a published scene
            shipped with the package (``"tos:run00"`` … ``"tos:run04"``).

    Raises:
        TosFormatError: naming the field, when the file is malformed or inconsistent.
        FileNotFoundError: when there is no scene file at ``path``.
        ValueError: for a ``tos:`` name that names no shipped scene (the message lists them).

    Example:
        >>> scene = load_tos_scene("tos:run00")
        >>> scene.object_list_text[:25]
        '1: television, 2: chair, '
    """
    folder, file = _resolve(path, META_FILE)
    return parse_tos_scene(_read_json(file), source={"kind": "tos", "folder": folder.name, "file": file.name})


def load_tos_false_belief(
    path: str | Path, *, n_changes: int = DEFAULT_N_CHANGES
) -> tuple[Scene, tuple[SceneChange, ...]]:
    """Load the changed scene of a folder's ``falsebelief_exp.json`` with its list of changes.

    ``path`` is a ``runNN`` folder, its ``falsebelief_exp.json``, or a shipped scene's name (``"tos:run00"``).
    The changes are found by comparing the two scenes object by object (a changed cell is a move, a
    changed facing of an oriented object a rotation) and checked against the file's ``_fb_changes``:
    the same objects, each marked as exactly one of a move (``pos``) or a rotation (``ori``), with
    the same cells and facings before and after.

    Args:
        path: a ``runNN`` folder or the path of its ``falsebelief_exp.json``.
        n_changes: how many changes the file must hold.

    Raises:
        TosFormatError: naming the object and the field, when the file is inconsistent with the
            scene (an unknown object, an object moved onto a wall or a door, a wrong change list).
    """
    folder, file = _resolve(path, FALSE_BELIEF_FILE)
    before = load_tos_scene(folder)
    data = _read_json(file)
    # the file spells names as published (``fire_extinguisher``); the scene holds their display form
    known = {normalise_name(o.name) for o in before.objects} | {normalise_name(d.name) for d in before.doors}
    for index, entry in enumerate(_required(data, "objects", list)):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or normalise_name(name) not in known:
            raise TosFormatError(f"{file}: `objects[{index}].name` {name!r} is not an object of {META_FILE}")
    try:
        after = parse_tos_scene(
            data, source={"kind": "tos", "folder": folder.name, "file": file.name}, room_from_mask=True
        )
        changes = diff_scenes(before, after)
    except TosFormatError:
        raise  # already names the folder and file
    except ValueError as error:
        raise TosFormatError(f"{file}: {error}") from None
    _check_change_list(data, changes, _offset(data), file)
    if len(changes) != n_changes:
        raise TosFormatError(f"{file}: expected {n_changes} changed objects, found {len(changes)}")
    return after, changes


def _check_change_list(data: dict[str, Any], changes: tuple[SceneChange, ...], offset: Cell, file: Path) -> None:
    listed = _required(data, "_fb_changes", list)
    by_name = {normalise_name(change.name): change for change in changes}
    listed_names = sorted(normalise_name(str(entry.get("name"))) for entry in listed if isinstance(entry, dict))
    if listed_names != sorted(by_name) or len(listed_names) != len(listed):
        raise TosFormatError(
            f"{file}: `_fb_changes` names {listed_names} but the objects that differ are {sorted(by_name)}"
        )
    for index, entry in enumerate(listed):
        change = by_name[normalise_name(str(entry["name"]))]
        where = f"_fb_changes[{index}]"
        if bool(entry.get("pos")) == bool(entry.get("ori")):
            raise TosFormatError(
                f"{file}: `{where}` ({change.name!r}) must be exactly one of a move (pos) or a rotation (ori)"
            )
        if bool(entry.get("pos")) != (change.kind == "move"):
            stated = "move" if entry.get("pos") else "rotation"
            raise TosFormatError(
                f"{file}: `{where}` says {change.name!r} is a {stated} but the object was {change.kind}d"
            )
        for key, cell in (("pos_from", change.cell_from), ("pos_to", change.cell_to)):
            stated_cell = _grid_cell(_required(entry, key, dict, where), offset, f"{where}.{key}")
            if stated_cell != cell:
                raise TosFormatError(
                    f"{file}: `{where}.{key}` of {change.name!r} is {stated_cell} but the scenes give {cell}"
                )
        if change.kind == "rotate":
            assert change.facing_to is not None
            stated_facing = entry.get("orientation_to")
            if stated_facing != change.facing_to.label:
                raise TosFormatError(
                    f"{file}: `{where}.orientation_to` of {change.name!r} is {stated_facing!r} "
                    f"but the object faces {change.facing_to.label!r}"
                )


def parse_tos_scene(
    data: dict[str, Any], *, source: dict[str, Any] | None = None, room_from_mask: bool = False
) -> Scene:
    """Build a :class:`Scene` from the parsed JSON of a published scene file, checking it.

    Args:
        data: the file's JSON.
        source: provenance stored in the scene.
        room_from_mask: take each object's room from the mask instead of checking ``room_id``
            against it (for the false-belief file, whose ``room_id`` of moved objects is stale).

    Raises:
        TosFormatError: naming the file (from ``source``) and the field.
    """
    try:
        return _parse_checked(data, source, room_from_mask)
    except TosFormatError as error:
        origin = "/".join(str(source[key]) for key in ("folder", "file") if key in source) if source else ""
        raise TosFormatError(f"{origin}: {error}" if origin else str(error)) from None


def _parse_checked(data: Any, source: dict[str, Any] | None, room_from_mask: bool) -> Scene:
    if not isinstance(data, dict):
        raise TosFormatError(f"expected a JSON object at the top level, got {type(data).__name__}")
    mask = _mask(data)
    offset = _offset(data)
    entries = _required(data, "objects", list)
    objects: list[SceneObject] = []
    doors: list[Door] = []
    for index, entry in enumerate(entries):
        where = f"objects[{index}]"
        name = check_name(_required(entry, "name", str, where), f"{where}.name", TosFormatError)
        cell = _grid_cell(_required(entry, "pos", dict, where), offset, f"{where}.pos")
        attributes = _required(entry, "attributes", dict, where)
        if "door" in name:
            doors.append(_door(name, cell, attributes, mask, where))
        else:
            objects.append(_object(name, cell, entry, attributes, mask, where, room_from_mask))
    try:
        scene = Scene(
            mask=mask,
            objects=tuple(objects),
            doors=tuple(doors),
            start=_agent_start(data, offset, mask),
            source=dict(source or {"kind": "tos"}),
        )
    except ValueError as error:  # repeated item names
        raise TosFormatError(f"`objects`: {error}") from None
    check_scene(scene, TosFormatError)
    _check_room_size(data, scene)
    _check_room_bounds(data, scene, offset)
    return scene


# ---- fields ------------------------------------------------------------------------------------


def _mask(data: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
    return parse_mask(_required(data, "mask", list), TosFormatError)


def _offset(data: dict[str, Any]) -> Cell:
    raw = _required(data, "offset", list)
    if len(raw) != 2:
        raise TosFormatError(f"expected two numbers for `offset`, got {raw!r}")
    return (_integral(raw[0], "offset[0]"), _integral(raw[1], "offset[1]"))


def _grid_cell(pos: dict[str, Any], offset: Cell, where: str) -> Cell:
    for axis in ("x", "z"):
        if axis not in pos:
            raise TosFormatError(f"`{where}` is missing `{axis}`")
    return (_integral(pos["x"], f"{where}.x") + offset[0], _integral(pos["z"], f"{where}.z") + offset[1])


def _object(
    name: str,
    cell: Cell,
    entry: dict[str, Any],
    attributes: dict[str, Any],
    mask: tuple[tuple[int, ...], ...],
    where: str,
    room_from_mask: bool,
) -> SceneObject:
    room = _integral(_required(attributes, "room_id", (int, float), f"{where}.attributes"), f"{where}.room_id")
    if room_from_mask:
        code = _code_at(mask, cell)
        if code is None or not is_room_code(code):
            raise TosFormatError(f"`{where}.pos` of {name!r} is {cell}, not a floor cell (mask code {code})")
        room = code
    if _code_at(mask, cell) != room:
        raise TosFormatError(
            f"`{where}.attributes.room_id` is {room} but `{where}.pos` {cell} lies on mask code {_code_at(mask, cell)}"
        )
    facing = None
    if _required(attributes, "has_orientation", bool, f"{where}.attributes"):
        yaw = _integral(_required(entry, "rot", dict, where).get("y"), f"{where}.rot.y") % 360
        if yaw not in _YAW_FACINGS:
            raise TosFormatError(f"expected a multiple of 90 for `{where}.rot.y`, got {yaw}")
        facing = _YAW_FACINGS[yaw]
        stated = attributes.get("orientation")
        if stated is not None and stated != facing.label:
            raise TosFormatError(
                f"`{where}.attributes.orientation` is {stated!r} but `{where}.rot.y` {yaw} means {facing.label!r}"
            )
    label = _integral(_required(entry, "label", (str, int), where), f"{where}.label")
    if not 1 <= label <= MAX_LABEL:
        raise TosFormatError(f"expected a label in 1..{MAX_LABEL} for `{where}.label`, got {entry['label']!r}")
    return SceneObject(name=name, cell=cell, room=room, facing=facing, label=label)


def _door(name: str, cell: Cell, attributes: dict[str, Any], mask: tuple[tuple[int, ...], ...], where: str) -> Door:
    colour = str(_required(attributes, "color", str, f"{where}.attributes"))
    if name != f"{colour} door":
        raise TosFormatError(f"`{where}.name` is {name!r} but its colour is {colour!r}")
    axis = _required(attributes, "orientation", str, f"{where}.attributes")
    if axis not in _DOOR_AXES:
        raise TosFormatError(f"expected 'vertical' or 'horizontal' for `{where}.attributes.orientation`, got {axis!r}")
    code = _DOOR_AXES[axis]
    if _code_at(mask, cell) != code:
        raise TosFormatError(
            f"`{where}` ({name}) at {cell} is {axis} (mask code {code}) but the mask holds {_code_at(mask, cell)}"
        )
    step = (1, 0) if code == DOOR_CONST_X else (0, 1)
    sides = {
        _code_at(mask, (cell[0] - step[0], cell[1] - step[1])): (-step[0], -step[1]),
        _code_at(mask, (cell[0] + step[0], cell[1] + step[1])): step,
    }
    connected = _required(attributes, "connected_rooms", list, f"{where}.attributes")
    rooms = tuple(_integral(r, f"{where}.attributes.connected_rooms") for r in connected)
    if len(rooms) != 2 or set(rooms) != set(sides) or not all(is_room_code(r) for r in rooms):
        raise TosFormatError(
            f"`{where}.attributes.connected_rooms` is {list(rooms)} but the cells across {name} at {cell} "
            f"belong to {sorted(sides)}"
        )
    return Door(colour=colour, cell=cell, rooms=(rooms[0], rooms[1]), into_room=(sides[rooms[0]], sides[rooms[1]]))


def _agent_start(data: dict[str, Any], offset: Cell, mask: tuple[tuple[int, ...], ...]) -> Pose:
    cameras = _required(data, "cameras", list)
    agents = [camera for camera in cameras if isinstance(camera, dict) and camera.get("id") == "agent"]
    if len(agents) != 1:
        raise TosFormatError(f"expected exactly one entry with id 'agent' in `cameras`, found {len(agents)}")
    cell = _grid_cell(_required(agents[0], "position", dict, "cameras[agent]"), offset, "cameras[agent].position")
    if _code_at(mask, cell) != 1:
        raise TosFormatError(f"`cameras[agent].position` {cell} is not a floor cell of room 1")
    return Pose(cell=cell, facing=Facing.NORTH)


# ---- consistency checks ------------------------------------------------------------------------


def _check_room_size(data: dict[str, Any], scene: Scene) -> None:
    if "room_size" not in data:
        return
    expected = [float(scene.shape[1]), float(scene.shape[0])]
    try:
        stated = [float(v) for v in data["room_size"]]
    except (TypeError, ValueError):
        raise TosFormatError(f"expected two numbers for `room_size`, got {data['room_size']!r}") from None
    if stated != expected:
        raise TosFormatError(f"`room_size` is {stated} but the mask spans {expected} (y values, x values)")


def _check_room_bounds(data: dict[str, Any], scene: Scene, offset: Cell) -> None:
    rooms = data.get("rooms")
    if rooms is None:
        return
    if not isinstance(rooms, dict):
        raise TosFormatError(f"expected an object for `rooms`, got {type(rooms).__name__}")
    if sorted(rooms) != sorted(str(room) for room in scene.room_ids):
        raise TosFormatError(f"`rooms` lists {sorted(rooms)} but the mask has rooms {list(scene.room_ids)}")
    for key, room in rooms.items():
        bounds = _required(room, "bounds", list, f"rooms.{key}")
        finite = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bounds)
        if len(bounds) != 4 or not finite:
            raise TosFormatError(f"expected four numbers for `rooms.{key}.bounds`, got {bounds!r}")
        x0, x1 = math.ceil(bounds[0]) + offset[0], math.floor(bounds[1]) + offset[0]
        y0, y1 = math.ceil(bounds[2]) + offset[1], math.floor(bounds[3]) + offset[1]
        cells = scene.room_cells(int(key))
        xs = [c[0] for c in cells]
        ys = [c[1] for c in cells]
        rectangle = (x1 - x0 + 1) * (y1 - y0 + 1)
        if (min(xs), max(xs), min(ys), max(ys)) != (x0, x1, y0, y1) or rectangle != len(cells):
            raise TosFormatError(
                f"`rooms.{key}.bounds` {bounds} give cells x {x0}..{x1}, y {y0}..{y1} but the mask's room {key} "
                f"covers x {min(xs)}..{max(xs)}, y {min(ys)}..{max(ys)} ({len(cells)} cells)"
            )


# ---- helpers -----------------------------------------------------------------------------------


def _resolve(path: str | Path, default_file: str) -> tuple[Path, Path]:
    path = resolve_scene_path(path)
    folder, file = (path, path / default_file) if path.is_dir() else (path.parent, path)
    if not file.is_file():
        raise FileNotFoundError(f"no published scene file at {file}")
    return folder, file


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise TosFormatError(f"{file} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise TosFormatError(f"{file}: expected a JSON object at the top level")
    return data


def _required(container: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    field = f"{where}.{key}" if where else key
    if not isinstance(container, dict) or key not in container:
        raise TosFormatError(f"missing field `{field}`")
    value = container[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TosFormatError(f"expected {expected} for `{field}`, got {type(value).__name__}")
    return value


def _integral(value: Any, field: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TosFormatError(f"expected a whole number for `{field}`, got {value!r}") from None
    if not math.isfinite(number) or number != round(number):
        raise TosFormatError(f"expected a whole number for `{field}`, got {value!r}")
    return round(number)


def _code_at(mask: tuple[tuple[int, ...], ...], cell: Cell) -> int | None:
    x, y = cell
    if 0 <= x < len(mask) and 0 <= y < len(mask[0]):
        return mask[x][y]
    return None
