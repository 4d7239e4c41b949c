"""How objects and doors look in every picture: category glyphs, front markers, colours and labels.

The egocentric views, the object reference sheet and the top-down maps all draw objects from here,
so an object looks the same in each of them. A glyph is rendered once per (shape, pixel size, front
marker) as a small *class mask* (0 transparent, then body, ink, marker and shadow) and cached; the
caller paints the classes into its own numpy image in the object's colours. This keeps Pillow off the
full frame, where its RGB <-> numpy conversions would cost more than the whole rest of a view.

The front of an oriented object is shown twice over, so that it reads from any side:

- a white *nose* sticks out of the body on its front side: down (towards the viewer), up (away from
  the viewer), left or right, as the front would appear on the floor plan seen from the camera;
- *eyes* sit on the front face: two when the object faces the viewer, one on the left or right edge
  when it faces sideways, none from behind.

Objects without a front have neither.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from theory_of_space.world.geometry import Facing
from theory_of_space.world.vocabulary import CATEGORY_BY_NAME, RGB, Glyph

Front = Literal["toward", "away", "left", "right"]
"""Where an oriented object's front points, seen from the viewer."""

GLYPH_SHAPES: tuple[Glyph, ...] = get_args(Glyph)

BODY, INK, MARKER, SHADOW = 1, 2, 3, 4
"""Classes of a glyph mask (0 is transparent)."""

INK_RGB: RGB = (20, 20, 24)
MARKER_RGB: RGB = (255, 255, 255)
SHADOW_FACTOR = 0.6
"""The floor under a glyph is darkened to this fraction of its brightness."""

DOOR_RGB: dict[str, RGB] = {
    "red": (205, 45, 45),
    "blue": (45, 85, 210),
    "green": (40, 165, 70),
    "yellow": (240, 205, 40),
    "purple": (135, 60, 175),
    "orange": (245, 140, 30),
    "black": (25, 25, 25),
    "white": (250, 250, 250),
    "brown": (125, 80, 40),
    "gray": (130, 130, 130),
    "grey": (130, 130, 130),
}

NOSE_LENGTH = 0.32
"""Length of the front marker, as a fraction of the glyph size."""
_NOSE_HALF_BASE = 0.2
_EYE_RADIUS = 0.1
_PUPIL_RADIUS = 0.05


@dataclass(frozen=True)
class GlyphStyle:
    """How one object category is drawn."""

    shape: Glyph
    colour: RGB


def glyph_style(name: str) -> GlyphStyle:
    """The style of an object by name: its vocabulary category, or a fallback hashed from the name.

    Published scenes contain categories that our vocabulary does not know; hashing the name gives them
    a style that is the same on every run and platform.
    """
    category = CATEGORY_BY_NAME.get(name)
    if category is not None:
        return GlyphStyle(category.glyph, category.colour)
    digest = hashlib.sha256(name.encode()).digest()
    shape = GLYPH_SHAPES[digest[0] % len(GLYPH_SHAPES)]
    # keep fallback colours away from black and white so the ink outline and the markers stay readable
    colour = (40 + digest[1] % 176, 40 + digest[2] % 176, 40 + digest[3] % 176)
    return GlyphStyle(shape, colour)


def door_rgb(colour: str) -> RGB:
    """The paint of a door; colour names outside the published list get a hashed colour."""
    known = DOOR_RGB.get(colour.lower())
    if known is not None:
        return known
    digest = hashlib.sha256(colour.encode()).digest()
    return (digest[0], digest[1], digest[2])


def front_seen(object_facing: Facing, viewer_facing: Facing) -> Front:
    """Where an object's front points in the viewer's picture.

    An object facing the same way as the viewer shows its back (its front points away); one facing
    the opposite way looks at the viewer.
    """
    return ("away", "right", "toward", "left")[(object_facing - viewer_facing) % 4]


# ---- glyph masks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GlyphMask:
    """A rendered glyph: class mask plus where its body's bottom centre sits inside the mask."""

    classes: np.ndarray
    """uint8 (h, w): 0 transparent, BODY, INK, MARKER, SHADOW."""
    anchor: tuple[int, int]
    """(column, row) of the body's bottom centre (the floor contact) in ``classes``."""
    extent: tuple[int, int, int, int]
    """Box ``(x0, y0, x1, y1)`` (exclusive ends) of the painted classes inside ``classes``."""


def glyph_margin(size: int) -> int:
    """Room kept around the body for the nose, the outline and the shadow."""
    return math.ceil(size * NOSE_LENGTH) + 2


