"""The egocentric renderer agrees with the text world: exactly the visible items appear, where their bearing says."""

from __future__ import annotations

import dataclasses
import io
import math
import re
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from theory_of_space.env.image import DEFAULT_IMAGE_SIZE, render_view
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing, bearing
from theory_of_space.world.scene import WALL, Pose, Scene, SceneObject
from theory_of_space.world.visibility import visible_items

SIZE = 192
"""Most tests render small frames: the geometry is the same at every size and they are 4× cheaper."""


@lru_cache(maxsize=64)
def _scene(seed: int, n_rooms: int) -> Scene:
    return generate_scene(seed, n_rooms=n_rooms)


def _agent_poses(scene: Scene) -> list[Pose]:
    """Every pose the agent can take: the start and each item's cell, in all four facings."""
    cells = [scene.start.cell, *(item.cell for item in scene.items)]
    return [Pose(cell, facing) for cell in cells for facing in Facing]


def _columns_changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.nonzero((a != b).any(axis=(0, 2)))[0]


@st.composite
def scene_and_pose(draw):
    scene = _scene(draw(st.integers(0, 40)), draw(st.sampled_from([1, 2, 3, 4])))
    floor = [cell for room in scene.room_ids for cell in scene.room_cells(room)]
    cells = floor + [door.cell for door in scene.doors]
    return scene, Pose(draw(st.sampled_from(cells)), draw(st.sampled_from(list(Facing))))


def test_view_is_an_rgb_frame_of_the_requested_size():
    scene = _scene(0, 3)
    assert render_view(scene, scene.start).image.shape == (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE, 3)
    view = render_view(scene, scene.start, size=100)
    assert view.image.shape == (100, 100, 3)
    assert view.image.dtype == np.uint8


def test_same_scene_and_pose_give_byte_identical_pngs():
    def png(seed: int) -> bytes:
        scene = generate_scene(seed)
        buffer = io.BytesIO()
        Image.fromarray(render_view(scene, Pose(scene.start.cell, Facing.EAST)).image).save(buffer, format="PNG")
        return buffer.getvalue()

    assert png(3) == png(3)
    assert png(3) != png(4)


@pytest.mark.parametrize("n_rooms", [1, 2, 3, 4])
def test_drawn_items_are_the_visible_items_for_every_agent_pose(n_rooms):
    for seed in range(4):
        scene = _scene(seed, n_rooms)
        for pose in _agent_poses(scene):
            view = render_view(scene, pose, size=SIZE)
            assert view.names == tuple(item.name for item in visible_items(scene, pose.cell, pose.facing))


def test_drawn_column_follows_the_bearing_rule():
    scene = _scene(1, 3)
    for pose in _agent_poses(scene):
        for item in render_view(scene, pose, size=SIZE).drawn:
            cell = scene.item(item.name).cell
            theta = math.radians(bearing(pose.cell, pose.facing, cell))
            assert item.column == pytest.approx(SIZE / 2 * (1 + math.tan(theta)))
            x0, y0, x1, y1 = item.box
            assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE


@settings(max_examples=40, deadline=None)
@given(scene_and_pose())
def test_an_object_shows_in_the_image_iff_the_text_world_sees_it(case):
    scene, pose = case
    empty = dataclasses.replace(scene, objects=())
    base = render_view(empty, pose, size=SIZE).image
    visible = {item.name for item in visible_items(scene, pose.cell, pose.facing)}
    for obj in scene.objects:
        alone = render_view(dataclasses.replace(scene, objects=(obj,)), pose, size=SIZE)
        changed = _columns_changed(alone.image, base)
        assert (changed.size > 0) == (obj.name in visible), obj.name
        if obj.name in visible:
            column = min(max(alone.drawn[0].column, 0), SIZE - 1)
            # the glyph covers its bearing column (labels may shift, the glyph never does)
            assert changed.min() - 1 <= column <= changed.max() + 1


