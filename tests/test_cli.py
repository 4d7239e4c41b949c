import json
import subprocess
import sys

from theory_of_space.cli import main


def test_run_with_no_arguments_prints_the_tables_and_the_report_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "6/6 episodes complete in runs/default" in out
    assert "| scout | text | active | 3 | 100.0" in out and "| strategist | text | active |" in out
    assert "report:  runs/default/report.html" in out
    assert (tmp_path / "runs/default/report.html").is_file()


def test_explore_writes_a_transcript(tmp_path, capsys):
    path = tmp_path / "episode.json"
    assert main(["explore", "--agent", "random", "--seed", "4", "--rooms", "2", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["agent"] == "random" and data["turns"]
    assert "-- metrics:" in capsys.readouterr().out


def test_explore_a_published_scene(reference_dir, capsys):
    assert main(["explore", "--agent", "scout", "--scene", str(reference_dir / "run00")]) == 0
    assert "information_gain=" in capsys.readouterr().out


def test_scene_prints_the_map_and_json(capsys):
    assert main(["scene", "--seed", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any("A^" in line for line in out)
    assert json.loads(out[-1])["source"]["seed"] == 2


def test_bad_input_is_an_error_message_not_a_traceback(capsys):
    assert main(["scene", "--rooms", "9"]) == 2
    assert "`n_rooms`" in capsys.readouterr().err


def test_import_stays_light():
    code = (
        "import sys, gymnasium as gym, theory_of_space\n"
        "gym.make('TheoryOfSpace/Explore-v0').reset(seed=0)\n"
        "heavy = [m for m in ('torch', 'transformers', 'openai', 'anthropic') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
