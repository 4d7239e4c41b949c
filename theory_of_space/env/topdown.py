"""Top-down pictures of a scene, north up, one square per cell.

- :func:`render_topdown` is the full map for people (``render_mode="rgb_array"``, reports): rooms,
  walls, doors in colour, every object with its front marker and number, the agent, and the cells
  it sees now tinted.
- :func:`render_probe_map` is the map shown to the model in the vision uncertainty probe: the layout
  without objects, a grey dot on every integer grid point, the candidate points as red letters and
  the agent as a blue dot. It shows nothing about what was explored or where objects are.

Both return the :class:`GridMapping` they used, so a grid point can be found on the picture.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from theory_of_space.env.glyphs import (
    INK_RGB,
    Front,
    Label,
    door_rgb,
    glyph_mask,
    glyph_style,
    label_box,
    label_font,
    paint_glyph,
    paint_label,
)
from theory_of_space.world.geometry import Cell, Facing, in_field_of_view
from theory_of_space.world.scene import WALL, Pose, Scene

OUTSIDE_RGB = (250, 250, 250)
WALL_RGB = (72, 72, 80)
FLOOR_RGB = (226, 214, 190)
SEEN_RGB = (255, 236, 140)
AGENT_RGB = (30, 90, 230)
DOT_RGB = (150, 150, 150)
CANDIDATE_RGB = (220, 30, 30)
PROBE_MAP_SIZE = 512
MAX_CANDIDATES = 26

_NORTH_UP_FRONT: dict[Facing, Front] = {
    Facing.NORTH: "away",
    Facing.EAST: "right",
    Facing.SOUTH: "toward",
    Facing.WEST: "left",
}
"""On a north-up map an object's nose points the way it faces: up for north, right for east, ..."""


