"""The two pictures of the vision world's first message: the calibration image and the object sheet.

- :func:`calibration_image` is a view from the egocentric camera into an empty room with
  four floor discs at known distances and bearings, so that a model can calibrate distance and angle.
- :func:`reference_sheet` shows every object of a scene in a grid of numbered tiles, with
  the glyphs of the views: oriented objects twice, facing the viewer and facing left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from theory_of_space.env.glyphs import (
    INK_RGB,
    Label,
    glyph_mask,
    glyph_style,
    label_box,
    label_font,
    paint_glyph,
    paint_label,
)
from theory_of_space.env.image import CAMERA_HEIGHT, DEFAULT_IMAGE_SIZE, render_view
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import WALL, Pose, Scene

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class CalibrationMarker:
    """A floor disc of the calibration image: ``distance`` metres away at ``bearing`` degrees."""

    colour: str
    rgb: RGB
    distance: float
    bearing: float
    """Degrees, 0 straight ahead, positive to the right."""

    @property
    def local(self) -> tuple[float, float]:
        """(right, forward) offset from the camera in metres."""
        theta = math.radians(self.bearing)
        return (self.distance * math.sin(theta), self.distance * math.cos(theta))


CALIBRATION_MARKERS: tuple[CalibrationMarker, ...] = (
    CalibrationMarker("blue", (40, 90, 230), 1.0, 0.0),
    CalibrationMarker("red", (220, 40, 40), 2.0, 0.0),
    CalibrationMarker("yellow", (245, 210, 30), 2.0, -45.0),
    CalibrationMarker("green", (40, 170, 70), 3.0, 22.5),
)
MARKER_RADIUS = 0.2
"""Radius of a calibration disc, in metres."""

_CALIBRATION_ROOM = (9, 8)
"""Floor cells (width, depth) of the empty calibration room; the camera stands in its back row."""


@lru_cache(maxsize=4)
def _calibration(size: int) -> np.ndarray:
    width, depth = _CALIBRATION_ROOM
    mask = [[1 if 0 < x <= width and 0 < y <= depth else WALL for y in range(depth + 2)] for x in range(width + 2)]
    start = Pose(cell=((width + 1) // 2, 1), facing=Facing.NORTH)
    room = Scene(
        mask=tuple(tuple(column) for column in mask),
        objects=(),
        doors=(),
        start=start,
        source={"kind": "calibration"},
    )
    image = Image.fromarray(render_view(room, start, size=size).image)
    draw = ImageDraw.Draw(image)
    focal, half = size / 2, size / 2
    for marker in CALIBRATION_MARKERS:
        right, forward = marker.local
        outline = []
        for k in range(48):
            angle = 2 * math.pi * k / 48
            r = right + MARKER_RADIUS * math.cos(angle)
            f = forward + MARKER_RADIUS * math.sin(angle)
            outline.append((half + focal * r / f, half + focal * CAMERA_HEIGHT / f))
        draw.polygon(outline, fill=marker.rgb, outline=INK_RGB, width=max(1, size // 192))
    array = np.asarray(image).copy()
    array.setflags(write=False)
    return array


def calibration_image(size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """The calibration view at ``size`` × ``size`` pixels, uint8 RGB.

    The markers are :data:`CALIBRATION_MARKERS`; ``prompts.CALIBRATION_TEXT`` says the same in
    words for the prompt.
    """
    return _calibration(size).copy()


def reference_sheet(scene: Scene, *, tile_px: int = 96, columns: int = 4) -> np.ndarray:
    """The object reference sheet of a scene, uint8 RGB.

    Tiles run in label order, at most ``columns`` to a row. Each shows the object's number in red at
    the top-left and its name at the bottom; an oriented object appears twice, facing the viewer on
    the left and facing left on the right.

    Args:
        scene: the scene whose objects to show.
        tile_px: width of one glyph slot; a tile is two slots wide.
        columns: tiles per row (1..4).

    Raises:
        ValueError: on a column count outside 1..4 or a tile size below 32.
    """
    if not isinstance(columns, int) or not 1 <= columns <= 4:
        raise ValueError(f"expected an integer in 1..4 for `columns`, got {columns!r}")
    if not isinstance(tile_px, int) or tile_px < 32:
        raise ValueError(f"expected an integer of at least 32 for `tile_px`, got {tile_px!r}")
    objects = sorted(scene.objects, key=lambda o: o.label)
    n_cols = max(1, min(columns, len(objects)))
    n_rows = max(1, math.ceil(len(objects) / n_cols))
    tile_w, tile_h = 2 * tile_px, round(tile_px * 1.45)
    sheet = np.full((n_rows * tile_h, n_cols * tile_w, 3), 255, dtype=np.uint8)
    body = round(tile_px * 0.5)
    font_size = max(9, tile_px // 7)
    number_font = label_font(max(10, tile_px // 5))
    pil = Image.fromarray(sheet)
    draw = ImageDraw.Draw(pil)
    for index, obj in enumerate(objects):
        x0, y0 = (index % n_cols) * tile_w, (index // n_cols) * tile_h
        draw.rectangle((x0, y0, x0 + tile_w - 1, y0 + tile_h - 1), outline=(190, 190, 190))
        draw.text((x0 + 5, y0 + 3), str(obj.label), fill=(220, 20, 20), font=number_font)
    sheet = np.asarray(pil).copy()
    for index, obj in enumerate(objects):
        x0, y0 = (index % n_cols) * tile_w, (index // n_cols) * tile_h
        style = glyph_style(obj.name)
        floor = y0 + round(tile_h * 0.72)
        if obj.has_orientation:
            slots = ((x0 + tile_px // 2, "toward"), (x0 + tile_px + tile_px // 2, "left"))
            for centre, front in slots:
                paint_glyph(sheet, glyph_mask(style.shape, body, front, False), (centre, floor), style.colour)
        else:
            paint_glyph(sheet, glyph_mask(style.shape, body, None, False), (x0 + tile_px, floor), style.colour)
        label = Label(obj.name, font_size)
        box = label_box(label, x0 + tile_px, y0 + tile_h - 3, sheet.shape)
        paint_label(sheet, label, box)
    return sheet
