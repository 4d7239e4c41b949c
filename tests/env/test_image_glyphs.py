"""Glyphs: a style per category (hashed for unknown names) and a front marker readable from any side."""

from __future__ import annotations

import numpy as np
import pytest

from theory_of_space.env.glyphs import (
    BODY,
    GLYPH_SHAPES,
    MARKER,
    door_rgb,
    front_seen,
    glyph_mask,
    glyph_style,
)
from theory_of_space.world.geometry import Facing
from theory_of_space.world.vocabulary import CATEGORY_BY_NAME


def _centroid(classes: np.ndarray, value: int) -> tuple[float, float]:
    rows, cols = np.nonzero(classes == value)
    return float(cols.mean()), float(rows.mean())


def test_known_categories_use_the_vocabulary_and_unknown_names_a_stable_hash():
    assert glyph_style("lamp").shape == CATEGORY_BY_NAME["lamp"].glyph
    assert glyph_style("lamp").colour == CATEGORY_BY_NAME["lamp"].colour
    assert glyph_style("hairdryer") == glyph_style("hairdryer")
    assert glyph_style("hairdryer").shape in GLYPH_SHAPES
    styles = {glyph_style(name) for name in ("hairdryer", "kettle", "saxophone", "umbrella", "anvil")}
    assert len(styles) > 1
    assert door_rgb("blue") != door_rgb("red")
    assert door_rgb("teal") == door_rgb("teal")


@pytest.mark.parametrize(
    "object_facing,viewer_facing,front",
    [
        (Facing.NORTH, Facing.NORTH, "away"),
        (Facing.SOUTH, Facing.NORTH, "toward"),
        (Facing.EAST, Facing.NORTH, "right"),
        (Facing.WEST, Facing.NORTH, "left"),
        (Facing.NORTH, Facing.EAST, "left"),
        (Facing.WEST, Facing.EAST, "toward"),
    ],
)
def test_front_seen_matches_the_relative_facing(object_facing, viewer_facing, front):
    assert front_seen(object_facing, viewer_facing) == front


@pytest.mark.parametrize("shape", GLYPH_SHAPES)
def test_the_marker_sits_on_the_side_the_front_points_to(shape):
    body_x, _ = _centroid(glyph_mask(shape, 60, None).classes, BODY)
    masks = {front: glyph_mask(shape, 60, front).classes for front in ("toward", "away", "left", "right")}
    x, y = {}, {}
    for front, classes in masks.items():
        x[front], y[front] = _centroid(classes, MARKER)
    assert x["left"] < body_x - 5 and x["right"] > body_x + 5
    assert y["toward"] > y["away"] + 10  # down in the picture is towards the viewer
    fronts = list(masks)
    for i, a in enumerate(fronts):
        for b in fronts[i + 1 :]:
            assert not np.array_equal(masks[a], masks[b]), (a, b)


@pytest.mark.parametrize("shape", GLYPH_SHAPES)
def test_objects_without_a_front_have_no_marker(shape):
    assert not (glyph_mask(shape, 40, None).classes == MARKER).any()
