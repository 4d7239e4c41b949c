import json

from theory_of_space.cli import main


def test_explore_shows_both_phases(tmp_path, capsys):
    path = tmp_path / "episode.json"
    assert main(["explore", "--agent", "inertial", "--false-belief", "--seed", "3", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "== false-belief phase: " in out and "Term(changes=" in out
    assert "-- false belief: f1_pos=1.000, f1_ori=1.000, f1_overall=1.000" in out
    data = json.loads(path.read_text())
    assert {t["info"]["phase"] for t in data["turns"]} == {"exploration", "false_belief"}


def test_explore_a_published_scene_takes_its_change_file(reference_dir, capsys):
    assert main(["explore", "--agent", "updating", "--false-belief", "--scene", str(reference_dir / "run00")]) == 0
    out = capsys.readouterr().out
    assert "laptop moved" in out and "cap turned east -> north" in out
