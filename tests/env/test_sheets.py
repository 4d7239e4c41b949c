"""The object reference sheet and the calibration image of the vision world's first message."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from theory_of_space.env.image import CAMERA_HEIGHT
from theory_of_space.env.sheets import CALIBRATION_MARKERS, calibration_image, reference_sheet
from theory_of_space.world.generate import generate_scene


def test_calibration_markers_sit_at_their_distances_and_bearings():
    size = 384
    image = calibration_image(size)
    assert image.shape == (size, size, 3)
    for marker in CALIBRATION_MARKERS:
        right, forward = marker.local
        x = size / 2 * (1 + right / forward)
        y = size / 2 + size / 2 * CAMERA_HEIGHT / forward
        x = min(max(x, 2), size - 3)  # the yellow disc at 45° is cut by the left edge
        assert tuple(image[round(y), round(x)]) == marker.rgb, marker.colour
    assert [(m.colour, m.distance, m.bearing) for m in CALIBRATION_MARKERS] == [
        ("blue", 1.0, 0.0),
        ("red", 2.0, 0.0),
        ("yellow", 2.0, -45.0),
        ("green", 3.0, 22.5),
    ]


def test_calibration_image_is_a_fresh_copy():
    image = calibration_image(128)
    image[...] = 0
    assert calibration_image(128).any()


@pytest.mark.parametrize("n_rooms", [1, 3])
def test_reference_sheet_has_one_tile_per_object_in_at_most_four_columns(n_rooms):
    scene = generate_scene(0, n_rooms=n_rooms)
    sheet = reference_sheet(scene, tile_px=80)
    n = len(scene.objects)
    columns = min(4, n)
    tile_w, tile_h = 160, round(80 * 1.45)
    assert sheet.shape == (math.ceil(n / columns) * tile_h, columns * tile_w, 3)
    for index, obj in enumerate(sorted(scene.objects, key=lambda o: o.label)):
        x0, y0 = (index % columns) * tile_w, (index // columns) * tile_h
        number = sheet[y0 : y0 + 24, x0 : x0 + 30].astype(int)
        assert ((number[..., 0] > 180) & (number[..., 1] < 80) & (number[..., 2] < 80)).any()  # red label
        glyphs = sheet[y0 + 24 : y0 + tile_h - 24, x0 : x0 + tile_w].astype(int)
        coloured = (np.abs(glyphs - 255).sum(axis=2) > 60) & (np.abs(glyphs - 190).sum(axis=2) > 0)
        columns_used = np.nonzero(coloured.any(axis=0))[0]
        if obj.has_orientation:
            # two copies: facing the viewer on the left, facing left on the right
            assert columns_used.min() < tile_w // 2 < columns_used.max()
            assert not np.array_equal(glyphs[:, : tile_w // 2], glyphs[:, tile_w // 2 :])
        else:
            assert abs(np.nonzero(coloured)[1].mean() - tile_w / 2) < 6  # one copy, centred


def test_reference_sheet_rejects_more_than_four_columns():
    scene = generate_scene(0)
    with pytest.raises(ValueError, match=f"^{re.escape('expected an integer in 1..4 for `columns`, got 5')}$"):
        reference_sheet(scene, columns=5)
