"""``tos run`` and ``tos report`` from the command line."""

from __future__ import annotations

import json

from theory_of_space.cli import main


def test_run_with_the_explore_and_probe_phases_stores_no_answers(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--agent", "strategist", "--scenes", "4", "--phases", "explore,probe"]
    assert main([*argv, "--out", str(out), "--quiet", "--no-report"]) == 0
    assert "1/1 episodes complete" in capsys.readouterr().out
    folder = next(out.rglob("probe.jsonl")).parent
    assert "seed0004-" in str(folder)
    assert (folder / "explore.jsonl").is_file() and not (folder / "evaluate.jsonl").exists()


def test_report_over_two_runs_has_one_row_per_agent(tmp_path, capsys):
    for agent in ("scout", "strategist"):
        argv = ["run", "--agent", agent, "--scenes", "0:1", "--phases", "explore,evaluate", "--questions", "1"]
        assert main([*argv, "--out", str(tmp_path / agent), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "scout"), str(tmp_path / "strategist"), "--out", str(tmp_path / "both")]) == 0
    out = capsys.readouterr().out
    assert "| scout | text | active |" in out and "| strategist | text | active |" in out
    summary = json.loads((tmp_path / "both" / "summary.json").read_text())
    assert sorted(g["agent"] for g in summary["groups"].values()) == ["scout", "strategist"]


def test_report_of_a_folder_that_is_not_a_run_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_a_second_run_into_the_same_folder_with_other_settings_is_refused(tmp_path, capsys):
    argv = ["run", "--agent", "scout", "--scenes", "0:1", "--phases", "explore", "--out", str(tmp_path), "--quiet",
            "--no-report"]
    assert main([*argv, "--max-steps", "5"]) == 0
    assert main([*argv, "--max-steps", "6"]) == 2
    assert "max_exp_steps: stored 5, now 6" in capsys.readouterr().err


def test_a_false_belief_phase_nobody_plays_is_an_error_before_the_run(tmp_path, capsys):
    argv = ["run", "--agent", "scout", "--phases", "explore,false_belief", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 2
    assert "phase 'false_belief': no agent of scout plays it" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_batch_dry_run_says_which_phases_it_priced_at_batch_prices(tmp_path, capsys):
    config = tmp_path / "models.toml"
    config.write_text('[models.priced]\nprovider = "anthropic"\nmodel = "priced-model"\n'
                      '[prices]\n"priced-model" = { input = 3.0, output = 15.0, batch_discount = 0.5 }\n')
    argv = ["run", "--agent", "priced", "--model-config", str(config), "--scenes", "0:1",
            "--phases", "explore,probe,evaluate", "--out", str(tmp_path / "run"), "--dry-run"]
    assert main(argv) == 0
    assert "batch prices" not in capsys.readouterr().out
    assert main([*argv, "--batch"]) == 0
    out = capsys.readouterr().out
    assert "at batch prices for probe, evaluate" in out and "the other phases at list price" in out
    assert not (tmp_path / "run").exists()  # nothing was sent or stored
