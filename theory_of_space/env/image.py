"""The egocentric view of the vision world: what the agent's camera sees from a pose.

A pinhole camera 0.8 m above the floor looks horizontally with a 90° horizontal field of view; one
cell is 1 m. Walls are 3 m high, doors 0.8 m wide and 2 m high. The picture is built in three
layers, none of which touches a pixel in a Python loop:

1. **Floor and ceiling.** The camera always stands on a cell centre and faces a cardinal direction,
   so the floor's cell grid, as seen from the camera, is the same for every pose. Its perspective-
   correct grid lines and the depth shading of floor and ceiling are computed once per image size.
2. **Walls and doors.** One ray per pixel column is cast through the grid, all columns at once. Every
   ray moves forward with a lateral slope below 1, so it crosses each row of cells ahead of the
   camera and at most one column boundary inside that row; the cells it may meet, their depths and
   the hit position along the face depend only on the image size and are tabulated once. Per pose
   only the material lookup and a first-hit search remain. Column heights follow from the
   perpendicular depth, so walls are perspective-correct (no fisheye). Every pixel is then one
   palette lookup.
3. **Items.** Exactly the items of :func:`~theory_of_space.world.visibility.visible_items` are drawn,
   far to near: objects as category glyphs standing on their cell, scaled by 1/depth and placed by
   their bearing, doors as their coloured panel plus a name tag. Nothing else is drawn, so the
   picture agrees with the text world by construction: a closed door is plain wall paint unless it
   is visible, other rooms hide behind the walls, and from a doorway the open door lets both rooms
   in.

Example:
    >>> from theory_of_space import generate_scene
    >>> scene = generate_scene(seed=0)
    >>> view = render_view(scene, scene.start)
    >>> view.image.shape, view.image.dtype
    ((384, 384, 3), dtype('uint8'))
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from theory_of_space.env.glyphs import (
    INK_RGB,
    Label,
    door_rgb,
    front_seen,
    glyph_mask,
    glyph_style,
    label_box,
    paint_glyph,
    paint_label,
)
from theory_of_space.world.geometry import Cell, Facing, sub, to_local
from theory_of_space.world.scene import DOOR_CODES, DOOR_CONST_X, WALL, Door, Item, Pose, Scene, SceneObject
from theory_of_space.world.visibility import visible_items

LabelMode = Literal["name", "number", "none"]
LABEL_MODES: tuple[str, ...] = ("name", "number", "none")

DEFAULT_IMAGE_SIZE = 384
MIN_IMAGE_SIZE = 32
HORIZONTAL_FOV_DEGREES = 90.0
CAMERA_HEIGHT = 0.8
WALL_HEIGHT = 3.0
DOOR_HEIGHT = 2.0
DOOR_WIDTH = 0.8
GLYPH_SIZE = 0.6
"""Width and height of an object glyph in metres."""
BASEBOARD_HEIGHT = 0.08
DOOR_TAG_HEIGHT = 2.25
"""Height (m) at which a door's name tag hangs, just above the door panel."""

WALL_RGB = (214, 204, 184)
BASEBOARD_RGB = (96, 84, 72)
FLOOR_RGB = (176, 154, 122)
FLOOR_LINE_RGB = (112, 94, 72)
CEILING_RGB = (238, 238, 242)
DOOR_FRAME_RGB = INK_RGB

_CONST_X_FACE_SHADE = 0.78
"""Faces of constant x are darker than faces of constant y, so corners read clearly."""
_FOG_DISTANCE = 9.0
_FLOOR_LINE_WIDTH = 0.025
"""Half-width (m) of the floor's cell-boundary lines."""
_SEAM_WIDTH = 0.02
"""Half-width (m) of the darker seam where two wall cells meet."""
_MATERIAL_OPEN, _MATERIAL_WALL, _MATERIAL_DOOR0 = 0, 1, 2


@dataclass(frozen=True)
class DrawnItem:
    """One item painted into a view.

    ``column`` is where the bearing puts the item (x = W/2·(1 + tan θ)); it may lie on the image edge
    for items at exactly ±45°. ``box`` is the clipped pixel box of its glyph or door tag.
    """

    name: str
    column: float
    depth: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class EgoView:
    """An egocentric picture and the items it shows (in visible order)."""

    image: np.ndarray
    """uint8 (size, size, 3)."""
    pose: Pose
    drawn: tuple[DrawnItem, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.drawn)


