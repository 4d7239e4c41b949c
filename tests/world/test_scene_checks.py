"""Scene files are validated when loaded, in both formats: each error names the field (and the file), and
fuzzing with damaged valid scenes lets no other exception out of the loaders."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.world.mutations import mutated
from tests.world.published import published_dict
from theory_of_space.agents.scripted import scout_agent
from theory_of_space.cli import main
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import DOOR_CODES, WALL, Scene, SceneFormatError, load_scene_file
from theory_of_space.world.tos_format import TosFormatError, load_tos_scene, parse_tos_scene

SCENE = generate_scene(0, n_rooms=3)
VALID = SCENE.to_dict()
VALID_PUBLISHED = published_dict(SCENE)


def _wall_cell(scene: Scene) -> list[int]:
    x, y = next((x, y) for x, column in enumerate(scene.mask) for y, code in enumerate(column) if code == WALL)
    return [x, y]


def _door_cell(scene: Scene) -> tuple[int, int]:
    return next((x, y) for x, column in enumerate(scene.mask) for y, code in enumerate(column) if code in DOOR_CODES)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of the scene dict: ``path`` is dotted, list indices as numbers (``objects.0.name``)."""
    *parents, last = (int(step) if step.isdigit() else step for step in path.split("."))

    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for step in parents:
            node = node[step]
        node[last] = value

    return edit


def _first_object_on(cell: list[int]) -> Callable[[dict[str, Any]], None]:
    return _set("objects.0.cell", cell)


OUR_FORMAT_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "empty-object": (_set("objects.0", {}), "missing field `objects[0].name`"),
    "list-in-mask": (_set("mask.7.7", []), "for `mask[7][7]`, got []"),
    "list-facing": (_set("start.facing", []), "expected one of north, east, south, west for `start.facing`, got []"),
    "infinite-mask-code": (_set("mask.0.0", float("inf")), "for `mask[0][0]`, got inf"),
    "huge-mask-code": (_set("mask.0.0", 2_000_000), "for `mask[0][0]`, got 2000000"),
    "unknown-mask-code": (_set("mask.0.0", 102), "for `mask[0][0]`, got 102"),
    "start-on-a-wall": (_set("start.cell", _wall_cell(SCENE)), "the start"),
    "object-outside": (_first_object_on([40, 2]), "`objects[0].cell` (40, 2) lies outside the"),
    "no-objects": (_set("objects", []), "expected at least one object in `objects`, got none"),
    "no-doors": (_set("doors", []), "with no door listed"),
    "room-minus-one": (_set("objects.0.room", -1), "expected an integer in 1..99 for `objects[0].room`, got -1"),
    "room-not-the-cell's": (_set("objects.0.room", 3 if SCENE.objects[0].room != 3 else 2), "`objects[0].room` is"),
    "object-on-a-wall": (_first_object_on(_wall_cell(SCENE)), "`objects[0].room` is"),
    "empty-name": (_set("objects.0.name", " "), "expected a non-empty string for `objects[0].name`"),
    "newline-in-name": (_set("objects.0.name", "a\nb"), "one printable line of at most 100 characters"),
    "float-label": (_set("objects.0.label", 1e308), "for `objects[0].label`, got 1e+308"),
    "string-cell": (_set("objects.0.cell", ["a", 1]), "expected two integers for `objects[0].cell`"),
    "bad-facing": (_set("objects.0.facing", "up"), "or null for `objects[0].facing`, got 'up'"),
    "door-off-its-cell": (_set("doors.0.cell", _wall_cell(SCENE)), "is not a door cell (mask code 0)"),
    "door-rooms-swapped": (
        _set("doors.0.rooms", list(reversed(VALID["doors"][0]["rooms"]))),
        "do not match the mask",
    ),
    "repeated-label": (_set("objects.1.label", VALID["objects"][0]["label"]), "expected unique object labels"),
    "shared-cell": (_set("objects.1.cell", VALID["objects"][0]["cell"]), "share the cells"),
    "mask-not-rectangular": (_set("mask.1", [0]), "expected `mask` to be rectangular"),
    "source-a-list": (_set("source", []), "expected an object for `source`, got list"),
    "not-an-object": (_set("objects", {}), "expected a list for `objects`, got dict"),
}


@pytest.mark.parametrize("case", OUR_FORMAT_CASES)
def test_our_format_names_the_field(case: str) -> None:
    edit, message = OUR_FORMAT_CASES[case]
    data = copy.deepcopy(VALID)
    edit(data)
    with pytest.raises(SceneFormatError, match=re.escape(message)):
        Scene.from_dict(data)


