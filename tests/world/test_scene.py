import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Scene, SceneFormatError, normalise_name


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_rooms=st.integers(1, 5), sampler=st.sampled_from(["strict", "simple"]))
def test_scene_round_trips_through_json(seed, n_rooms, sampler):
    scene = generate_scene(seed, n_rooms=n_rooms, object_sampler=sampler)
    again = Scene.from_dict(json.loads(json.dumps(scene.to_dict())))
    assert again == scene
    assert again.to_dict() == scene.to_dict()
    assert again.scene_id == scene.scene_id


def test_scene_id_is_sixteen_hex_digits_of_the_canonical_json():
    scene = generate_scene(0)
    assert len(scene.scene_id) == 16
    int(scene.scene_id, 16)
    assert scene.to_json() == json.dumps(scene.to_dict(), sort_keys=True, separators=(",", ":"))


def test_round_trip_keeps_missing_facings_as_null(example_scene):
    data = example_scene.to_dict()
    lamp = next(o for o in data["objects"] if o["name"] == "lamp")
    assert lamp["facing"] is None
    assert Scene.from_dict(data) == example_scene


def test_item_lookup_ignores_case_and_underscores(example_scene):
    assert example_scene.item("Blue_Door").name == "blue door"
    assert example_scene.item("  TELEVISION ").name == "television"
    assert example_scene.item("sofa") is None
    assert normalise_name("fire_extinguisher") == "fire extinguisher"


def test_rooms_at_gives_both_rooms_on_a_door(example_scene):
    assert example_scene.rooms_at((6, 8)) == (1, 2)
    assert example_scene.rooms_at((1, 3)) == (1,)
    assert example_scene.rooms_at((0, 0)) == ()
    assert example_scene.rooms_at((-1, 40)) == ()


def test_duplicate_names_are_rejected():
    data = generate_scene(0).to_dict()
    data["objects"][1]["name"] = data["objects"][0]["name"].upper()
    with pytest.raises(ValueError, match="unique item names"):
        Scene.from_dict(data)


@pytest.mark.parametrize("field", ["mask", "objects", "doors", "start"])
def test_missing_fields_are_named(field):
    data = generate_scene(0).to_dict()
    del data[field]
    with pytest.raises(ValueError, match=f"`{field}`"):
        Scene.from_dict(data)


def test_bad_cells_and_versions_are_named():
    data = generate_scene(0).to_dict()
    data["objects"][0]["cell"] = ["a", 1]
    with pytest.raises(SceneFormatError, match=r"objects\[0\]\.cell"):
        Scene.from_dict(data)
    data = generate_scene(0).to_dict()
    data["version"] = 99
    with pytest.raises(ValueError, match="version"):
        Scene.from_dict(data)
