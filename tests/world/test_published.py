"""The published example scenes shipped inside the package, and their ``tos:`` names."""

from __future__ import annotations

import re

import pytest

import theory_of_space as tos
from theory_of_space.world.published import published_scene_names, published_scene_root, resolve_scene_path

NAMES = tuple(f"tos:run0{i}" for i in range(5))


def test_the_five_scenes_ship_with_their_licence_and_source():
    assert published_scene_names() == NAMES
    root = published_scene_root()
    for name in NAMES:
        folder = root / name.removeprefix("tos:")
        assert (folder / "meta_data.json").is_file() and (folder / "falsebelief_exp.json").is_file()
    notice = (root.parent / "LICENSE").read_text()
    assert "MIT License" in notice and "Theory of Space Authors" in notice
    assert "3bea1f09208b37cc7fbc82a2ca34aeea5acdb4bf" in (root.parent / "SOURCE.md").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_both_loaders_take_the_names(name):
    scene = tos.load_tos_scene(name)
    assert scene.source["folder"] == name.removeprefix("tos:")
    changed, changes = tos.load_tos_false_belief(name)
    assert len(changes) == 4 and changed.source["file"] == "falsebelief_exp.json"


def test_an_unknown_name_lists_the_available_ones():
    message = "unknown published scene 'tos:run05'; available: " + ", ".join(NAMES)
    for load in (tos.load_tos_scene, tos.load_tos_false_belief, resolve_scene_path):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            load("tos:run05")


def test_ordinary_paths_pass_through(tmp_path):
    assert resolve_scene_path(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="no published scene file"):
        tos.load_tos_scene(tmp_path / "run00")
