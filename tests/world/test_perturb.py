import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REFERENCE_RUNS
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.perturb import SceneChange, diff_scenes, perturb_scene
from theory_of_space.world.scene import Scene, SceneObject, is_room_code
from theory_of_space.world.tos_format import TosFormatError, load_tos_false_belief, load_tos_scene


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 5_000), n_rooms=st.integers(2, 4), n_changes=st.integers(1, 6))
def test_perturbation_follows_the_rules(seed, n_rooms, n_changes):
    scene = generate_scene(seed, n_rooms=n_rooms)
    changed, changes = perturb_scene(scene, n_changes)
    assert len(changes) == n_changes
    assert diff_scenes(scene, changed) == changes
    n_oriented = sum(o.facing is not None for o in scene.objects)
    rotations = [c for c in changes if c.kind == "rotate"]
    assert len(rotations) == min(2, n_oriented, n_changes)
    doors = {d.cell for d in scene.doors}
    old_cells = {o.cell for o in scene.objects}
    for change in changes:
        new = changed.item(change.name)
        if change.kind == "rotate":
            assert change.cell_from == change.cell_to and change.facing_to not in (None, change.facing_from)
        else:
            dx, dy = change.cell_to[0] - change.cell_from[0], change.cell_to[1] - change.cell_from[1]
            assert dx * dx + dy * dy >= 36
            assert change.facing_to == change.facing_from
            assert change.cell_to not in old_cells | doors | {scene.start.cell}
            code = scene.mask[new.cell[0]][new.cell[1]]
            assert is_room_code(code) and new.room == code
    assert len({o.cell for o in changed.objects}) == len(changed.objects)
    assert (changed.mask, changed.doors, changed.start) == (scene.mask, scene.doors, scene.start)


def test_same_scene_same_changes_and_the_seed_matters():
    scene = generate_scene(3)
    first, second = perturb_scene(scene), perturb_scene(scene)
    assert first == second
    assert perturb_scene(scene, seed=scene.source["seed"]) == first
    assert {perturb_scene(scene, seed=k)[1] for k in range(6)} != {first[1]}
    assert first[0].source["perturbation"] == {"n_changes": 4, "seed": 3}


def test_changes_round_trip_and_name_their_type():
    _, changes = perturb_scene(generate_scene(1))
    for change in changes:
        assert SceneChange.from_dict(json.loads(json.dumps(change.to_dict()))) == change
        assert change.type_label == {"move": "position", "rotate": "orientation"}[change.kind]
    with pytest.raises(ValueError, match="`kind`"):
        SceneChange.from_dict({**changes[0].to_dict(), "kind": "teleport"})


def test_scenes_without_oriented_objects_get_only_moves():
    scene = generate_scene(2)
    plain = Scene(
        mask=scene.mask,
        objects=tuple(SceneObject(o.name, o.cell, o.room, None, o.label) for o in scene.objects),
        doors=scene.doors,
        start=scene.start,
    )
    _, changes = perturb_scene(plain, 3)
    assert [c.kind for c in changes] == ["move"] * 3


@pytest.mark.parametrize("n_changes", [0, -1, 2.5, True])
def test_bad_change_counts_name_the_field(n_changes):
    with pytest.raises(ValueError, match="`n_changes`"):
        perturb_scene(generate_scene(0), n_changes)


def test_too_many_changes_for_a_small_scene_is_an_error():
    scene = generate_scene(0, n_rooms=1, room_size=(4, 4), n_objects=3, object_sampler="simple")
    with pytest.raises(ValueError, match="`n_changes`=4"):
        perturb_scene(scene)


