"""Top-down maps: the full map for people and the probe map for the vision uncertainty probe."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from theory_of_space.env.topdown import (
    AGENT_RGB,
    CANDIDATE_RGB,
    PROBE_MAP_SIZE,
    SEEN_RGB,
    render_probe_map,
    render_topdown,
)
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Pose


@pytest.fixture(scope="module")
def scene():
    return generate_scene(5)


def _pixel(image: np.ndarray, point: tuple[float, float]) -> tuple[int, ...]:
    return tuple(int(v) for v in image[round(point[1]), round(point[0])])


def test_full_map_shows_the_agent_where_the_mapping_says(scene):
    result = render_topdown(scene, scene.start, cell_px=20)
    width, height = scene.shape
    assert result.image.shape == (height * 20 + 20, width * 20 + 20, 3)
    assert _pixel(result.image, result.mapping.to_pixel(scene.start.cell)) == AGENT_RGB


def test_full_map_tints_exactly_the_floor_cells_the_agent_sees(scene):
    pose = Pose(scene.start.cell, Facing.EAST)
    result = render_topdown(scene, pose, cell_px=20)
    for room in scene.room_ids:
        for cell in scene.room_cells(room):
            if cell == pose.cell or any(o.cell == cell for o in scene.objects):
                continue
            px, py = result.mapping.to_pixel(cell)
            tinted = _pixel(result.image, (px + 6, py + 6)) == SEEN_RGB
            dx, dy = cell[0] - pose.cell[0], cell[1] - pose.cell[1]
            in_cone = room == 1 and dx / np.hypot(dx, dy) >= 0.706
            assert tinted == in_cone, cell


def test_mapping_round_trips_to_json(scene):
    mapping = render_topdown(scene).mapping
    data = mapping.to_dict()
    assert len(data["points"]) == scene.shape[0] * scene.shape[1]
    first = data["points"][0]
    assert first["pixel"] == list(mapping.to_pixel(tuple(first["cell"])))
    # north is up: a larger y is a smaller pixel row
    assert mapping.to_pixel((0, 1))[1] < mapping.to_pixel((0, 0))[1]


def test_probe_map_letters_candidates_and_hides_objects(scene):
    candidates = [scene.objects[0].cell, scene.doors[0].cell, (0, 0)]
    result = render_probe_map(scene, candidates, scene.start)
    assert result.image.shape == (PROBE_MAP_SIZE, PROBE_MAP_SIZE, 3)
    assert result.letters == {"A": candidates[0], "B": candidates[1], "C": candidates[2]}
    for point in candidates:
        px, py = result.mapping.to_pixel(point)
        patch = result.image[round(py) - 8 : round(py) + 9, round(px) - 8 : round(px) + 9]
        assert (patch == CANDIDATE_RGB).all(axis=2).any()
    assert _pixel(result.image, result.mapping.to_pixel(scene.start.cell)) == AGENT_RGB
    without_objects = render_probe_map(dataclasses.replace(scene, objects=()), candidates, scene.start)
    assert np.array_equal(result.image, without_objects.image)


def test_probe_map_is_deterministic_and_rejects_too_many_candidates(scene):
    a = render_probe_map(scene, [(1, 1)], scene.start.cell).image
    b = render_probe_map(scene, [(1, 1)], scene.start.cell).image
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match=f"^{re.escape('expected at most 26 candidate points, got 27')}$"):
        render_probe_map(scene, [(0, 0)] * 27, scene.start)
