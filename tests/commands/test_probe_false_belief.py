"""``tos probe --false-belief``: the pipeline with the false_belief phase, and its re-scoring."""

import json

from theory_of_space.cli import main
from theory_of_space.probes.false_belief_requests import FalseBeliefRecord


def _row(out: str, label: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_probe_false_belief_prints_the_figures_and_stores_records(tmp_path, capsys):
    args = ["probe", "--false-belief", "--agent", "inertial", "--scenes", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "explored by inertial" in out and "False belief:" in out
    row = _row(out, "inertial")
    assert row[1] == "2" and row[2:5] == ["100.0"] * 3 and row[8:10] == ["100.0", "100.0"]  # inertia pos, ori
    paths = sorted(tmp_path.rglob("false_belief_record.json"))
    assert len(paths) == 2
    record = FalseBeliefRecord.from_dict(json.loads(paths[0].read_text()))
    assert record.score()["inertia_ori"] == 1.0


def test_rescore_scores_stored_false_belief_records_with_other_options(tmp_path, capsys):
    assert main(["probe", "--false-belief", "--agent", "updating", "--scenes", "2", "--out", str(tmp_path)]) == 0
    assert _row(capsys.readouterr().out, "updating")[8] == "-"  # every moved object exactly placed: left out
    assert main(["rescore", str(tmp_path), "--inertia-keep-exact"]) == 0
    row = _row(capsys.readouterr().out, "updating")
    assert row[8:10] == ["0.0", "0.0"] and row[12] == "none"


def test_probe_false_belief_on_published_scenes(reference_dir, capsys):
    args = ["probe", "--false-belief", "--agent", "updating", "--scenes", "1", "--data-dir", str(reference_dir)]
    assert main([*args, "--inertia-keep-exact"]) == 0
    row = _row(capsys.readouterr().out, "updating")
    assert row[2:5] == ["100.0"] * 3 and row[8:10] == ["0.0", "0.0"]


def test_map_writers_cannot_play_the_phase(capsys):
    assert main(["probe", "--false-belief", "--agent", "belief", "--scenes", "1"]) == 2
    assert "--false-belief needs --agent updating | inertial" in capsys.readouterr().err
