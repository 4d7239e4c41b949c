import copy
import json

import pytest

from tests.conftest import REFERENCE_RUNS
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import DOOR_CONST_X, DOOR_CONST_Y
from theory_of_space.world.tos_format import (
    TosFormatError,
    load_tos_false_belief,
    load_tos_scene,
    parse_tos_scene,
)
from theory_of_space.world.vocabulary import display_name


@pytest.fixture
def run00_json(reference_dir):
    return json.loads((reference_dir / "run00" / "meta_data.json").read_text())


def test_run00_is_the_published_example_scene(example_scene):
    scene = example_scene
    assert scene.shape == (15, 16)
    assert [o.name for o in sorted(scene.objects, key=lambda o: o.label)] == [
        "television",
        "chair",
        "truck",
        "bike",
        "backpack",
        "pan",
        "cap",
        "lamp",
        "vase",
        "shelf",
        "rubberduck",
        "laptop",
    ]
    cells = {room: scene.room_cells(room) for room in scene.room_ids}
    assert {
        room: (min(c[0] for c in cs), max(c[0] for c in cs), min(c[1] for c in cs), max(c[1] for c in cs))
        for room, cs in cells.items()
    } == {1: (1, 6, 2, 7), 2: (1, 6, 9, 14), 3: (8, 13, 1, 6)}
    blue, green = scene.item("blue door"), scene.item("green door")
    assert (blue.cell, set(blue.rooms), scene.mask[6][8]) == ((6, 8), {1, 2}, DOOR_CONST_Y)
    assert (green.cell, set(green.rooms), scene.mask[7][6]) == ((7, 6), {1, 3}, DOOR_CONST_X)
    assert scene.start.cell == (1, 3) and scene.start.facing is Facing.NORTH
    assert scene.item("television").facing is Facing.EAST
    assert scene.item("lamp").facing is None


@pytest.mark.parametrize("run", REFERENCE_RUNS)
def test_every_reference_scene_loads_consistently(reference_dir, run):
    data = json.loads((reference_dir / run / "meta_data.json").read_text())
    scene = load_tos_scene(reference_dir / run)
    ox, oy = data["offset"]
    assert scene.mask == tuple(tuple(column) for column in data["mask"])
    # room_size is [number of y values, number of x values] of the mask
    assert data["room_size"] == [float(scene.shape[1]), float(scene.shape[0])]
    doors = [e for e in data["objects"] if "door" in e["name"]]
    objects = [e for e in data["objects"] if "door" not in e["name"]]
    assert [d.name for d in scene.doors] == [e["name"] for e in doors]
    for entry, door in zip(doors, scene.doors):
        assert door.cell == (int(entry["pos"]["x"]) + ox, int(entry["pos"]["z"]) + oy)
        assert set(door.rooms) == set(entry["attributes"]["connected_rooms"])
    for entry, obj in zip(objects, scene.objects):
        expected = (display_name(entry["name"]), int(entry["label"]), entry["attributes"]["room_id"])
        assert (obj.name, obj.label, obj.room) == expected
        assert obj.cell == (int(entry["pos"]["x"]) + ox, int(entry["pos"]["z"]) + oy)
        expected = entry["attributes"].get("orientation") if entry["attributes"]["has_orientation"] else None
        assert (None if obj.facing is None else obj.facing.label) == expected
    agent = next(c for c in data["cameras"] if c["id"] == "agent")
    assert scene.start.cell == (int(agent["position"]["x"]) + ox, int(agent["position"]["z"]) + oy)
    assert scene.source == {"kind": "tos", "folder": run, "file": "meta_data.json"}


@pytest.mark.parametrize("run", REFERENCE_RUNS)
def test_false_belief_files_give_four_changes(reference_dir, run):
    before = load_tos_scene(reference_dir / run)
    after, changes = load_tos_false_belief(reference_dir / run)
    listed = json.loads((reference_dir / run / "falsebelief_exp.json").read_text())["_fb_changes"]
    assert len(changes) == len(listed) == 4
    for change in changes:
        old, new = before.item(change.name), after.item(change.name)
        if change.kind == "move":
            assert old.cell != new.cell and old.facing == new.facing
            assert after.grid[new.cell] == new.room  # the room comes from the mask, not the stale room_id
        else:
            assert old.cell == new.cell and old.facing != new.facing
    assert {c.kind for c in changes} == {"move", "rotate"}


def _mutations():
    def door_on_floor(d):
        d["objects"][next(i for i, o in enumerate(d["objects"]) if o["name"] == "blue door")]["pos"]["x"] = -3.0

    def wrong_room(d):
        d["objects"][0]["attributes"]["room_id"] = 2

    def orientation_disagrees(d):
        d["objects"][0]["attributes"]["orientation"] = "north"

    def wrong_connection(d):
        d["objects"][next(i for i, o in enumerate(d["objects"]) if o["name"] == "green door")]["attributes"][
            "connected_rooms"
        ] = [1, 2]

    def no_mask(d):
        del d["mask"]

    def agent_outside_room_1(d):
        next(c for c in d["cameras"] if c["id"] == "agent")["position"]["z"] = 4.0

    def bad_bounds(d):
        d["rooms"]["2"]["bounds"][1] = 1.5

    def bad_room_size(d):
        d["room_size"] = [15.0, 16.0]

    def half_cell(d):
        d["objects"][0]["pos"]["x"] = -4.5

    def odd_yaw(d):
        d["objects"][0]["rot"]["y"] = 45

    return [
        (door_on_floor, r"objects\[\d+\]"),
        (wrong_room, r"objects\[0\]\.attributes\.room_id"),
        (orientation_disagrees, r"objects\[0\]\.attributes\.orientation"),
        (wrong_connection, "connected_rooms"),
        (no_mask, "`mask`"),
        (agent_outside_room_1, r"cameras\[agent\]\.position"),
        (bad_bounds, r"rooms\.2\.bounds"),
        (bad_room_size, "`room_size`"),
        (half_cell, r"objects\[0\]\.pos\.x"),
        (odd_yaw, r"objects\[0\]\.rot\.y"),
    ]


@pytest.mark.parametrize(("mutate", "field"), _mutations(), ids=lambda v: getattr(v, "__name__", ""))
def test_inconsistent_files_fail_loudly_naming_the_field(run00_json, mutate, field):
    data = copy.deepcopy(run00_json)
    mutate(data)
    with pytest.raises(TosFormatError, match=field):
        parse_tos_scene(data)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"meta_data\.json"):
        load_tos_scene(tmp_path)
    (tmp_path / "meta_data.json").write_text("{not json")
    with pytest.raises(TosFormatError, match="not valid JSON"):
        load_tos_scene(tmp_path)


def test_false_belief_list_must_match_the_objects_that_differ(reference_dir, tmp_path):
    for name in ("meta_data.json", "falsebelief_exp.json"):
        (tmp_path / name).write_text((reference_dir / "run00" / name).read_text())
    data = json.loads((tmp_path / "falsebelief_exp.json").read_text())
    data["_fb_changes"] = data["_fb_changes"][:3]
    (tmp_path / "falsebelief_exp.json").write_text(json.dumps(data))
    with pytest.raises(TosFormatError, match="_fb_changes"):
        load_tos_false_belief(tmp_path)
