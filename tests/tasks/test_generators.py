from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from theory_of_space.tasks import (
    QUESTIONS_PER_TASK,
    TASK_IDS,
    TaskUnavailable,
    can_generate_all,
    generate_questions,
    generate_task_questions,
    scene_seed,
    unavailable_tasks,
)
from theory_of_space.tasks.base import view_from_dict
from theory_of_space.tasks.localisation import origin_cell
from theory_of_space.tasks.navigation import replay_plan
from theory_of_space.tasks.suite import TASKS
from theory_of_space.world.geometry import Facing, bearing
from theory_of_space.world.scene import Door, SceneObject
from theory_of_space.world.view import describe_item
from theory_of_space.world.visibility import is_visible, visible_items


def test_three_questions_per_task_with_unique_ids(suite0):
    assert suite0.unavailable == {}
    assert [q.task for q in suite0.questions] == [t for t in TASK_IDS for _ in range(QUESTIONS_PER_TASK)]
    assert len({q.qid for q in suite0.questions}) == len(suite0.questions)
    assert all(q.text.rstrip().splitlines()[-1].startswith("Answer format: ") for q in suite0.questions)


def test_same_scene_same_questions(scene0, suite0):
    assert generate_questions(scene0) == suite0


def test_same_published_scene_same_questions(example_scenes):
    for scene in example_scenes.values():
        assert generate_questions(scene) == generate_questions(scene)


def test_task_families_are_independent_of_each_other_and_of_order(scene0, suite0):
    for task in TASK_IDS:
        assert generate_task_questions(scene0, task) == suite0.by_task(task)
    reordered = generate_questions(scene0, tasks=list(reversed(TASK_IDS)))
    assert sorted(reordered.questions, key=lambda q: q.qid) == sorted(suite0.questions, key=lambda q: q.qid)


def test_scene_seed_of_generated_and_published_scenes(scene0, example_scene):
    assert scene_seed(scene0) == 0
    assert scene_seed(example_scene) == 0
    anonymous = replace(example_scene, source={})
    assert scene_seed(anonymous) == int(anonymous.scene_id, 16) % 2**32


def test_duplicates_are_redrawn_then_kept_with_a_suffix(scene0):
    # Two objects give only two dir questions; the third draw must repeat one and is kept as _dup.
    small = replace(scene0, objects=scene0.objects[:2])
    questions = generate_task_questions(small, "dir", 3)
    assert [q.qid for q in questions][:2] == ["dir_0", "dir_1"]
    assert questions[2].qid == "dir_2_dup1"
    assert questions[2].text in {questions[0].text, questions[1].text}


def test_unknown_task_ids_are_refused(scene0):
    with pytest.raises(ValueError, match="expected task ids"):
        generate_questions(scene0, tasks=["dir", "teleport"])


def test_a_scene_without_oriented_objects_cannot_produce_the_facing_tasks(scene0):
    plain = replace(scene0, objects=tuple(replace(o, facing=None) for o in scene0.objects))
    assert set(unavailable_tasks(plain)) == {"persp", "perc_dec"}
    assert not can_generate_all(plain)
    with pytest.raises(TaskUnavailable, match="no oriented object"):
        generate_task_questions(plain, "persp")
    suite = generate_questions(plain)
    assert "persp" not in {q.task for q in suite.questions} and "oriented" in suite.unavailable["persp"]


def test_a_scene_with_too_few_objects_says_so(scene0):
    tiny = replace(scene0, objects=scene0.objects[:1])
    assert {"dir", "alloc", "ment_rot", "loc2view", "view2loc"} <= set(unavailable_tasks(tiny))


def test_generated_scenes_can_produce_every_task(generated_scenes, example_scene):
    assert all(can_generate_all(scene) for scene in [example_scene, *generated_scenes])


# ---- what each task may refer to ---------------------------------------------------------------


def _all_questions(scenes):
    for scene in scenes:
        for question in generate_questions(scene).questions:
            yield scene, question


@pytest.fixture(scope="module")
def asked(generated_scenes, example_scene):
    return list(_all_questions([example_scene, *generated_scenes[:10]]))


