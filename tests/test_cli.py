import json
import subprocess
import sys

import pytest

from theory_of_space.cli import build_parser, main
from theory_of_space.commands import explore as explore_command
from theory_of_space.runner import pipeline


def test_run_with_no_arguments_prints_the_tables_and_the_report_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("scout, strategist, updating, inertial on scenes 0:3")
    assert "12/12 episodes complete in runs/default" in out
    assert "| scout | text | active | 3 | 100.0" in out and "| strategist | text | active |" in out
    false_belief = out[out.index("## False belief"):]
    assert "| inertial | text | 3 |" in false_belief and "| updating | text | 3 |" in false_belief
    assert "| scout |" not in false_belief  # the scripted explorers do not play the false-belief phase
    assert len(list((tmp_path / "runs/default").rglob("false_belief_record.json"))) == 6
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


@pytest.mark.parametrize("command", ["explore", "scene"])
def test_shipped_scenes_are_named_tos_runNN(command, capsys):
    assert main([command, "--scene", "tos:run02"]) == 0
    out = capsys.readouterr().out
    assert "fire extinguisher" in out if command == "scene" else "information_gain=" in out


def test_an_unknown_shipped_scene_lists_the_names(capsys):
    assert main(["explore", "--scene", "tos:run07"]) == 2
    err = capsys.readouterr().err
    assert (
        "unknown published scene 'tos:run07'; available: tos:run00, tos:run01, tos:run02, tos:run03, tos:run04" in err
    )


def test_evaluate_takes_shipped_scenes_and_names_result_folders_by_run(tmp_path, capsys):
    argv = ["evaluate", "--agent", "oracle", "--scene", "tos:run01", "--tasks", "dir", "--questions", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert "1 scenes" in capsys.readouterr().out
    (folder,) = (tmp_path / "oracle").iterdir()
    assert folder.name.startswith("tos-run01-"), folder.name


def test_generated_result_folders_carry_the_seed(tmp_path):
    argv = ["evaluate", "--agent", "oracle", "--scenes", "2", "--first-seed", "7", "--tasks", "dir", "--questions", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "oracle").iterdir()) == ["seed0007", "seed0008"]


def test_run_says_which_budget_it_runs(tmp_path, capsys):
    argv = ["run", "--scenes", "0:1", "--phases", "explore", "--max-steps", "7", "--quiet", "--no-report"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "scout, strategist, updating, inertial on scenes 0:1" in first and "exploration budget 7 turns" in first


def test_explore_prints_each_turn_as_it_happens(monkeypatch, capsys):
    seen_before_turn: list[str] = []
    real_make_agent = explore_command.make_agent

    class Watching:
        def __init__(self, agent):
            self.agent, self.name = agent, "watching"

        def act(self, messages):
            seen_before_turn.append(capsys.readouterr().out)
            return self.agent.act(messages)

    monkeypatch.setattr(explore_command, "make_agent", lambda *a, **k: Watching(real_make_agent(*a, **k)))
    assert main(["explore", "--agent", "scout", "--seed", "1", "--max-steps", "4"]) == 0
    # When the agent is asked for turn k + 1, turn k is already on stdout.
    for k, out in enumerate(seen_before_turn[1:], start=1):
        assert f"-- turn {k}" in out


def test_option_prefixes_are_not_expanded():
    parser = build_parser()
    args = parser.parse_args(["evaluate", "--set", "temperature=0", "--set", "top_p=0.5"])
    assert args.overrides == ["temperature=0", "top_p=0.5"] and args.setting == "active"
    for argv in (["evaluate", "--sett", "passive"], ["explore", "--max", "3"], ["steer", "fit", "--mod", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


def test_evaluate_passes_set_to_the_model(monkeypatch):
    captured = {}

    def fake_roles(spec, **kwargs):
        captured.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(pipeline, "build_roles", fake_roles)
    with pytest.raises(SystemExit):
        main(["evaluate", "--agent", "gpt-5.2", "--set", "temperature=0"])
    assert captured["overrides"] == {"temperature": "0"}


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("explore", ["scout", "strategist", "random"]),
        ("evaluate", ["oracle", "belief", "scout", "strategist", "random"]),
        ("run", ["oracle", "belief", "scout", "strategist", "random", "updating", "inertial"]),
    ],
)
def test_an_unknown_agent_lists_every_name(command, names, capsys):
    assert main([command, "--agent", "scoot"]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "unknown agent 'scoot'" in err and "gpt-5.2" in err
    assert captured.out == ""  # named before anything runs
    listed = err.split("expected one of ")[1].split(", PROVIDER")[0].split(", ")
    assert sorted(listed) == sorted(set(listed)) and set(names) <= set(listed)


def test_scene_out_keeps_stdout_to_the_map(tmp_path, capsys):
    path = tmp_path / "scene.json"
    assert main(["scene", "--seed", "2", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "A^" in out
    assert json.loads(path.read_text())["source"]["seed"] == 2
    assert main(["explore", "--scene", str(path), "--max-steps", "2"]) == 0


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


def test_a_missing_extra_is_an_error_message_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setitem(sys.modules, "openai", None)  # what an install without the `api` extra looks like
    assert main(["explore", "--agent", "openai:gpt-5.2", "--max-steps", "1"]) == 2
    assert 'pip install -e ".[api]"' in capsys.readouterr().err
