"""Object categories: name, whether the object has a front, and how the renderer draws it.

The strict sampler draws from :data:`CATEGORIES` (it includes the categories of the published
example scene); the simple sampler uses the published text-only name lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Glyph = Literal["box", "disc", "triangle", "diamond", "cross", "star", "hexagon", "capsule", "ring", "arrow"]
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Category:
    """An object category; ``glyph`` and ``colour`` make it recognisable in rendered images."""

    name: str
    oriented: bool
    glyph: Glyph
    colour: RGB


CATEGORIES: tuple[Category, ...] = (
    Category("television", True, "box", (40, 40, 48)),
    Category("chair", True, "capsule", (150, 90, 40)),
    Category("truck", True, "arrow", (200, 40, 40)),
    Category("bike", True, "ring", (30, 110, 200)),
    Category("backpack", True, "capsule", (60, 140, 60)),
    Category("pan", True, "disc", (90, 90, 90)),
    Category("cap", True, "triangle", (220, 120, 30)),
    Category("lamp", False, "star", (240, 210, 60)),
    Category("vase", False, "diamond", (170, 60, 170)),
    Category("shelf", False, "box", (120, 80, 50)),
    Category("rubberduck", True, "disc", (250, 220, 0)),
    Category("laptop", True, "box", (150, 150, 170)),
    Category("sofa", True, "capsule", (120, 40, 90)),
    Category("bookshelf", True, "box", (100, 60, 30)),
    Category("cabinet", True, "box", (180, 150, 110)),
    Category("refrigerator", True, "box", (220, 230, 240)),
    Category("microwave", True, "box", (70, 70, 80)),
    Category("oven", True, "box", (50, 50, 50)),
    Category("printer", True, "box", (200, 200, 200)),
    Category("monitor", True, "box", (20, 20, 30)),
    Category("projector", True, "arrow", (100, 100, 120)),
    Category("whiteboard", True, "box", (245, 245, 245)),
    Category("piano", True, "box", (10, 10, 10)),
    Category("scooter", True, "arrow", (0, 160, 160)),
    Category("airplane", True, "arrow", (180, 180, 220)),
    Category("shoes", True, "triangle", (120, 70, 50)),
    Category("teddybear", True, "disc", (170, 110, 60)),
    Category("toilet", True, "capsule", (235, 235, 235)),
    Category("shoppingcart", True, "cross", (160, 160, 160)),
    Category("table", False, "hexagon", (140, 100, 60)),
    Category("plant", False, "star", (40, 150, 50)),
    Category("trash can", False, "ring", (80, 80, 80)),
    Category("basket", False, "hexagon", (200, 160, 90)),
    Category("candle", False, "diamond", (250, 240, 200)),
    Category("globe", False, "disc", (40, 120, 220)),
    Category("clock", False, "ring", (230, 230, 120)),
)

CATEGORY_BY_NAME = {category.name: category for category in CATEGORIES}

SIMPLE_ORIENTED_NAMES = (
    "chair",
    "sofa",
    "bookshelf",
    "cabinet",
    "television",
    "refrigerator",
    "microwave",
    "oven",
    "computer",
    "printer",
    "scanner",
    "monitor",
    "projector",
    "whiteboard",
    "air conditioner",
)
SIMPLE_PLAIN_NAMES = ("table", "lamp", "plant", "vase", "trash can")


def display_name(name: str) -> str:
    """An object's name as every text a model reads shows it: underscores as spaces, one space between words.

    Published scene files spell some names with underscores (``fire_extinguisher``, ``green_chair``); the
    published benchmark shows them with spaces in observations, prompts and questions, and so do we.

    Example:
        >>> display_name("fire_extinguisher")
        'fire extinguisher'
    """
    return " ".join(name.replace("_", " ").split())


DOOR_COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "brown", "gray")