def render_view(
    scene: Scene,
    pose: Pose,
    *,
    rooms: tuple[int, ...] | None = None,
    size: int = DEFAULT_IMAGE_SIZE,
    labels: LabelMode = "name",
) -> EgoView:
    """Render what a camera at ``pose`` sees.

    Args:
        scene: the world.
        pose: the camera's cell and facing.
        rooms: the viewer's room membership (both rooms on a door); derived from the cell when omitted.
        size: width and height of the square image in pixels.
        labels: object labels: ``"name"``, ``"number"`` (the object's label) or ``"none"``. Doors are
            always tagged with their name unless labels are ``"none"``.

    Returns:
        The picture with the list of drawn items, which equals ``visible_items`` for the pose.

    Raises:
        ValueError: on a size below 32 pixels or an unknown label mode.
    """
    if not isinstance(size, int) or size < MIN_IMAGE_SIZE:
        raise ValueError(f"expected an integer of at least {MIN_IMAGE_SIZE} for `size`, got {size!r}")
    if labels not in LABEL_MODES:
        raise ValueError(f"expected one of {', '.join(map(repr, LABEL_MODES))} for `labels`, got {labels!r}")
    viewer_rooms = scene.rooms_at(pose.cell) if rooms is None else rooms
    visible = visible_items(scene, pose.cell, pose.facing, viewer_rooms)
    camera = _camera(size)
    materials = _scene_materials(scene)
    image = _draw_geometry(camera, materials, pose, visible)
    drawn = _draw_items(camera, image, pose, visible, viewer_rooms, labels)
    return EgoView(image=image, pose=pose, drawn=drawn)


# ---- per image size ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Camera:
    """Everything about a view that depends only on the image size (see the module docstring)."""

    size: int
    focal: float
    background_index: np.ndarray
    """int64 (H, W): palette entry of each pixel of the floor and ceiling."""
    background_palette: np.ndarray
    """uint8 (K, 3)."""
    rows: np.ndarray
    """int32 (H, 1): row numbers, to compare with per-column spans."""
    ray_i: np.ndarray
    """int64 (W, 2·B): lateral cell offset of each candidate cell along each column's ray."""
    ray_j: np.ndarray
    """int64 (W, 2·B): forward cell offset of each candidate."""
    ray_depth: np.ndarray
    """float64 (W, 2·B): forward depth at which the ray enters the candidate."""
    ray_u: np.ndarray
    """float64 (W, 2·B): where along the entered face the ray hits, 0..1."""
    ray_side: np.ndarray
    """bool (W, 2·B): True where the entered face is perpendicular to the camera's right axis."""

    @property
    def bands(self) -> int:
        return self.ray_i.shape[1] // 2


_MAX_BANDS = 128


@lru_cache(maxsize=8)
def _camera(size: int) -> _Camera:
    focal = size / 2 / math.tan(math.radians(HORIZONTAL_FOV_DEGREES / 2))
    index, palette = _background(size, focal)
    # Candidate cells along the ray of each column. The ray leaves the camera (at a cell centre) with
    # slope dx = lateral / forward, |dx| < 1, so inside the row of cells j (forward offset) it enters
    # through the face at depth j - 1/2 (cell ``entry``) and may cross one column boundary into
    # cell ``exit`` before depth j + 1/2. Candidates are ordered entry, exit, entry, exit, ...
    slope = (np.arange(size) + 0.5 - size / 2) / focal  # (W,)
    j = np.arange(1, _MAX_BANDS + 1, dtype=np.float64)  # (B,)
    x_in = slope[:, None] * (j - 0.5)  # (W, B)
    x_out = slope[:, None] * (j + 0.5)
    entry = np.floor(x_in + 0.5)
    exit_ = np.floor(x_out + 0.5)
    crosses = exit_ != entry
    boundary = (entry + exit_) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_depth = np.where(crosses, boundary / slope[:, None], np.inf)
    shape = (size, 2 * _MAX_BANDS)
    ray_i = np.stack([entry, np.where(crosses, exit_, entry)], axis=2).reshape(shape).astype(np.int64)
    ray_j = np.broadcast_to(np.stack([j, j], axis=1)[None], (size, _MAX_BANDS, 2)).reshape(shape).astype(np.int64)
    ray_depth = np.stack([np.broadcast_to(j - 0.5, x_in.shape), cross_depth], axis=2).reshape(shape)
    u_entry = x_in - entry + 0.5
    u_cross = np.where(crosses, cross_depth - (j - 0.5), 0.0)
    ray_u = np.stack([u_entry, u_cross], axis=2).reshape(shape)
    ray_side = np.stack([np.zeros_like(crosses), np.ones_like(crosses)], axis=2).reshape(shape)
    for array in (index, palette, ray_i, ray_j, ray_depth, ray_u, ray_side):
        array.setflags(write=False)
    return _Camera(
        size=size,
        focal=focal,
        background_index=index,
        background_palette=palette,
        rows=np.arange(size, dtype=np.int32)[:, None],
        ray_i=ray_i,
        ray_j=ray_j,
        ray_depth=ray_depth,
        ray_u=ray_u,
        ray_side=ray_side,
    )


