"""Scene dataclasses: the ground truth of one episode, with an exact JSON round trip.

The grid is ``mask[x][y]``: -1 outside, 0 wall, 1..99 the floor of that room, 100/101 door cells
(in a wall of constant x / constant y). Objects and doors are points on integer cells; the agent
starts on a floor cell of room 1 facing north.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from theory_of_space.world.geometry import Cell, Facing, Vector
from theory_of_space.world.scene_checks import SceneFormatError, check_scene, check_scene_dict
from theory_of_space.world.vocabulary import display_name

OUTSIDE = -1
WALL = 0
DOOR_CONST_X = 100
"""Door in a wall of constant x: it joins a room to its west with a room to its east."""
DOOR_CONST_Y = 101
"""Door in a wall of constant y: it joins a room to its south with a room to its north."""
DOOR_CODES = (DOOR_CONST_X, DOOR_CONST_Y)

SCENE_FORMAT_VERSION = 1


def is_room_code(value: int) -> bool:
    return 1 <= value <= 99


@dataclass(frozen=True)
class SceneObject:
    """A named object on a floor cell; ``facing`` is ``None`` for objects without a front.

    ``name`` is the display name (:func:`~theory_of_space.world.vocabulary.display_name`): a name given with
    underscores (``fire_extinguisher``, as some published files spell it) is stored with spaces, so every
    text built from the scene shows it as the published benchmark does. Look-ups accept both spellings.
    """

    name: str
    cell: Cell
    room: int
    facing: Facing | None
    label: int

    def __post_init__(self) -> None:
        # frozen dataclass: the one place where a name becomes its display form
        object.__setattr__(self, "name", display_name(self.name))

    @property
    def has_orientation(self) -> bool:
        return self.facing is not None

    @property
    def rooms(self) -> tuple[int, ...]:
        return (self.room,)

    @property
    def is_door(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cell": list(self.cell),
            "room": self.room,
            "facing": None if self.facing is None else self.facing.label,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneObject:
        facing = data.get("facing")
        return cls(
            name=str(data["name"]),
            cell=_cell(data["cell"], "objects[].cell"),
            room=int(data["room"]),
            facing=None if facing is None else Facing.from_label(facing),
            label=int(data["label"]),
        )


@dataclass(frozen=True)
class Door:
    """A door cell joining two rooms; it belongs to both and has no facing of its own."""

    colour: str
    cell: Cell
    rooms: tuple[int, int]
    into_room: tuple[Vector, Vector]
    """For each room of ``rooms``, the unit vector pointing from the door into that room."""

    @property
    def name(self) -> str:
        return f"{self.colour} door"

    @property
    def facing(self) -> None:
        return None

    @property
    def has_orientation(self) -> bool:
        return False

    @property
    def is_door(self) -> bool:
        return True

    def vector_into(self, room: int) -> Vector:
        """The unit vector from the door into ``room`` (one of the two rooms it joins)."""
        return self.into_room[self.rooms.index(room)]

    def other_room(self, room: int) -> int:
        return self.rooms[1] if self.rooms[0] == room else self.rooms[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "colour": self.colour,
            "cell": list(self.cell),
            "rooms": list(self.rooms),
            "into_room": [list(v) for v in self.into_room],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Door:
        rooms = tuple(int(r) for r in data["rooms"])
        vectors = tuple(_cell(v, "doors[].into_room") for v in data["into_room"])
        if len(rooms) != 2 or len(vectors) != 2:
            raise ValueError(f"expected two rooms and two vectors for a door, got {data!r}")
        return cls(
            colour=str(data["colour"]),
            cell=_cell(data["cell"], "doors[].cell"),
            rooms=(rooms[0], rooms[1]),
            into_room=(vectors[0], vectors[1]),
        )


Item = SceneObject | Door


@dataclass(frozen=True)
class Pose:
    """A cell and a facing."""

    cell: Cell
    facing: Facing

    def to_dict(self) -> dict[str, Any]:
        return {"cell": list(self.cell), "facing": self.facing.label}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pose:
        return cls(cell=_cell(data["cell"], "start.cell"), facing=Facing.from_label(data["facing"]))


@dataclass(frozen=True, eq=False)
class Scene:
    """The ground-truth world: grid, objects and doors in scene order, the agent start and provenance."""

    mask: tuple[tuple[int, ...], ...]
    objects: tuple[SceneObject, ...]
    doors: tuple[Door, ...]
    start: Pose
    source: dict[str, Any] = field(default_factory=dict)
    """How the scene was made: generator parameters and seed, or the published folder."""

    def __post_init__(self) -> None:
        names = [normalise_name(item.name) for item in self.items]
        if len(set(names)) != len(names):
            raise ValueError(f"expected unique item names, got {names}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scene) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.scene_id)

    # ---- derived views (cached; the dataclass is frozen) -------------------------------------

    @cached_property
    def grid(self) -> np.ndarray:
        """The mask as a read-only integer array indexed ``[x, y]``."""
        array = np.array(self.mask, dtype=np.int16)
        array.setflags(write=False)
        return array

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.mask), len(self.mask[0]))

    @cached_property
    def room_ids(self) -> tuple[int, ...]:
        values = np.unique(self.grid)
        return tuple(int(v) for v in values if is_room_code(int(v)))

    @cached_property
    def items(self) -> tuple[Item, ...]:
        """Objects in scene order, then doors in scene order (the order in which a view lists items)."""
        return (*self.objects, *self.doors)

    @cached_property
    def _by_name(self) -> dict[str, Item]:
        return {normalise_name(item.name): item for item in self.items}

    def item(self, name: str) -> Item | None:
        """Look an item up by name, case-insensitively, with underscores read as spaces."""
        return self._by_name.get(normalise_name(name))

    @cached_property
    def items_by_room(self) -> dict[int, tuple[Item, ...]]:
        """Items of each room in visible order; a door is listed in both of its rooms."""
        table: dict[int, list[Item]] = {room: [] for room in self.room_ids}
        for item in self.items:
            for room in item.rooms:
                table[room].append(item)
        return {room: tuple(items) for room, items in table.items()}

    def rooms_at(self, cell: Cell) -> tuple[int, ...]:
        """Room membership of a cell: one room for floor, both rooms for a door cell, none otherwise."""
        x, y = cell
        if not (0 <= x < self.shape[0] and 0 <= y < self.shape[1]):
            return ()
        code = self.mask[x][y]
        if is_room_code(code):
            return (code,)
        if code in DOOR_CODES:
            for door in self.doors:
                if door.cell == (x, y):
                    return door.rooms
        return ()

    def room_cells(self, room: int) -> list[Cell]:
        xs, ys = np.nonzero(self.grid == room)
        return [(int(x), int(y)) for x, y in zip(xs, ys)]

    def allocentric(self, cell: Cell) -> Cell:
        """A cell in the allocentric frame: origin at the start, no rotation (start faces north)."""
        return (cell[0] - self.start.cell[0], cell[1] - self.start.cell[1])

    @property
    def object_list_text(self) -> str:
        """``1: television, 2: chair, ...`` in label order, as prompts list the objects."""
        return ", ".join(f"{o.label}: {o.name}" for o in sorted(self.objects, key=lambda o: o.label))

    # ---- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCENE_FORMAT_VERSION,
            "mask": [list(column) for column in self.mask],
            "objects": [o.to_dict() for o in self.objects],
            "doors": [d.to_dict() for d in self.doors],
            "start": self.start.to_dict(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """The scene of :meth:`to_dict`, every field checked first.

        Raises:
            SceneFormatError: A field is missing, of the wrong type or out of range, or the items do not
                agree with the grid; the message names the field.
        """
        check_scene_dict(data)
        try:
            scene = cls(
                mask=tuple(tuple(column) for column in data["mask"]),
                objects=tuple(SceneObject.from_dict(o) for o in data["objects"]),
                doors=tuple(Door.from_dict(d) for d in data["doors"]),
                start=Pose.from_dict(data["start"]),
                source=dict(data.get("source", {})),
            )
        except ValueError as error:  # repeated item names
            raise SceneFormatError(str(error)) from None
        check_scene(scene, SceneFormatError)
        return scene

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @cached_property
    def scene_id(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON (sorted keys, no whitespace)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def load_scene_file(path: str | Path) -> Scene:
    """Read a scene from a JSON file of ours: a :meth:`Scene.to_dict` document, or a record that holds one
    under ``scene`` (as ``tos explore --json`` writes).

    Raises:
        FileNotFoundError: There is no such file.
        SceneFormatError: The file is not JSON or not a valid scene; the message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no scene JSON file at {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SceneFormatError(f"{path}: not valid JSON ({error})") from None
    if isinstance(data, dict) and isinstance(data.get("scene"), dict):
        data = data["scene"]
    try:
        return Scene.from_dict(data)
    except SceneFormatError as error:
        raise SceneFormatError(f"{path}: {error}") from None


def scene_seed(scene: Scene) -> int:
    """The scene's seed (index): the generator seed, the number of a published ``runNN`` folder, or the id.

    Proxy tie-breaking and every task family draw from generators seeded with it.
    """
    source = scene.source
    if isinstance(source.get("seed"), int):
        return int(source["seed"])
    digits = re.findall(r"\d+", str(source.get("folder", "")))
    if digits:
        return int(digits[-1])
    return int(scene.scene_id, 16) % 2**32


def normalise_name(name: str) -> str:
    """Canonical item name for look-ups: the display name in lower case (``fire extinguisher``)."""
    return display_name(name).lower()


def _cell(value: Any, field_name: str) -> Cell:
    try:
        x, y = value
        return (int(x), int(y))
    except (TypeError, ValueError):
        raise ValueError(f"expected two integers for `{field_name}`, got {value!r}") from None