@pytest.mark.parametrize("run", REFERENCE_RUNS)
def test_published_changes_match_their_file_list(reference_dir, run):
    before = load_tos_scene(reference_dir / run)
    _, changes = load_tos_false_belief(reference_dir / run)
    data = json.loads((reference_dir / run / "falsebelief_exp.json").read_text())
    ox, oy = data["offset"]
    listed = {entry["name"]: entry for entry in data["_fb_changes"]}
    assert sorted(listed) == sorted(c.name for c in changes)
    for change in changes:
        entry = listed[change.name]
        assert change.kind == ("move" if entry.get("pos") else "rotate")
        assert change.cell_from == (entry["pos_from"]["x"] + ox, entry["pos_from"]["z"] + oy)
        assert change.cell_to == (entry["pos_to"]["x"] + ox, entry["pos_to"]["z"] + oy)
        assert change.facing_from == before.item(change.name).facing
        if change.kind == "rotate":
            assert change.facing_to == Facing.from_label(entry["orientation_to"])


def _broken_folder(reference_dir, tmp_path, mutate):
    for name in ("meta_data.json", "falsebelief_exp.json"):
        (tmp_path / name).write_text((reference_dir / "run00" / name).read_text())
    data = json.loads((tmp_path / "falsebelief_exp.json").read_text())
    mutate(data)
    (tmp_path / "falsebelief_exp.json").write_text(json.dumps(data))
    return tmp_path


def _entry(data, name):
    return next(o for o in data["objects"] if o["name"] == name)


def _moved_onto_wall(data):
    # run00's laptop moved to (2, 7); (0, 7) is the west wall of room 1
    _entry(data, "laptop")["pos"]["x"] = -7.0
    data["_fb_changes"][2]["pos_to"]["x"] = -7.0


def _moved_onto_door(data):
    _entry(data, "laptop")["pos"].update({"x": -1.0, "z": 0.0})  # the blue door at (6, 8)


def _unknown_object(data):
    _entry(data, "vase")["name"] = "piano"


def _wrong_target(data):
    data["_fb_changes"][3]["pos_to"]["x"] += 1


def _both_flags(data):
    data["_fb_changes"][0]["pos"] = True


def _flag_disagrees(data):
    entry = data["_fb_changes"][0]
    del entry["ori"]
    entry["pos"] = True
    data["_fb_changes"][2]["ori"] = True
    del data["_fb_changes"][2]["pos"]


def _wrong_facing(data):
    data["_fb_changes"][0]["orientation_to"] = "south"


def _same_cell(data):
    vase = _entry(data, "vase")
    vase["pos"] = copy.deepcopy(_entry(data, "laptop")["pos"])
    data["_fb_changes"][3]["pos_to"] = copy.deepcopy(vase["pos"])


def _fifth_change(data):
    lamp = _entry(data, "lamp")
    lamp["pos"]["z"] += 0  # unchanged, but the list claims a fifth change
    data["_fb_changes"].append({**data["_fb_changes"][3], "name": "lamp"})


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (_moved_onto_wall, r"`objects\[\d+\]\.pos` of 'laptop' is \(0, 7\), not a floor cell"),
        (_moved_onto_door, r"`objects\[\d+\]\.pos` of 'laptop' is \(6, 8\), not a floor cell"),
        (_unknown_object, r"`objects\[\d+\]\.name` 'piano' is not an object of meta_data\.json"),
        (_wrong_target, r"`_fb_changes\[3\]\.pos_to` of 'vase'"),
        (_both_flags, r"`_fb_changes\[0\]` \('cap'\) must be exactly one"),
        (_flag_disagrees, r"`_fb_changes\[0\]` says 'cap' is a move"),
        (_wrong_facing, r"`_fb_changes\[0\]\.orientation_to` of 'cap'"),
        (_same_cell, r"`objects\[\]\.pos` of 'laptop' is \(2, 7\), where 'vase' stands"),
        (_fifth_change, r"`_fb_changes` names"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_inconsistent_false_belief_files_name_the_object_and_field(reference_dir, tmp_path, mutate, pattern):
    folder = _broken_folder(reference_dir, tmp_path, mutate)
    with pytest.raises(TosFormatError, match=pattern):
        load_tos_false_belief(folder)


def test_the_number_of_changes_is_checked(reference_dir):
    with pytest.raises(TosFormatError, match="expected 3 changed objects, found 4"):
        load_tos_false_belief(reference_dir / "run00", n_changes=3)
