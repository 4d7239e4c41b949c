import json

from theory_of_space.cli import main
from theory_of_space.probes.false_belief_requests import FalseBeliefRecord


def test_probe_false_belief_prints_the_figures_and_stores_records(tmp_path, capsys):
    args = ["probe", "--false-belief", "--agent", "inertial", "--scenes", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 scenes, false-belief phase played and probed by inertial" in out
    header, values = out.splitlines()[1:3]
    assert "inertia pos" in header and values.split()[7:9] == ["1.000", "1.000"]
    paths = sorted(tmp_path.rglob("false_belief_record.json"))
    assert len(paths) == 2
    record = FalseBeliefRecord.from_dict(json.loads(paths[0].read_text()))
    assert record.score()["inertia_ori"] == 1.0


def test_probe_false_belief_on_published_scenes(reference_dir, capsys):
    args = ["probe", "--false-belief", "--agent", "updating", "--scenes", "1", "--data-dir", str(reference_dir)]
    assert main([*args, "--inertia-keep-exact"]) == 0
    values = capsys.readouterr().out.splitlines()[2].split()
    assert values[:3] == ["1.000", "1.000", "1.000"] and values[7:9] == ["0.000", "0.000"]


def test_map_writers_cannot_play_the_phase(capsys):
    assert main(["probe", "--false-belief", "--scenes", "1"]) == 2
    assert "--false-belief needs --agent updating | inertial" in capsys.readouterr().err