@settings(max_examples=30, deadline=None)
@given(scene_and_pose())
def test_a_door_shows_in_the_image_iff_the_text_world_sees_it(case):
    scene, pose = case
    visible = {item.name for item in visible_items(scene, pose.cell, pose.facing)}
    scene = dataclasses.replace(scene, objects=())
    image = render_view(scene, pose, size=SIZE).image
    for door in scene.doors:
        if door.cell == pose.cell:
            continue  # the door the camera stands on is open, never drawn
        without = dataclasses.replace(scene, doors=tuple(d for d in scene.doors if d != door))
        # without its Door entry the door cell is plain wall, and the viewer's rooms are unchanged
        changed = _columns_changed(image, render_view(without, pose, rooms=scene.rooms_at(pose.cell), size=SIZE).image)
        assert (changed.size > 0) == (door.name in visible), door.name


def test_doorway_shows_both_rooms(example_scene):
    # on the blue door facing west: chair and backpack in room 2, bike and lamp in room 1 (published example)
    view = render_view(example_scene, Pose((6, 8), Facing.WEST), size=SIZE)
    assert set(view.names) == {"chair", "bike", "backpack", "lamp"}
    # and the open doorway lets the floor of both rooms in: the view is not a wall at arm's length
    floor_rows = view.image[SIZE // 2 + 10 :, SIZE // 2]
    assert len({tuple(pixel) for pixel in floor_rows}) > 5


def test_walls_hide_other_rooms_even_straight_through_a_door(example_scene):
    # from room 1, the green door (7, 6) straight ahead leads to room 3; its objects are never drawn
    pose = Pose((1, 6), Facing.EAST)
    view = render_view(example_scene, pose, size=SIZE)
    room3 = {o.name for o in example_scene.objects if o.room == 3}
    assert room3 and not room3 & set(view.names)
    assert "green door" in view.names


def test_verified_example_view_is_drawn(example_scene):
    view = render_view(example_scene, Pose((1, 3), Facing.EAST))
    assert view.names == ("television", "cap", "green door", "blue door")
    television, cap = view.drawn[:2]
    assert television.column > cap.column > DEFAULT_IMAGE_SIZE / 2  # front-right, then front-slight-right
    assert television.depth < cap.depth


def _open_room(width: int, depth: int, objects: tuple[SceneObject, ...] = ()) -> Scene:
    """One empty room of ``width`` × ``depth`` floor cells; the agent starts in the middle of its south row."""
    mask = tuple(
        tuple(1 if 0 < x <= width and 0 < y <= depth else WALL for y in range(depth + 2)) for x in range(width + 2)
    )
    return Scene(mask=mask, objects=objects, doors=(), start=Pose(((width + 1) // 2, 1), Facing.NORTH))


@pytest.mark.parametrize("name", ["lamp", "television"])
def test_glyphs_shrink_with_depth_and_stand_on_the_floor(name):
    widths, bottoms = [], []
    for depth in (1, 2, 3, 5):
        scene = _open_room(5, 7, (SceneObject(name, (3, 1 + depth), 1, Facing.SOUTH, 1),))
        view = render_view(scene, scene.start, size=SIZE, labels="none")
        x0, _, x1, y1 = view.drawn[0].box
        widths.append(x1 - x0)
        bottoms.append(y1)
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 4
    assert bottoms == sorted(bottoms, reverse=True)  # farther objects stand closer to the horizon
    assert all(bottom > SIZE / 2 for bottom in bottoms)


@pytest.mark.parametrize("labels", ["name", "number", "none"])
def test_label_modes_draw_the_same_items(labels):
    scene = _scene(0, 3)
    pose = Pose((3, 9), Facing.NORTH)
    view = render_view(scene, pose, size=SIZE, labels=labels)
    assert view.names == render_view(scene, pose, size=SIZE).names


def test_labels_change_pixels_but_not_the_geometry():
    scene = _scene(0, 3)
    pose = Pose((3, 9), Facing.NORTH)
    named = render_view(scene, pose, size=SIZE, labels="name").image
    bare = render_view(scene, pose, size=SIZE, labels="none").image
    assert (named != bare).any()
    empty = dataclasses.replace(scene, objects=(), doors=())
    walls = render_view(empty, pose, rooms=scene.rooms_at(pose.cell), size=SIZE).image
    assert (walls[: SIZE // 8] == bare[: SIZE // 8]).all()  # the ceiling strip holds no item


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"size": 16}, "expected an integer of at least 32 for `size`, got 16"),
        ({"labels": "emoji"}, "expected one of 'name', 'number', 'none' for `labels`, got 'emoji'"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, message):
    scene = _scene(0, 3)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        render_view(scene, scene.start, **kwargs)
