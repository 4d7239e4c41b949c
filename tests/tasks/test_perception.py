"""Perception decoding on the published example scenes: doors are seen items (published rule)."""

import numpy as np

from theory_of_space.tasks import TASKS
from theory_of_space.tasks.base import oriented_anchors
from theory_of_space.world.scene import Door, SceneObject


def test_an_oriented_object_that_sees_only_a_door_anchors_a_question(example_scene):
    anchors = {anchor.name: seen for anchor, seen in oriented_anchors(example_scene, doors=True)}
    assert [item.name for item in anchors["chair"]] == ["blue door"]
    drafts = [TASKS["perc_dec"].generate(example_scene, np.random.default_rng(seed)) for seed in range(200)]
    on_chair = [d for d in drafts if d.answer == "chair"]
    assert on_chair
    for draft in on_chair:
        assert [v["name"] for v in draft.data["observations"]] == ["blue door"]
        assert "blue door is" in draft.text and draft.data["observations"][0]["wall"] is not None


def test_perspective_taking_still_needs_an_object_in_view(example_scene):
    anchors = {anchor.name: seen for anchor, seen in oriented_anchors(example_scene, doors=False)}
    assert "chair" not in anchors
    assert all(isinstance(item, SceneObject) for seen in anchors.values() for item in seen)


def test_observation_lists_include_doors(example_scenes, example_suite):
    with_door = 0
    for scene in example_scenes.values():
        for seed in range(20):
            draft = TASKS["perc_dec"].generate(scene, np.random.default_rng(seed))
            with_door += any(isinstance(scene.item(v["name"]), Door) for v in draft.data["observations"])
    assert with_door > 10
