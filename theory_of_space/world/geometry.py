"""Geometry and the discretised relations of the benchmark: the one home of every bin table.

Coordinates are integer cells ``(x, y)`` with x growing east and y growing north. Facings are the
four unit vectors; positive rotation is clockwise. Bearings are degrees in [-180, 180], 0 straight
ahead and positive to the right. Text observations, tasks, probes and the knowledge solver all read
their labels from here, so the bins can never drift apart.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np

Cell = tuple[int, int]
Vector = tuple[int, int]

FOV_COS = 0.707 - 1e-3
"""Cosine bound of the 90° field of view (±45°, boundary included, with the published slack)."""

EGO_EDGE_SLACK = 1e-3
DISTANCE_SLACK = 1e-6
PROXIMITY_MAX_DISTANCE = 2.0
"""Visible pairs at most this far apart get a proximity relation."""


class Facing(IntEnum):
    """A cardinal facing; the integer counts clockwise quarter turns from north."""

    NORTH = 0
    EAST = 1
    SOUTH = 2
    WEST = 3

    @property
    def vector(self) -> Vector:
        return _FACING_VECTORS[self]

    @property
    def label(self) -> str:
        return self.name.lower()

    def rotated(self, degrees: int) -> Facing:
        """Turn clockwise by ``degrees`` (a multiple of 90; negative turns counter-clockwise)."""
        if degrees % 90:
            raise ValueError(f"expected a multiple of 90 for `degrees`, got {degrees}")
        return Facing((self + degrees // 90) % 4)

    @classmethod
    def from_vector(cls, vector: Vector) -> Facing:
        try:
            return _VECTOR_FACINGS[(int(vector[0]), int(vector[1]))]
        except KeyError:
            raise ValueError(f"expected a unit cardinal vector, got {vector}") from None

    @classmethod
    def from_label(cls, label: str) -> Facing:
        try:
            return cls[label.strip().upper()]
        except KeyError:
            raise ValueError(f"expected one of north/east/south/west, got {label!r}") from None


_FACING_VECTORS: dict[Facing, Vector] = {
    Facing.NORTH: (0, 1),
    Facing.EAST: (1, 0),
    Facing.SOUTH: (0, -1),
    Facing.WEST: (-1, 0),
}
_VECTOR_FACINGS = {v: f for f, v in _FACING_VECTORS.items()}


def sub(a: Cell, b: Cell) -> Vector:
    return (a[0] - b[0], a[1] - b[1])


def distance(a: Cell, b: Cell) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def bearing(anchor: Cell, facing: Facing, target: Cell) -> float:
    """Signed angle in degrees from the facing to ``target``, clockwise positive."""
    fx, fy = facing.vector
    dx, dy = target[0] - anchor[0], target[1] - anchor[1]
    return -math.degrees(math.atan2(fx * dy - fy * dx, fx * dx + fy * dy))


def offset_bearing(offset: Vector, facing: Facing) -> float:
    """Bearing of an offset vector seen from the origin with ``facing``."""
    return bearing((0, 0), facing, offset)


def in_field_of_view(anchor: Cell, facing: Facing, target: Cell) -> bool:
    """Whether ``target`` lies within ±45° of the facing (boundary included)."""
    dx, dy = target[0] - anchor[0], target[1] - anchor[1]
    norm = math.hypot(dx, dy)
    if norm == 0:
        return False
    fx, fy = facing.vector
    return (fx * dx + fy * dy) / norm >= FOV_COS


def to_local(offset: Vector, facing: Facing) -> Vector:
    """Rotate a world offset into the egocentric frame (+y forward, +x right)."""
    dx, dy = offset
    fx, fy = facing.vector
    # forward component = f·d, right component = d·(f rotated clockwise) = d·(fy, -fx)
    return (dx * fy - dy * fx, dx * fx + dy * fy)


def from_local(local: Vector, facing: Facing) -> Vector:
    """Inverse of :func:`to_local`."""
    rx, fwd = local
    fx, fy = facing.vector
    return (rx * fy + fwd * fx, -rx * fx + fwd * fy)


# ---- egocentric direction ---------------------------------------------------------------------

EGO_LABELS = ("front", "front-slight-right", "front-right", "front-slight-left", "front-left", "beyond-fov")


def ego_direction_label(theta: float) -> str:
    """Egocentric direction bin of a bearing, with 1e-3 slack on each edge."""
    mag = abs(theta)
    if mag <= EGO_EDGE_SLACK:
        return "front"
    side = "right" if theta > 0 else "left"
    if mag <= 22.5 + EGO_EDGE_SLACK:
        return f"front-slight-{side}"
    if mag <= 45 + EGO_EDGE_SLACK:
        return f"front-{side}"
    return "beyond-fov"


# ---- allocentric (cardinal) direction ---------------------------------------------------------

CARDINAL_LABELS = (
    "north",
    "north east",
    "east",
    "south east",
    "south",
    "south west",
    "west",
    "north west",
)


def cardinal_label(theta: float) -> str:
    """8-bin cardinal label of a bearing measured from "north"; bins are [lo, hi)."""
    return CARDINAL_LABELS[math.floor(((theta % 360.0) + 22.5) / 45.0) % 8]


def cardinal_of_offset(offset: Vector, north: Facing = Facing.NORTH) -> str:
    """Cardinal label of an offset, with ``north`` the reference facing (true north by default)."""
    return cardinal_label(offset_bearing(offset, north))


# ---- distance ---------------------------------------------------------------------------------

DISTANCE_BINS: tuple[tuple[float, str], ...] = (
    (2.0, "near"),
    (4.0, "mid distance"),
    (8.0, "slightly far"),
    (16.0, "far"),
    (32.0, "very far"),
)
DISTANCE_LABELS = ("same distance", *(label for _, label in DISTANCE_BINS), "extremely far")


def distance_label(d: float) -> str:
    """Distance bin: 0 → same distance, then (0,2], (2,4], (4,8], (8,16], (16,32], above."""
    if d <= 0:
        return "same distance"
    for upper, label in DISTANCE_BINS:
        if d <= upper + DISTANCE_SLACK:
            return label
    return "extremely far"


# ---- facings and walls relative to the viewer -------------------------------------------------

RELATIVE_FACING_LABELS = ("forward", "right", "backward", "left")
WALL_LABELS = ("back", "left", "front", "right")


def relative_facing_label(object_facing: Facing, viewer_facing: Facing) -> str:
    """How an object faces, seen by the viewer: forward, right, backward or left."""
    return RELATIVE_FACING_LABELS[(object_facing - viewer_facing) % 4]


def wall_label(into_room: Vector, viewer_facing: Facing) -> str:
    """Wall a door sits on, from the door's vector into the viewer's room.

    A vector equal to the facing means the door is behind the viewer (back wall); a vector pointing
    to the viewer's right means the door is on the viewer's left.
    """
    return WALL_LABELS[(Facing.from_vector(into_room) - viewer_facing) % 4]


# ---- the same bins over arrays (for the knowledge solver's offset tables) ----------------------


def ego_direction_codes(theta: np.ndarray) -> np.ndarray:
    """Index into :data:`EGO_LABELS` of each bearing; agrees with :func:`ego_direction_label`."""
    mag = np.abs(theta)
    right = theta > 0
    codes = np.full(theta.shape, EGO_LABELS.index("beyond-fov"), dtype=np.int8)
    codes[mag <= 45 + EGO_EDGE_SLACK] = np.where(right, 2, 4)[mag <= 45 + EGO_EDGE_SLACK]
    codes[mag <= 22.5 + EGO_EDGE_SLACK] = np.where(right, 1, 3)[mag <= 22.5 + EGO_EDGE_SLACK]
    codes[mag <= EGO_EDGE_SLACK] = 0
    return codes


def cardinal_codes(theta: np.ndarray) -> np.ndarray:
    """Index into :data:`CARDINAL_LABELS` of each bearing; agrees with :func:`cardinal_label`."""
    return (np.floor((np.mod(theta, 360.0) + 22.5) / 45.0).astype(np.int64) % 8).astype(np.int8)


def distance_codes(d: np.ndarray) -> np.ndarray:
    """Index into :data:`DISTANCE_LABELS` of each distance; agrees with :func:`distance_label`."""
    codes = np.full(d.shape, len(DISTANCE_LABELS) - 1, dtype=np.int8)
    for index in range(len(DISTANCE_BINS) - 1, -1, -1):
        codes[d <= DISTANCE_BINS[index][0] + DISTANCE_SLACK] = index + 1
    codes[d <= 0] = 0
    return codes


def offset_bearings(dx: np.ndarray, dy: np.ndarray, facing: Facing) -> np.ndarray:
    """:func:`offset_bearing` over arrays of offsets."""
    fx, fy = facing.vector
    return -np.degrees(np.arctan2(fx * dy - fy * dx, fx * dx + fy * dy))


def nearest_facing(anchor: Cell, target: Cell, current: Facing) -> Facing:
    """The cardinal facing closest to the direction of ``target``; ties go to the smaller turn."""
    options = sorted(Facing, key=lambda f: (abs(bearing(anchor, f, target)), abs(rotation_between(current, f))))
    return options[0]


def closest_cardinal(anchor: Cell, target: Cell) -> Facing:
    """The cardinal facing closest to the direction of ``target``; on an exact diagonal, the first of
    north, east, south, west (the turn rule of the plans in the action→view and view→action tasks).

    Unlike :func:`nearest_facing`, the tie does not depend on the current facing.
    """
    return min(Facing, key=lambda f: abs(bearing(anchor, f, target)))


def rotation_between(current: Facing, wanted: Facing) -> int:
    """The clockwise turn in (-180, 180] degrees taking ``current`` to ``wanted``."""
    quarter = (wanted - current) % 4
    return {0: 0, 1: 90, 2: 180, 3: -90}[quarter]