def test_dir_relates_two_distinct_objects(asked):
    for scene, q in (x for x in asked if x[1].task == "dir"):
        assert q.data["target"] != q.data["anchor"]
        assert all(isinstance(scene.item(q.data[k]), SceneObject) for k in ("target", "anchor"))


def test_persp_anchor_is_oriented_and_sees_the_target(asked):
    for scene, q in (x for x in asked if x[1].task == "persp"):
        anchor, target = scene.item(q.data["anchor"]), scene.item(q.data["target"])
        assert anchor.facing is not None and isinstance(target, SceneObject)
        assert is_visible(scene, anchor.cell, anchor.facing, target, anchor.rooms)


def test_perc_dec_lists_up_to_three_true_observations_of_items(asked):
    for scene, q in (x for x in asked if x[1].task == "perc_dec"):
        anchor = scene.item(q.answer)
        views = [view_from_dict(v) for v in q.data["observations"]]
        assert anchor.facing is not None and 1 <= len(views) <= 3
        for view in views:
            item = scene.item(view.name)
            assert item is not None and item.name != anchor.name
            assert describe_item(scene, anchor.cell, anchor.facing, anchor.rooms, item) == view


def test_plans_turn_by_at_most_a_half_turn_and_resolve_uniquely(asked):
    for scene, q in (x for x in asked if x[1].task in ("act2view", "view2act")):
        steps = q.data["steps"]
        jumps = [s for s in steps if s["kind"] == "jump"]
        assert len(jumps) == (2 if q.task == "act2view" else 3)
        assert all(s["degrees"] in (90, -90, -180) for s in steps if s["kind"] == "rotate")
        assert replay_plan(scene, steps) is not None
        lines = [line for line in q.text.splitlines() if line[:1].isdigit()]
        if q.task == "act2view":
            assert len(lines) == len(steps)
            assert not any(s["target"] in line for s, line in zip(steps, lines) if s["kind"] == "jump")


def test_act2view_target_is_visible_at_the_end(asked):
    for scene, q in (x for x in asked if x[1].task == "act2view"):
        end = replay_plan(scene, q.data["steps"]).end
        assert scene.item(q.data["target"]) in visible_items(scene, end.cell, end.facing, end.rooms)


def test_alloc_asks_three_to_five_objects(asked):
    for scene, q in (x for x in asked if x[1].task == "alloc"):
        assert 3 <= len(q.data["objects"]) <= 5
        assert all(isinstance(scene.item(n), SceneObject) for n in q.data["objects"])


def test_ment_rot_objects_are_spread_and_none_is_straight_ahead(asked):
    for scene, q in (x for x in asked if x[1].task == "ment_rot"):
        assert 3 <= len(q.data["order"]) <= 5 and q.data["objects"] == sorted(q.data["order"])
        bearings = [bearing(scene.start.cell, Facing.NORTH, scene.item(n).cell) for n in q.data["order"]]
        assert all(abs(b) > 0 for b in bearings)
        sign = 1 if q.data["direction"] == "clockwise" else -1
        angles = [(sign * b) % 360 for b in bearings]
        assert angles == sorted(angles)
        assert all(b - a > 1 for a, b in pairwise(angles))


def test_location_poses_see_two_items_and_use_the_right_origin(asked):
    for scene, q in (x for x in asked if x[1].task in ("loc2view", "view2loc")):
        origin = origin_cell(scene, q.data["origin"])
        cell = (origin[0] + q.data["position"][0], origin[1] + q.data["position"][1])
        facing = Facing.from_label(q.data["facing"])
        room = q.data["room"]
        assert scene.rooms_at(cell) == (room,) and cell not in {o.cell for o in scene.objects}
        assert len(visible_items(scene, cell, facing, (room,))) >= 2
        if room == 1:
            assert q.data["origin"] is None
        else:
            door = scene.item(q.data["origin"])
            assert isinstance(door, Door) and room in door.rooms and q.data["origin"] in q.text


def test_generators_draw_from_the_given_generator_only(scene0):
    first = TASKS["dir"].generate(scene0, np.random.default_rng(5))
    again = TASKS["dir"].generate(scene0, np.random.default_rng(5))
    assert first == again