def _background(size: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """Floor (with perspective-correct cell lines) and ceiling, as a palette index image.

    Palette entries ``0..H-1`` are the plain colour of each row, ``H..2H-1`` the floor-line colour
    of each row; the floor lines of a row fade out with depth so they do not shimmer near the horizon.
    """
    half = size / 2
    rows = np.arange(size) + 0.5
    palette = np.zeros((2 * size, 3), dtype=np.float64)
    index = np.tile(np.arange(size, dtype=np.int64)[:, None], (1, size))
    below = rows > half
    with np.errstate(divide="ignore"):
        floor_depth = np.where(below, focal * CAMERA_HEIGHT / (rows - half), np.inf)
        ceiling_depth = np.where(~below, focal * (WALL_HEIGHT - CAMERA_HEIGHT) / (half - rows), np.inf)
    floor_fog = _fog(floor_depth)[:, None]
    ceiling_fog = _fog(ceiling_depth)[:, None] * 0.35 + 0.65
    plain = np.where(below[:, None], np.asarray(FLOOR_RGB) * floor_fog, np.asarray(CEILING_RGB) * ceiling_fog)
    line_strength = np.clip(1.2 - floor_depth / 14.0, 0.0, 1.0)[:, None]
    line = plain * (1 - line_strength) + np.asarray(FLOOR_LINE_RGB) * floor_fog * line_strength
    palette[:size] = plain
    palette[size:] = np.where(below[:, None], line, plain)
    # floor point under pixel (row, column): forward depth z, lateral offset z·(column − W/2)/f
    columns = np.arange(size) + 0.5
    depth = np.where(below, floor_depth, 0.0)[:, None]  # (H, 1); 0 above the horizon, masked out below
    lateral = np.where(below[:, None], depth * (columns[None, :] - half) / focal, 0.0)  # (H, W)
    # cell boundaries lie at ±0.5, ±1.5, ... from the camera's cell centre, on both axes; a line is
    # at least about one pixel wide at every depth
    pixel_width = np.where(below[:, None], depth / focal * 0.6, 0.0)
    width = np.maximum(_FLOOR_LINE_WIDTH, pixel_width)
    forward_line = np.abs((depth + 0.5) % 1.0 - 0.5) < width * np.maximum(1.0, depth / 2)
    lateral_line = np.abs((lateral + 0.5) % 1.0 - 0.5) < width
    on_line = below[:, None] & (forward_line | lateral_line)
    index[on_line] += size
    return index, np.clip(np.round(palette), 0, 255).astype(np.uint8)


def _fog(depth: np.ndarray) -> np.ndarray:
    return 0.55 + 0.45 * np.exp(-depth / _FOG_DISTANCE)


# ---- per scene --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Materials:
    """The scene's grid as materials for ray casting, padded with wall on every side."""

    flat: np.ndarray
    """int16, the padded (X + 2p) × (Y + 2p) grid in row-major order: 0 open, 1 wall, 2 + k door k."""
    pad: int
    stride: int
    bands: int
    doors: tuple[Door, ...]
    door_colours: np.ndarray
    """uint8 (n_doors, 3)."""
    partitions: dict[Cell, np.ndarray]
    """Per door cell, the flat indices of the wall cells in line with the door that separate its rooms."""


_MATERIAL_CACHE: OrderedDict[str, _Materials] = OrderedDict()
_MATERIAL_CACHE_SIZE = 32


def _scene_materials(scene: Scene) -> _Materials:
    key = scene.scene_id
    cached = _MATERIAL_CACHE.get(key)
    if cached is not None:
        _MATERIAL_CACHE.move_to_end(key)
        return cached
    width, height = scene.shape
    bands = min(max(width, height) + 1, _MAX_BANDS)
    pad = bands + 1
    grid = np.full((width + 2 * pad, height + 2 * pad), _MATERIAL_WALL, dtype=np.int16)
    codes = scene.grid
    inner = grid[pad : pad + width, pad : pad + height]
    inner[(codes >= 1) & (codes <= 99)] = _MATERIAL_OPEN
    door_index = {door.cell: k for k, door in enumerate(scene.doors)}
    for x, y in zip(*np.nonzero(np.isin(codes, DOOR_CODES))):
        k = door_index.get((int(x), int(y)))
        # a door cell the scene does not list stays wall: nothing says what it would look like
        if k is not None:
            inner[x, y] = _MATERIAL_DOOR0 + k
    colours = np.array([door_rgb(door.colour) for door in scene.doors] or np.zeros((0, 3)), dtype=np.uint8)
    stride = grid.shape[1]
    partitions = {
        door.cell: np.array([(x + pad) * stride + y + pad for x, y in _partition(scene, door)], dtype=np.int64)
        for door in scene.doors
    }
    materials = _Materials(
        flat=grid.ravel(),
        pad=pad,
        stride=grid.shape[1],
        bands=bands,
        doors=scene.doors,
        door_colours=colours.reshape(-1, 3),
        partitions=partitions,
    )
    _MATERIAL_CACHE[key] = materials
    while len(_MATERIAL_CACHE) > _MATERIAL_CACHE_SIZE:
        _MATERIAL_CACHE.popitem(last=False)
    return materials


def _partition(scene: Scene, door: Door) -> list[Cell]:
    """The wall cells on both sides of a door, in its wall line, that have its two rooms on either side.

    Our walls are a whole cell thick, whereas a real wall is thin (about 0.15 m). A camera standing in a
    doorway and looking along the wall would otherwise face the jamb at arm's length; seen as a thin wall
    edge-on, the partition vanishes and both rooms show, as they do in the text world.
    """
    # a door in a wall of constant x (code 100) sits in a wall running north-south
    constant_x = scene.mask[door.cell[0]][door.cell[1]] == DOOR_CONST_X
    along, across = ((0, 1), (1, 0)) if constant_x else ((1, 0), (0, 1))
    rooms = {(door.rooms[0],), (door.rooms[1],)}
    cells = []
    for sign in (1, -1):
        x, y = door.cell
        while True:
            x, y = x + sign * along[0], y + sign * along[1]
            if not (0 <= x < scene.shape[0] and 0 <= y < scene.shape[1]) or scene.mask[x][y] != WALL:
                break
            sides = {scene.rooms_at((x - across[0], y - across[1])), scene.rooms_at((x + across[0], y + across[1]))}
            if sides != rooms:
                break
            cells.append((x, y))
    return cells


# ---- walls and doors --------------------------------------------------------------------------


def _draw_geometry(camera: _Camera, materials: _Materials, pose: Pose, visible: list[Item]) -> np.ndarray:
    size, focal, half = camera.size, camera.focal, camera.size / 2
    n = 2 * materials.bands
    fx, fy = pose.facing.vector
    rx, ry = fy, -fx  # the camera's right-hand axis
    stride = materials.stride
    base = (pose.cell[0] + materials.pad) * stride + (pose.cell[1] + materials.pad)
    ray_i, ray_j = camera.ray_i[:, :n], camera.ray_j[:, :n]
    flat = base + ray_i * (rx * stride + ry) + ray_j * (fx * stride + fy)  # (W, n)
    grid = materials.flat
    doorway = materials.partitions.get(pose.cell)
    if doorway is not None and doorway.size:
        grid = grid.copy()
        grid[doorway] = _MATERIAL_OPEN
    material = grid.take(flat)
    # closed doors that are not visible are painted as wall (see the module docstring)
    shown = {door.name for door in visible if isinstance(door, Door)}
    door_shown = np.array([door.name in shown for door in materials.doors], dtype=bool)
    first = np.argmax(material > _MATERIAL_OPEN, axis=1)  # (W,) first solid candidate
    columns = np.arange(size)
    hit = material[columns, first].astype(np.int64)
    depth = camera.ray_depth[columns, first]
    u = camera.ray_u[columns, first]
    # a face met sideways (side=True) is a face of constant x when the camera looks north or south
    side = camera.ray_side[columns, first]
    const_x_face = side if pose.facing in (Facing.NORTH, Facing.SOUTH) else ~side
    shade = np.where(const_x_face, _CONST_X_FACE_SHADE, 1.0) * _fog(depth)
    seam = np.abs(u - 0.5) > 0.5 - np.maximum(_SEAM_WIDTH, depth / focal * 0.5)
    wall = np.asarray(WALL_RGB)[None, :] * (shade * np.where(seam, 0.8, 1.0))[:, None]
    baseboard = np.asarray(BASEBOARD_RGB)[None, :] * shade[:, None]
    door_k = np.clip(hit - _MATERIAL_DOOR0, 0, max(len(materials.doors) - 1, 0))
    is_door = (hit >= _MATERIAL_DOOR0) & (np.abs(u - 0.5) < DOOR_WIDTH / 2)
    if len(materials.doors):
        is_door &= door_shown[door_k]
        frame = np.abs(u - 0.5) > DOOR_WIDTH / 2 - np.maximum(0.04, depth / focal)
        paint = materials.door_colours[door_k] * (0.75 + 0.25 * shade)[:, None]
        door = np.where(frame[:, None], np.asarray(DOOR_FRAME_RGB)[None, :], paint)
    else:
        door = wall
    top = np.floor(half - focal * (WALL_HEIGHT - CAMERA_HEIGHT) / depth + 0.5)
    bottom = np.floor(half + focal * CAMERA_HEIGHT / depth + 0.5)
    door_top = np.floor(half - focal * (DOOR_HEIGHT - CAMERA_HEIGHT) / depth + 0.5)
    board_top = np.floor(half + focal * (CAMERA_HEIGHT - BASEBOARD_HEIGHT) / depth + 0.5)
    never = size + 1
    # span k of a wall column: 0 wall, 1 door (door columns below the door top), 2 baseboard
    first_step = np.where(is_door, door_top, board_top)
    second_step = np.where(is_door, never, board_top)
    palette = np.concatenate(
        [
            camera.background_palette,
            np.clip(np.stack([wall, door, baseboard], axis=1).reshape(-1, 3), 0, 255).astype(np.uint8),
        ]
    )
    column_base = camera.background_palette.shape[0] + 3 * columns
    rows = camera.rows
    clip = np.iinfo(np.int32)
    top_i, bottom_i = (np.clip(a, clip.min, clip.max).astype(np.int32) for a in (top, bottom))
    step1, step2 = (np.clip(a, clip.min, clip.max).astype(np.int32) for a in (first_step, second_step))
    in_wall = (rows >= top_i) & (rows < bottom_i)
    span = (rows >= step1).view(np.int8) + (rows >= step2).view(np.int8)
    index = np.where(in_wall, column_base + span, camera.background_index)
    return palette.take(index, axis=0)


# ---- objects and door tags ----------------------------------------------------------------------


def _draw_items(
    camera: _Camera,
    image: np.ndarray,
    pose: Pose,
    visible: list[Item],
    rooms: tuple[int, ...],
    labels: LabelMode,
) -> tuple[DrawnItem, ...]:
    size, focal, half = camera.size, camera.focal, camera.size / 2
    font_size = max(8, round(size / 30))
    placed = []
    for order, item in enumerate(visible):
        point = _anchor_point(item, rooms)
        right, forward = to_local((point[0] - pose.cell[0], point[1] - pose.cell[1]), pose.facing)
        right_c, forward_c = to_local(sub(item.cell, pose.cell), pose.facing)
        placed.append(_Placed(order, item, half * (1 + right_c / forward_c), forward, right / max(forward, 0.3)))
    boxes: dict[int, tuple[int, int, int, int]] = {}
    tags: list[tuple[_Placed, Label, float, float]] = []
    # far to near, so that nearer glyphs cover farther ones
    for p in sorted(placed, key=lambda p: (-p.forward, p.order)):
        depth = max(p.forward, 0.3)
        if isinstance(p.item, SceneObject):
            pixels = max(3, round(GLYPH_SIZE * focal / depth))
            style = glyph_style(p.item.name)
            front = None if p.item.facing is None else front_seen(p.item.facing, pose.facing)
            floor_row = round(half + focal * CAMERA_HEIGHT / depth)
            mask = glyph_mask(style.shape, pixels, front)
            box = paint_glyph(image, mask, (round(p.column), floor_row), style.colour)
            if box is None:  # a tiny glyph centred just outside the frame: keep a one-pixel witness
                x = min(max(round(p.column), 0), size - 1)
                box = (x, floor_row - 1, x + 1, floor_row)
                image[floor_row - 1, x] = style.colour
            boxes[p.order] = box
            text = {"name": p.item.name, "number": str(p.item.label), "none": ""}[labels]
            if text:
                tags.append((p, Label(text, font_size), p.column, box[1] - 1))
        else:
            column = half * (1 + p.slope)
            row = half - focal * (DOOR_TAG_HEIGHT - CAMERA_HEIGHT) / depth
            colour = door_rgb(p.item.colour)
            if labels == "none":
                boxes[p.order] = _door_marker(image, column, row, colour, font_size)
            else:
                tags.append((p, Label(p.item.name, font_size, swatch=colour), column, row))
    # labels go on top of every glyph; nearer items choose their place first, farther ones move up
    # (or down) until they overlap no label already placed
    glyphs = dict(boxes)
    taken: list[tuple[int, int, int, int]] = []
    for p, label, column, bottom in sorted(tags, key=lambda t: (t[0].forward, t[0].order)):
        others = [box for order, box in glyphs.items() if order != p.order]
        box = _free_box(label, column, bottom, image.shape, taken, others)
        taken.append(box)
        paint_label(image, label, box)
        boxes[p.order] = _union(boxes[p.order], box) if p.order in boxes else box
    return tuple(DrawnItem(p.item.name, p.column, p.forward, boxes[p.order]) for p in placed)


@dataclass(frozen=True)
class _Placed:
    order: int
    item: Item
    column: float
    """Pixel column of the item's bearing."""
    forward: float
    """Forward depth of the point the item is drawn at."""
    slope: float
    """Lateral over forward offset of that point."""


def _free_box(
    label: Label,
    column: float,
    bottom: float,
    shape: tuple[int, ...],
    labels: list[tuple[int, int, int, int]],
    glyphs: list[tuple[int, int, int, int]],
) -> tuple[int, int, int, int]:
    """A label box near its place that covers no other label and, where possible, no other glyph."""
    height = label.extent[1] + 1
    candidates = [label_box(label, column, bottom + shift * height, shape) for shift in _LABEL_SHIFTS]
    for obstacles in (labels + glyphs, labels):
        for candidate in candidates:
            if not any(_overlap(candidate, other) for other in obstacles):
                return candidate
    return candidates[0]


_LABEL_SHIFTS = (0, -1, -2, 1, -3, 2, -4, 3, -5, -6)
"""Label positions tried, in label heights from the natural place (negative is up)."""


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _anchor_point(item: Item, rooms: tuple[int, ...]) -> tuple[float, float]:
    """Where an item stands in the picture: an object on its cell, a door on its wall face."""
    if isinstance(item, SceneObject):
        return (float(item.cell[0]), float(item.cell[1]))
    shared = [room for room in item.rooms if room in rooms]
    vx, vy = item.vector_into(shared[0] if shared else item.rooms[0])
    return (item.cell[0] + 0.5 * vx, item.cell[1] + 0.5 * vy)


def _door_marker(
    image: np.ndarray, column: float, row: float, colour: tuple[int, int, int], side: int
) -> tuple[int, int, int, int]:
    """A small square in the door's colour, the door tag used when labels are off."""
    size = image.shape[0]
    x0 = min(max(round(column - side / 2), 0), size - side)
    y0 = min(max(round(row - side), 0), size - side)
    image[y0 : y0 + side, x0 : x0 + side] = INK_RGB
    image[y0 + 1 : y0 + side - 1, x0 + 1 : x0 + side - 1] = colour
    return (x0, y0, x0 + side, y0 + side)


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