@lru_cache(maxsize=2048)
def glyph_mask(shape: Glyph, size: int, front: Front | None, shadow: bool = True) -> GlyphMask:
    """Render a glyph of ``size`` pixels (body width and height) with its front marker.

    Args:
        shape: the category's glyph shape.
        size: body size in pixels (at least 3).
        front: where the front points, or None for an object without a front.
        shadow: whether to draw a contact shadow under the body (views yes, sheets and maps no).
    """
    size = max(3, int(size))
    margin = glyph_margin(size)
    side = size + 2 * margin
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    x0, y0 = margin, margin
    x1, y1 = margin + size - 1, margin + size - 1
    line = max(1, round(size / 22))
    if shadow:
        half_h = max(1, round(size * 0.07))
        draw.ellipse((x0 - size * 0.05, y1 - half_h, x1 + size * 0.05, y1 + half_h), fill=SHADOW)
    if front is not None:
        draw.polygon(_nose(front, x0, y0, size), fill=MARKER, outline=INK, width=line)
    _draw_body(draw, shape, x0, y0, x1, y1, size, line)
    if front is not None:
        for cx, cy in _eyes(front, x0, y0, size):
            r = max(1.0, size * _EYE_RADIUS)
            p = max(0.6, size * _PUPIL_RADIUS)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=MARKER, outline=INK, width=max(1, line // 2))
            draw.ellipse((cx - p, cy - p, cx + p, cy + p), fill=INK)
    classes = np.asarray(image).copy()
    classes.setflags(write=False)
    rows, cols = np.nonzero(classes)
    extent = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    return GlyphMask(classes=classes, anchor=(margin + size // 2, margin + size), extent=extent)


def _nose(front: Front, x0: int, y0: int, size: int) -> list[tuple[float, float]]:
    length, half = size * NOSE_LENGTH, size * _NOSE_HALF_BASE
    cx, cy = x0 + (size - 1) / 2, y0 + size * 0.55
    inset = size * 0.12  # the base sits inside the body, so the nose looks attached
    if front == "left":
        return [(x0 + inset, cy - half), (x0 + inset, cy + half), (x0 - length, cy)]
    if front == "right":
        right = x0 + size - 1
        return [(right - inset, cy - half), (right - inset, cy + half), (right + length, cy)]
    if front == "toward":
        bottom = y0 + size - 1
        return [(cx - half, bottom - inset), (cx + half, bottom - inset), (cx, bottom + length)]
    return [(cx - half, y0 + inset), (cx + half, y0 + inset), (cx, y0 - length)]


def _eyes(front: Front, x0: int, y0: int, size: int) -> list[tuple[float, float]]:
    row = y0 + size * 0.42
    if front == "toward":
        return [(x0 + size * 0.33, row), (x0 + size * 0.67, row)]
    if front == "left":
        return [(x0 + size * 0.2, row)]
    if front == "right":
        return [(x0 + size * 0.8, row)]
    return []


def _draw_body(
    draw: ImageDraw.ImageDraw, shape: Glyph, x0: int, y0: int, x1: int, y1: int, size: int, line: int
) -> None:
    """Draw the body of ``shape`` in the box; every shape is symmetric under a left-right mirror."""
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    style = {"fill": BODY, "outline": INK, "width": line}
    if shape == "box":
        draw.rectangle((x0 + w * 0.04, y0 + h * 0.12, x1 - w * 0.04, y1), **style)
    elif shape == "disc":
        draw.ellipse((x0, y0, x1, y1), **style)
    elif shape == "ring":
        draw.ellipse((x0, y0, x1, y1), **style)
        hole = size * 0.24
        draw.ellipse((x0 + hole, y0 + hole, x1 - hole, y1 - hole), fill=0, outline=INK, width=line)
    elif shape == "capsule":
        draw.rounded_rectangle((x0, y0 + h * 0.3, x1, y1), radius=max(1, int(h * 0.35)), **style)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], **style)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], **style)
    elif shape == "hexagon":
        draw.polygon(
            [(x0 + w * 0.25, y0), (x1 - w * 0.25, y0), (x1, cy), (x1 - w * 0.25, y1), (x0 + w * 0.25, y1), (x0, cy)],
            **style,
        )
    elif shape == "cross":
        a, b = 0.32, 0.68
        points = [(a, 0), (b, 0), (b, a), (1, a), (1, b), (b, b), (b, 1), (a, 1), (a, b), (0, b), (0, a), (a, a)]
        draw.polygon([(x0 + px * w, y0 + py * h) for px, py in points], **style)
    elif shape == "star":
        points = []
        for k in range(10):
            radius = 0.5 if k % 2 == 0 else 0.21
            angle = math.pi * k / 5
            points.append((cx + radius * w * math.sin(angle), cy - radius * h * math.cos(angle) + h * 0.04))
        draw.polygon(points, **style)
    else:  # "arrow": a double-headed vertical arrow, so it never reads as a front marker
        s, head = 0.3, 0.3
        points = [(0.5, 0), (1, head), (0.5 + s / 2, head), (0.5 + s / 2, 1 - head), (1, 1 - head), (0.5, 1),
                  (0, 1 - head), (0.5 - s / 2, 1 - head), (0.5 - s / 2, head), (0, head)]  # fmt: skip
        draw.polygon([(x0 + px * w, y0 + py * h) for px, py in points], **style)


