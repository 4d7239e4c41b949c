"""``tos render`` writes the pictures of a scene for a person to look at."""

from __future__ import annotations

from PIL import Image

from theory_of_space.cli import main

EXPECTED = {
    "view_start_north.png",
    "view_start_east.png",
    "view_start_south.png",
    "view_start_west.png",
    "topdown.png",
    "reference_sheet.png",
    "calibration.png",
}


def test_tos_render_writes_views_maps_and_sheets(tmp_path, capsys):
    out = tmp_path / "pictures"
    assert main(["render", "--seed", "1", "--out", str(out), "--size", "64"]) == 0
    assert {p.name for p in out.iterdir()} == EXPECTED
    assert Image.open(out / "view_start_north.png").size == (64, 64)
    assert Image.open(out / "calibration.png").size == (64, 64)
    assert str(out / "topdown.png") in capsys.readouterr().out


def test_tos_render_reads_a_published_scene_folder(tmp_path, reference_dir):
    assert main(["render", "--scene", str(reference_dir / "run00"), "--out", str(tmp_path), "--size", "64"]) == 0
    assert (tmp_path / "reference_sheet.png").is_file()


def test_tos_render_reports_a_missing_scene(tmp_path, capsys):
    assert main(["render", "--scene", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "no scene folder or scene JSON file" in capsys.readouterr().err