def test_a_door_cell_without_its_door_is_named() -> None:
    data = copy.deepcopy(VALID)
    cell = _door_cell(SCENE)
    data["doors"] = [d for d in data["doors"] if tuple(d["cell"]) != cell]
    with pytest.raises(SceneFormatError, match=re.escape(f"door cells [{cell}] with no door listed")):
        Scene.from_dict(data)


PUBLISHED_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "mask-out-of-range": (_set("mask.0.0", 2_000_000), "for `mask[0][0]`, got 2000000"),
    "unknown-mask-code": (_set("mask.0.0", 150), "for `mask[0][0]`, got 150"),
    "infinite-mask-code": (_set("mask.0.0", float("inf")), "for `mask[0][0]`, got inf"),
    "empty-name": (_set("objects.0.name", ""), "expected a non-empty string for `objects[0].name`"),
    "label-1e308": (_set("objects.0.label", "1e308"), "expected a label in 1..10000 for `objects[0].label`"),
    "newline-in-name": (_set("objects.0.name", "tele\nvision"), "for `objects[0].name`, got 'tele\\nvision'"),
    "no-objects": (_set("objects", []), "expected at least one object in the scene"),
    "start-on-a-wall": (
        _set("cameras.0.position", {"x": _wall_cell(SCENE)[0] - 7, "z": _wall_cell(SCENE)[1] - 8}),
        "`cameras[agent].position`",
    ),
    "top-level-list": (lambda data: data.clear(), "missing field `mask`"),
}


@pytest.mark.parametrize("case", PUBLISHED_CASES)
def test_published_format_names_the_field(case: str) -> None:
    edit, message = PUBLISHED_CASES[case]
    data = copy.deepcopy(VALID_PUBLISHED)
    edit(data)
    with pytest.raises(TosFormatError, match=re.escape(message)):
        parse_tos_scene(data)


def test_published_errors_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "run07"
    folder.mkdir()
    data = copy.deepcopy(VALID_PUBLISHED)
    data["objects"][0]["name"] = "a\nb"
    (folder / "meta_data.json").write_text(json.dumps(data))
    with pytest.raises(TosFormatError, match=re.escape("run07/meta_data.json: expected one printable line")):
        load_tos_scene(folder)


@pytest.mark.parametrize("seed", range(6))
def test_a_generated_scene_loads_the_same_in_the_published_format(seed: int) -> None:
    scene = generate_scene(seed, n_rooms=1 + seed % 4)
    again = parse_tos_scene(published_dict(scene))
    assert (again.mask, again.objects, again.doors, again.start) == (
        scene.mask,
        scene.objects,
        scene.doors,
        scene.start,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), (json.dumps({"scene": {**VALID, "objects": []}}), "at least one object")],
)
def test_scene_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scene.json"
    path.write_text(text)
    with pytest.raises(SceneFormatError, match=f"^{re.escape(str(path))}: .*{message}"):
        load_scene_file(path)


def test_the_cli_reports_a_bad_scene_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scene.json"
    data = copy.deepcopy(VALID)
    data["objects"][0] = {}
    path.write_text(json.dumps(data))
    assert main(["scene", "--scene", str(path)]) == 2
    assert f"{path}: missing field `objects[0].name`" in capsys.readouterr().err


# ==== Fuzzing: damaged scenes ====

SEEDS = (0, 1, 2)
VALID_DICTS = {seed: generate_scene(seed, n_rooms=1 + seed).to_dict() for seed in SEEDS}
VALID_PUBLISHED_DICTS = {seed: published_dict(generate_scene(seed, n_rooms=1 + seed)) for seed in SEEDS}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _playable(scene: Scene) -> None:
    """What a loaded scene must survive: a reset and a few SCOUT steps in the env."""
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=3, reward="none")
    try:
        run_episode(env, scout_agent(scene), options={"scene": scene})
    finally:
        env.close()


@FUZZ
@given(data=st.data(), seed=st.sampled_from(SEEDS))
def test_damaged_scenes_in_our_format_fail_only_with_scene_format_errors(data: st.DataObject, seed: int) -> None:
    damaged = data.draw(mutated(VALID_DICTS[seed]))
    try:
        scene = Scene.from_dict(damaged)
    except SceneFormatError:
        event("refused")
        return
    event("loaded")
    _playable(scene)


@FUZZ
@given(data=st.data(), seed=st.sampled_from(SEEDS))
def test_damaged_published_scenes_fail_only_with_tos_format_errors(data: st.DataObject, seed: int) -> None:
    damaged = data.draw(mutated(VALID_PUBLISHED_DICTS[seed]))
    try:
        scene = parse_tos_scene(damaged)
    except TosFormatError:
        event("refused")
        return
    event("loaded")
    _playable(scene)