@dataclass(frozen=True)
class GridMapping:
    """Where grid points land on a map: cell (x, y) has its centre at pixel ``to_pixel((x, y))``."""

    cell_px: float
    origin: tuple[float, float]
    """Pixel of the centre of cell (0, 0)."""
    grid_shape: tuple[int, int]

    def to_pixel(self, cell: Cell) -> tuple[float, float]:
        return (self.origin[0] + cell[0] * self.cell_px, self.origin[1] - cell[1] * self.cell_px)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the parameters and every grid point with its pixel."""
        width, height = self.grid_shape
        return {
            "cell_px": self.cell_px,
            "origin": list(self.origin),
            "grid_shape": [width, height],
            "points": [
                {"cell": [x, y], "pixel": list(self.to_pixel((x, y)))} for x in range(width) for y in range(height)
            ],
        }


@dataclass(frozen=True)
class MapImage:
    """A rendered map, the mapping it used and, for probe maps, the cell behind each letter."""

    image: np.ndarray
    mapping: GridMapping
    letters: dict[str, Cell]


def render_topdown(
    scene: Scene,
    agent: Pose | None = None,
    *,
    rooms: tuple[int, ...] | None = None,
    cell_px: int | None = None,
) -> MapImage:
    """The full top-down map of a scene, with the agent and the cells it sees when given.

    Args:
        scene: the world.
        agent: the agent's pose, or None for a map without the agent.
        rooms: the agent's room membership (derived from its cell when omitted).
        cell_px: pixels per cell; by default about 480 pixels for the larger side, 12 to 40 per cell.

    Example:
        >>> from theory_of_space import generate_scene
        >>> scene = generate_scene(seed=0)
        >>> render_topdown(scene, scene.start).image.dtype
        dtype('uint8')
    """
    width, height = scene.shape
    cell = cell_px if cell_px is not None else max(12, min(40, 480 // max(width, height)))
    if not isinstance(cell, int) or cell < 4:
        raise ValueError(f"expected an integer of at least 4 for `cell_px`, got {cell_px!r}")
    seen: set[Cell] = set()
    if agent is not None:
        viewer_rooms = scene.rooms_at(agent.cell) if rooms is None else rooms
        seen = {
            c
            for room in viewer_rooms
            for c in scene.room_cells(room)
            if c != agent.cell and in_field_of_view(agent.cell, agent.facing, c)
        }
    margin = cell // 2
    image, mapping = _layout(
        scene, cell, (margin, margin), (2 * margin + width * cell, 2 * margin + height * cell), seen
    )
    font_size = max(8, round(cell * 0.45))
    for obj in scene.objects:
        style = glyph_style(obj.name)
        front = None if obj.facing is None else _NORTH_UP_FRONT[obj.facing]
        px, py = mapping.to_pixel(obj.cell)
        body = max(4, round(cell * 0.55))
        paint_glyph(image, glyph_mask(style.shape, body, front, False), (round(px), round(py + body / 2)), style.colour)
        label = Label(str(obj.label), font_size)
        paint_label(image, label, label_box(label, px + cell * 0.3, py - cell * 0.1, image.shape))
    if agent is not None:
        _draw_agent(image, mapping.to_pixel(agent.cell), agent.facing, cell)
    return MapImage(image=image, mapping=mapping, letters={})


def render_probe_map(
    scene: Scene,
    candidates: Sequence[Cell],
    agent: Cell | Pose,
    *,
    size: int = PROBE_MAP_SIZE,
) -> MapImage:
    """The map of the vision uncertainty probe: layout, grid dots, lettered candidates, the agent.

    Args:
        scene: the world (its objects are not drawn).
        candidates: grid points to letter A, B, C, ... in this order (at most 26).
        agent: the agent's cell (or pose; only the cell is drawn, as a blue dot).
        size: width and height of the square picture.

    Raises:
        ValueError: on more than 26 candidates, or a size below 64.
    """
    if len(candidates) > MAX_CANDIDATES:
        raise ValueError(f"expected at most {MAX_CANDIDATES} candidate points, got {len(candidates)}")
    if not isinstance(size, int) or size < 64:
        raise ValueError(f"expected an integer of at least 64 for `size`, got {size!r}")
    width, height = scene.shape
    cell = max(4, (size - 16) // max(width, height))
    offset = ((size - width * cell) // 2, (size - height * cell) // 2)
    image, mapping = _layout(scene, cell, offset, (size, size), set())
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    dot = max(1.5, cell * 0.09)
    for x in range(width):
        for y in range(height):
            px, py = mapping.to_pixel((x, y))
            draw.ellipse((px - dot, py - dot, px + dot, py + dot), fill=DOT_RGB)
    agent_cell = agent.cell if isinstance(agent, Pose) else agent
    ax, ay = mapping.to_pixel(agent_cell)
    radius = max(3.0, cell * 0.3)
    draw.ellipse((ax - radius, ay - radius, ax + radius, ay + radius), fill=AGENT_RGB, outline=INK_RGB)
    font = label_font(max(9, round(cell * 0.7)))
    letters: dict[str, Cell] = {}
    for letter, point in zip(string.ascii_uppercase, candidates):
        px, py = mapping.to_pixel(point)
        draw.text((px, py), letter, fill=CANDIDATE_RGB, font=font, anchor="mm", stroke_width=1, stroke_fill="white")
        letters[letter] = (int(point[0]), int(point[1]))
    return MapImage(image=np.asarray(pil).copy(), mapping=mapping, letters=letters)


def _layout(
    scene: Scene, cell: int, offset: tuple[int, int], canvas: tuple[int, int], seen: set[Cell]
) -> tuple[np.ndarray, GridMapping]:
    """The rooms, walls and doors as coloured squares on a white canvas of ``canvas`` (width, height)."""
    width, height = scene.shape
    grid = scene.grid
    colours = np.empty((width, height, 3), dtype=np.uint8)
    colours[...] = OUTSIDE_RGB
    floor = (grid >= 1) & (grid <= 99)
    colours[grid == WALL] = WALL_RGB
    colours[floor] = FLOOR_RGB
    for x, y in seen:
        colours[x, y] = SEEN_RGB
    for door in scene.doors:
        colours[door.cell] = door_rgb(door.colour)
    # (x, y) with y north-up becomes (row, column) = (height-1-y, x), then each cell becomes a square
    block = np.repeat(np.repeat(colours.transpose(1, 0, 2)[::-1], cell, axis=0), cell, axis=1)
    image = np.full((canvas[1], canvas[0], 3), OUTSIDE_RGB, dtype=np.uint8)
    image[offset[1] : offset[1] + block.shape[0], offset[0] : offset[0] + block.shape[1]] = block
    lines = image[offset[1] : offset[1] + block.shape[0], offset[0] : offset[0] + block.shape[1]]
    floor_px = np.repeat(np.repeat(floor.T[::-1], cell, axis=0), cell, axis=1)
    # thin cell borders on the floor make the grid countable
    border = np.zeros_like(floor_px)
    border[::cell, :] = True
    border[:, ::cell] = True
    lines[floor_px & border] = (lines[floor_px & border] * 0.85).astype(np.uint8)
    origin = (offset[0] + (cell - 1) / 2, offset[1] + (height - 1) * cell + (cell - 1) / 2)
    return image, GridMapping(cell_px=float(cell), origin=origin, grid_shape=(width, height))


def _draw_agent(image: np.ndarray, centre: tuple[float, float], facing: Facing, cell: int) -> None:
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    fx, fy = facing.vector
    # pixel axes: x right, y down; world north is pixel up
    ahead = (fx, -fy)
    side = (-ahead[1], ahead[0])
    px, py = centre
    tip = (px + ahead[0] * cell * 0.42, py + ahead[1] * cell * 0.42)
    left = (px - ahead[0] * cell * 0.3 + side[0] * cell * 0.3, py - ahead[1] * cell * 0.3 + side[1] * cell * 0.3)
    right = (px - ahead[0] * cell * 0.3 - side[0] * cell * 0.3, py - ahead[1] * cell * 0.3 - side[1] * cell * 0.3)
    draw.polygon([tip, left, right], fill=AGENT_RGB, outline=INK_RGB, width=max(1, cell // 16))
    image[...] = np.asarray(pil)