def paint_glyph(
    image: np.ndarray, mask: GlyphMask, anchor: tuple[int, int], colour: RGB
) -> tuple[int, int, int, int] | None:
    """Paint a glyph mask into ``image`` (uint8 H×W×3, in place) with its body anchored at ``anchor``.

    Returns:
        The clipped pixel box ``(x0, y0, x1, y1)`` (exclusive ends) of the painted pixels, or None
        when the glyph lies entirely outside the image.
    """
    classes = mask.classes
    left, top = anchor[0] - mask.anchor[0], anchor[1] - mask.anchor[1]
    ex0, ey0, ex1, ey1 = mask.extent
    box = _clip(image, left + ex0, top + ey0, ex1 - ex0, ey1 - ey0)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    cls = classes[y0 - top : y1 - top, x0 - left : x1 - left]
    shadow = cls == SHADOW
    if shadow.any():
        region[shadow] = (region[shadow] * SHADOW_FACTOR).astype(np.uint8)
    region[cls == BODY] = colour
    region[cls == INK] = INK_RGB
    region[cls == MARKER] = MARKER_RGB
    return box


# ---- text labels ----------------------------------------------------------------------------


@lru_cache(maxsize=16)
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (its bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def text_alpha(text: str, size: int) -> np.ndarray:
    """The coverage of ``text`` set in :func:`label_font` at ``size``, as float32 in [0, 1]."""
    font = label_font(size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, fill=255, font=font)
    alpha = np.asarray(canvas, dtype=np.float32) / 255.0
    alpha.setflags(write=False)
    return alpha


@dataclass(frozen=True)
class Label:
    """A boxed text label, optionally with a colour square before the text (door tags)."""

    text: str
    font_size: int
    swatch: RGB | None = None

    @property
    def padding(self) -> int:
        return max(1, self.font_size // 6)

    @property
    def extent(self) -> tuple[int, int]:
        """Width and height of the boxed label in pixels."""
        alpha = text_alpha(self.text, self.font_size)
        swatch = alpha.shape[0] + self.padding if self.swatch is not None else 0
        return (alpha.shape[1] + swatch + 2 * self.padding, alpha.shape[0] + 2 * self.padding)


def label_box(label: Label, centre_x: float, bottom_y: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The box of a label centred above a point, shifted as needed to lie wholly inside an image."""
    width, height = label.extent
    rows, cols = shape[:2]
    x0 = min(max(round(centre_x - width / 2), 0), max(cols - width, 0))
    y0 = min(max(round(bottom_y - height), 0), max(rows - height, 0))
    return (x0, y0, min(x0 + width, cols), min(y0 + height, rows))


def paint_label(image: np.ndarray, label: Label, box: tuple[int, int, int, int], text_rgb: RGB = INK_RGB) -> None:
    """Paint a label into its box (from :func:`label_box`) on a light, mostly opaque background."""
    x0, y0, x1, y1 = box
    rows, cols = image.shape[:2]
    region = image[y0:y1, x0:x1]
    region[...] = (region * 0.25 + 255 * 0.75).astype(np.uint8)
    alpha = text_alpha(label.text, label.font_size)
    pad = label.padding
    swatch_w = 0
    if label.swatch is not None:
        side = alpha.shape[0]
        image[y0 + pad : min(y0 + pad + side, rows), x0 + pad : min(x0 + pad + side, cols)] = label.swatch
        swatch_w = side + pad
    tx, ty = x0 + pad + swatch_w, y0 + pad
    th, tw = min(alpha.shape[0], rows - ty), min(alpha.shape[1], cols - tx)
    if th > 0 and tw > 0:
        a = alpha[:th, :tw, None]
        text = image[ty : ty + th, tx : tx + tw]
        text[...] = (text * (1.0 - a) + np.asarray(text_rgb, dtype=np.float32) * a).astype(np.uint8)


def _clip(image: np.ndarray, left: int, top: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    rows, cols = image.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + width, cols), min(top + height, rows)
    if x0 >= x1 or y0 >= y1:
        return None
    return (x0, y0, x1, y1)
