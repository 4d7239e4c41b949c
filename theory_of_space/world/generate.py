"""Procedural multi-room scenes: every random choice from one seeded generator.

Rooms are equal rectangles placed next to their parent with one wall cell between them; each
connection of the topology gets one door in that shared wall. Rejected layouts continue with the
same generator, so a seed always gives the same scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from theory_of_space.world.geometry import Cell, Facing
from theory_of_space.world.scene import (
    DOOR_CONST_X,
    DOOR_CONST_Y,
    OUTSIDE,
    WALL,
    Door,
    Pose,
    Scene,
    SceneObject,
)
from theory_of_space.world.vocabulary import (
    CATEGORIES,
    DOOR_COLOURS,
    SIMPLE_ORIENTED_NAMES,
    SIMPLE_PLAIN_NAMES,
)

Topology = Literal["chain", "T", "star", "ring"]
ObjectSampler = Literal["strict", "simple"]
TOPOLOGIES: tuple[str, ...] = ("chain", "T", "star", "ring")
OBJECT_SAMPLERS: tuple[str, ...] = ("strict", "simple")
MAX_ROOMS = 6
MAX_LAYOUT_ATTEMPTS = 1000
MAX_OBJECT_ATTEMPTS = 20
COLLINEAR_TOLERANCE = 1.0
"""An object closer than this to the segment between two other items of its room could hide behind them."""

_SIDES = ((1, 0), (-1, 0), (0, 1), (0, -1))  # right, left, up, down


@dataclass(frozen=True)
class _Room:
    x0: int
    y0: int
    width: int
    height: int

    @property
    def x1(self) -> int:
        return self.x0 + self.width - 1

    @property
    def y1(self) -> int:
        return self.y0 + self.height - 1

    def separated_from(self, other: _Room) -> bool:
        """At least one cell (a wall) lies between the two rectangles."""
        return other.x0 > self.x1 + 1 or self.x0 > other.x1 + 1 or other.y0 > self.y1 + 1 or self.y0 > other.y1 + 1


def default_topology(n_rooms: int) -> str:
    """The published default topology for a room count: 3 → T, 4 → star, otherwise a chain."""
    return {3: "T", 4: "star"}.get(n_rooms, "chain")


def connections(topology: str, n_rooms: int) -> list[tuple[int, int]]:
    """The (parent, child) room pairs of a topology, in placement order; one door each."""
    if topology == "chain":
        return [(k, k + 1) for k in range(1, n_rooms)]
    if topology == "T":
        _require(n_rooms == 3, "n_rooms", "3 for topology 'T'", n_rooms)
        return [(1, 2), (1, 3)]
    if topology == "star":
        _require(2 <= n_rooms <= 5, "n_rooms", "2..5 for topology 'star' (one room per side of room 1)", n_rooms)
        return [(1, k) for k in range(2, n_rooms + 1)]
    if topology == "ring":
        _require(n_rooms == 4, "n_rooms", "4 for topology 'ring'", n_rooms)
        return [(1, 2), (2, 3), (3, 4), (4, 1)]
    raise ValueError(f"expected one of {', '.join(TOPOLOGIES)} for `topology`, got {topology!r}")


def generate_scene(
    seed: int,
    *,
    n_rooms: int = 3,
    room_size: tuple[int, int] | list[int] = (6, 6),
    n_objects: int = 4,
    topology: str | None = None,
    object_sampler: str = "strict",
    accept: Callable[[Scene], bool] | None = None,
) -> Scene:
    """Generate a scene from a seed; the same arguments always give the same scene.

    Args:
        seed: drives every random choice.
        n_rooms: number of rooms, 1..6.
        room_size: (width, height) of every room's floor in cells.
        n_objects: objects per room.
        topology: chain, T, star or ring; ``None`` picks the published default for ``n_rooms``.
        object_sampler: ``"strict"`` (dataset-style constraints) or ``"simple"``.
        accept: an extra acceptance test; a rejected scene is redrawn from the same generator. The
            evaluation passes :func:`theory_of_space.tasks.can_generate_all` here, so that every
            scene can give all nine tasks their questions; the world layer cannot import it itself.

    Raises:
        ValueError: an impossible setting, naming the field.
        RuntimeError: no valid scene after the bounded number of attempts, naming the settings.

    Example:
        >>> scene = generate_scene(0)
        >>> len(scene.objects), len(scene.doors)
        (12, 2)
    """
    width, height = _validate(n_rooms, room_size, n_objects, object_sampler)
    topology = default_topology(n_rooms) if topology is None else topology
    links = connections(topology, n_rooms)
    settings: dict[str, Any] = {
        "seed": int(seed),
        "n_rooms": n_rooms,
        "room_size": [width, height],
        "n_objects": n_objects,
        "topology": topology,
        "object_sampler": object_sampler,
    }
    rng = np.random.default_rng(seed)
    for _ in range(MAX_LAYOUT_ATTEMPTS):
        layout = _layout(rng, n_rooms, width, height, topology, links)
        if layout is None:
            continue
        mask, doors = layout
        objects = _place_objects(rng, mask, doors, n_rooms, n_objects, object_sampler)
        if objects is None:
            continue
        start = _agent_start(rng, mask, objects)
        if start is None:
            continue
        scene = Scene(
            mask=tuple(map(tuple, mask.tolist())),
            objects=objects,
            doors=doors,
            start=Pose(start, Facing.NORTH),
            source={"kind": "procedural", **settings},
        )
        if accept is None or accept(scene):
            return scene
    raise RuntimeError(f"no valid scene after {MAX_LAYOUT_ATTEMPTS} attempts for settings {settings}")


def _validate(n_rooms: int, room_size: Any, n_objects: int, object_sampler: str) -> tuple[int, int]:
    _require(
        isinstance(n_rooms, int) and 1 <= n_rooms <= MAX_ROOMS, "n_rooms", f"an integer in 1..{MAX_ROOMS}", n_rooms
    )
    try:
        width, height = (int(v) for v in room_size)
    except (TypeError, ValueError):
        raise ValueError(f"expected two integers (width, height) for `room_size`, got {room_size!r}") from None
    _require(width >= 3 and height >= 3, "room_size", "at least 3 × 3 cells", room_size)
    _require(object_sampler in OBJECT_SAMPLERS, "object_sampler", " or ".join(OBJECT_SAMPLERS), object_sampler)
    _require(isinstance(n_objects, int) and n_objects >= 0, "n_objects", "a non-negative integer", n_objects)
    # the start cell needs one free floor cell in room 1
    _require(n_objects < width * height, "n_objects", f"fewer than the {width * height} cells of a room", n_objects)
    if object_sampler == "strict":
        # no two objects may be 8-neighbours: at most one per 2 × 2 block
        capacity = math.ceil(width / 2) * math.ceil(height / 2)
        _require(
            n_objects <= capacity,
            "n_objects",
            f"at most {capacity} for the strict sampler in {width}×{height} rooms",
            n_objects,
        )
        available = len(CATEGORIES)
    else:
        available = len(SIMPLE_ORIENTED_NAMES) + len(SIMPLE_PLAIN_NAMES)
    _require(
        n_rooms * n_objects <= available,
        "n_objects",
        f"at most {available} objects in all (the {object_sampler} sampler's names are unique per scene)",
        n_rooms * n_objects,
    )
    return width, height


def _require(ok: bool, field: str, expected: str, got: Any) -> None:
    if not ok:
        raise ValueError(f"expected {expected} for `{field}`, got {got!r}")


# ---- layout ------------------------------------------------------------------------------------


def _layout(
    rng: np.random.Generator, n_rooms: int, width: int, height: int, topology: str, links: list[tuple[int, int]]
) -> tuple[np.ndarray, tuple[Door, ...]] | None:
    side = max(30, (width + 2) * math.ceil(math.sqrt(n_rooms)) * 2 + 10)
    shift = side // 8
    origin = (
        (side - width) // 2 + int(rng.integers(-shift, shift + 1)),
        (side - height) // 2 + int(rng.integers(-shift, shift + 1)),
    )
    rooms = {1: _Room(origin[0], origin[1], width, height)}
    link_sides: dict[tuple[int, int], tuple[int, int]] = {}
    if topology == "ring":
        horizontal = _SIDES[int(rng.integers(2))]
        vertical = _SIDES[2 + int(rng.integers(2))]
        first = rooms[1]
        rooms[2] = _next_to(first, horizontal, 0)
        rooms[4] = _next_to(first, vertical, 0)
        rooms[3] = _next_to(rooms[2], vertical, 0)
        link_sides = {(1, 2): horizontal, (2, 3): vertical, (3, 4): (-horizontal[0], 0), (4, 1): (0, -vertical[1])}
    else:
        spread = min(1, min(width, height) // 4) if n_rooms > 3 else min(2, min(width, height) // 3)
        used: dict[int, set[tuple[int, int]]] = {k: set() for k in range(1, n_rooms + 1)}
        for parent, child in links:
            free = [s for s in _SIDES if s not in used[parent]]
            direction = free[int(rng.integers(len(free)))]
            rooms[child] = _next_to(rooms[parent], direction, int(rng.integers(-spread, spread + 1)))
            used[parent].add(direction)
            used[child].add((-direction[0], -direction[1]))
            link_sides[(parent, child)] = direction
    placed = list(rooms.values())
    if any(r.x0 < 1 or r.y0 < 1 or r.x1 >= side - 1 or r.y1 >= side - 1 for r in placed):
        return None
    if any(not a.separated_from(b) for i, a in enumerate(placed) for b in placed[i + 1 :]):
        return None
    grid = np.full((side, side), OUTSIDE, dtype=np.int16)
    for room_id, room in rooms.items():
        grid[room.x0 : room.x1 + 1, room.y0 : room.y1 + 1] = room_id
    floor = np.pad(grid > 0, 1)
    near_floor = np.zeros((side, side), dtype=bool)
    for dx in range(3):
        for dy in range(3):
            near_floor |= floor[dx : dx + side, dy : dy + side]
    grid[(grid == OUTSIDE) & near_floor] = WALL
    colours = rng.permutation(len(DOOR_COLOURS))
    door_specs = []
    for index, (parent, child) in enumerate(links):
        spec = _door_cell(rng, grid, rooms[parent], rooms[child], link_sides[(parent, child)])
        if spec is None:
            return None
        cell, code = spec
        grid[cell] = code
        door_specs.append((DOOR_COLOURS[int(colours[index])], cell, parent, child, link_sides[(parent, child)]))
    if _has_corner_gap(grid):
        return None
    xs, ys = np.nonzero(grid != OUTSIDE)
    lo_x, lo_y = int(xs.min()), int(ys.min())
    trimmed = grid[lo_x : int(xs.max()) + 1, lo_y : int(ys.max()) + 1]
    doors = tuple(
        Door(
            colour=colour,
            cell=(cell[0] - lo_x, cell[1] - lo_y),
            rooms=(parent, child),
            into_room=((-direction[0], -direction[1]), direction),
        )
        for colour, cell, parent, child, direction in door_specs
    )
    return trimmed, doors


def _next_to(parent: _Room, direction: tuple[int, int], offset: int) -> _Room:
    """A room beside ``parent`` on the side ``direction``, one wall cell away, shifted along that wall."""
    dx, dy = direction
    if dx:
        x0 = parent.x1 + 2 if dx > 0 else parent.x0 - parent.width - 1
        return _Room(x0, parent.y0 + offset, parent.width, parent.height)
    y0 = parent.y1 + 2 if dy > 0 else parent.y0 - parent.height - 1
    return _Room(parent.x0 + offset, y0, parent.width, parent.height)


def _door_cell(
    rng: np.random.Generator, grid: np.ndarray, parent: _Room, child: _Room, direction: tuple[int, int]
) -> tuple[tuple[int, int], int] | None:
    dx, dy = direction
    if dx:
        wall = parent.x1 + 1 if dx > 0 else parent.x0 - 1
        lo, hi = max(parent.y0, child.y0), min(parent.y1, child.y1)
        if lo > hi:
            return None
        y = int(rng.integers(lo, hi + 1))
        return ((wall, y), DOOR_CONST_X) if grid[wall, y] == WALL else None
    wall = parent.y1 + 1 if dy > 0 else parent.y0 - 1
    lo, hi = max(parent.x0, child.x0), min(parent.x1, child.x1)
    if lo > hi:
        return None
    x = int(rng.integers(lo, hi + 1))
    return ((x, wall), DOOR_CONST_Y) if grid[x, wall] == WALL else None


def _has_corner_gap(grid: np.ndarray) -> bool:
    """A 2 × 2 block whose diagonals hold different kinds of cell (open vs closed) joins spaces at a corner."""
    open_ = grid > 0
    a, b = open_[:-1, :-1], open_[1:, :-1]
    c, d = open_[:-1, 1:], open_[1:, 1:]
    return bool(np.any((a == d) & (b == c) & (a != b)))


# ---- objects and the agent ---------------------------------------------------------------------


def _place_objects(
    rng: np.random.Generator,
    mask: np.ndarray,
    doors: tuple[Door, ...],
    n_rooms: int,
    n_objects: int,
    sampler: str,
) -> tuple[SceneObject, ...] | None:
    names = _draw_names(rng, n_rooms, n_objects, sampler)
    placed: list[tuple[str, Cell, int, bool]] = []
    for room in range(1, n_rooms + 1):
        xs, ys = np.nonzero(mask == room)
        cells = [(int(x), int(y)) for x, y in zip(xs, ys)]
        room_doors = [door.cell for door in doors if room in door.rooms]
        if sampler == "strict":
            chosen = _strict_cells(rng, cells, room_doors, n_objects)
        else:
            chosen = [cells[i] for i in rng.choice(len(cells), size=n_objects, replace=False)]
        if chosen is None:
            return None
        for (name, oriented), cell in zip(names[room - 1], chosen):
            placed.append((name, cell, room, oriented))
    order = rng.permutation(len(placed))
    objects = []
    for label, index in enumerate(order, start=1):
        name, cell, room, oriented = placed[int(index)]
        if not oriented:
            facing = None
        elif sampler == "strict":
            facing = Facing((cell[0] + cell[1] + label) % 4)
        else:
            facing = Facing(int(rng.integers(4)))
        objects.append(SceneObject(name=name, cell=cell, room=room, facing=facing, label=label))
    return tuple(objects)


def _draw_names(rng: np.random.Generator, n_rooms: int, n_objects: int, sampler: str) -> list[list[tuple[str, bool]]]:
    """Names per room, unique across the scene; with the strict sampler each room gets an oriented one."""
    if sampler == "simple":
        pool = [(n, True) for n in SIMPLE_ORIENTED_NAMES] + [(n, False) for n in SIMPLE_PLAIN_NAMES]
        picks = [pool[int(i)] for i in rng.permutation(len(pool))[: n_rooms * n_objects]]
        return [picks[r * n_objects : (r + 1) * n_objects] for r in range(n_rooms)]
    pool = [(c.name, c.oriented) for c in CATEGORIES]
    order = [pool[int(i)] for i in rng.permutation(len(pool))]
    rooms: list[list[tuple[str, bool]]] = []
    for _ in range(n_rooms):
        room = order[:n_objects]
        del order[:n_objects]
        if room and not any(oriented for _, oriented in room):
            swap = next(i for i, (_, oriented) in enumerate(order) if oriented)
            room[0], order[swap] = order[swap], room[0]
        rooms.append(room)
    return rooms


def _strict_cells(
    rng: np.random.Generator, cells: list[Cell], door_cells: list[Cell], n_objects: int
) -> list[Cell] | None:
    """Cells for one room: no two 8-neighbours, none near a segment between two other items."""
    x0 = min(c[0] for c in cells)
    y0 = min(c[1] for c in cells)
    parity = (int(rng.integers(2)), int(rng.integers(2)))
    preferred = [c for c in cells if ((c[0] - x0) % 2, (c[1] - y0) % 2) == parity]
    others = [c for c in cells if ((c[0] - x0) % 2, (c[1] - y0) % 2) != parity]
    for _ in range(MAX_OBJECT_ATTEMPTS):
        chosen: list[Cell] = []
        candidates = [preferred[int(i)] for i in rng.permutation(len(preferred))] + [
            others[int(i)] for i in rng.permutation(len(others))
        ]
        for cell in candidates:
            if len(chosen) == n_objects:
                break
            if _strict_ok(cell, chosen, door_cells):
                chosen.append(cell)
        if len(chosen) == n_objects:
            return chosen
    return None


def _strict_ok(cell: Cell, chosen: list[Cell], door_cells: list[Cell]) -> bool:
    """No 8-neighbour among the chosen objects, and not within tolerance of a segment between two items."""
    if any(abs(cell[0] - c[0]) <= 1 and abs(cell[1] - c[1]) <= 1 for c in chosen):
        return False
    items = chosen + door_cells
    return not any(_near_segment(cell, a, b) for i, a in enumerate(items) for b in items[i + 1 :])


def _near_segment(point: Cell, a: Cell, b: Cell) -> bool:
    ax, ay = a
    vx, vy = b[0] - ax, b[1] - ay
    length2 = vx * vx + vy * vy
    if length2 == 0:
        return math.hypot(point[0] - ax, point[1] - ay) < COLLINEAR_TOLERANCE
    t = max(0.0, min(1.0, ((point[0] - ax) * vx + (point[1] - ay) * vy) / length2))
    return math.hypot(point[0] - ax - t * vx, point[1] - ay - t * vy) < COLLINEAR_TOLERANCE


def _agent_start(rng: np.random.Generator, mask: np.ndarray, objects: tuple[SceneObject, ...]) -> Cell | None:
    taken = {o.cell for o in objects}
    xs, ys = np.nonzero(mask == 1)
    free = [(int(x), int(y)) for x, y in zip(xs, ys) if (int(x), int(y)) not in taken]
    if not free:
        return None
    return free[int(rng.integers(len(free)))]
