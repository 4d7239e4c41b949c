"""The pose sampler of location→view and view→location on the published example scenes (published rules)."""

from dataclasses import replace

import numpy as np
import pytest

from theory_of_space.tasks import TASKS, TaskUnavailable
from theory_of_space.tasks.localisation import (
    CELL_DRAWS,
    MIN_VISIBLE,
    OUTER_TRIES,
    draw_pose,
    pose_rooms,
    sample_pose,
)
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import SceneObject
from theory_of_space.world.visibility import visible_items


class RecordingGenerator:
    """A seeded generator that records the bound of every ``integers`` draw (rooms, cells, facings)."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self.draws: list[int] = []

    def integers(self, high: int) -> int:
        self.draws.append(high)
        return int(self._rng.integers(high))

    def choice(self, n: int, p: list[float]) -> int:
        return int(self._rng.choice(n, p=p))


@pytest.fixture
def cramped_run00(example_scene):
    """run00 with room 1 holding only the television and, next to it, the cap: no pair more than 1 apart."""
    objects = []
    for obj in example_scene.objects:
        if obj.name in ("bike", "lamp"):
            continue
        objects.append(replace(obj, cell=(4, 2)) if obj.name == "cap" else obj)
    return replace(example_scene, objects=tuple(objects))


def test_a_room_without_two_objects_more_than_one_apart_is_never_drawn(example_scene, cramped_run00):
    assert pose_rooms(example_scene) == [1, 2, 3]
    assert pose_rooms(cramped_run00) == [2, 3]
    rooms = {sample_pose(cramped_run00, np.random.default_rng(seed), "loc2view").room for seed in range(60)}
    assert rooms == {2, 3}


def test_no_qualifying_room_makes_the_task_unavailable(example_scene):
    with pytest.raises(TaskUnavailable, match="more than 1 apart"):
        sample_pose(replace(example_scene, objects=example_scene.objects[:1]), np.random.default_rng(0), "view2loc")


def test_each_try_draws_one_room_up_to_ten_cells_and_one_facing(example_scenes):
    redrawn_cell = dropped = 0
    for scene in example_scenes.values():
        rooms, occupied = pose_rooms(scene), {o.cell for o in scene.objects}
        for seed in range(100):
            rng = RecordingGenerator(seed)
            pose = draw_pose(scene, rng, rooms, occupied)
            assert rng.draws[0] == len(rooms)
            cell_draws = rng.draws[1:-1] if rng.draws[-1] == 4 else rng.draws[1:]
            assert 1 <= len(cell_draws) <= CELL_DRAWS
            redrawn_cell += len(cell_draws) > 1
            if pose is None:
                # a pose that sees too little is dropped: no second facing or cell is drawn
                assert rng.draws[-1] == 4 and rng.draws.count(4) == 1
                dropped += 1
            else:
                assert len(pose[3]) >= MIN_VISIBLE
    assert redrawn_cell > 10 and dropped > 100


def test_sampling_makes_twenty_tries(example_scene):
    rng = RecordingGenerator(3)
    sample_pose(example_scene, rng, "loc2view")
    # the room draws are the only draws bounded by the number of rooms (cells are more, facings 4)
    assert rng.draws.count(len(pose_rooms(example_scene))) == OUTER_TRIES


def test_a_door_counts_as_a_seen_item(example_scenes):
    with_one_object = 0
    for scene in example_scenes.values():
        for seed in range(40):
            pose = sample_pose(scene, np.random.default_rng(seed), "view2loc")
            assert len(pose.visible) >= MIN_VISIBLE
            with_one_object += sum(isinstance(i, SceneObject) for i in pose.visible) < MIN_VISIBLE
    assert with_one_object > 0


def test_loc2view_asks_about_the_first_visible_item_when_three_or_fewer_are_visible(example_scenes):
    checked = 0
    for scene in example_scenes.values():
        for seed in range(40):
            draft = TASKS["loc2view"].generate(scene, np.random.default_rng(seed))
            origin = scene.start.cell if draft.data["origin"] is None else scene.item(draft.data["origin"]).cell
            cell = (origin[0] + draft.data["position"][0], origin[1] + draft.data["position"][1])
            seen = visible_items(scene, cell, Facing.from_label(draft.data["facing"]), (draft.data["room"],))
            if len(seen) <= 3:
                checked += 1
                assert draft.data["target"] == seen[0].name
    assert checked > 50
