"""Experiments from TOML and the command line: names, types, scene specs, overrides."""

from __future__ import annotations

import pytest

from theory_of_space.cli import main
from theory_of_space.runner.experiment import Experiment, experiment_from, load_experiment, parse_scene_spec


def test_scene_specs_give_seeds_and_folder_names():
    refs = parse_scene_spec("0:3, 7")
    assert [r.seed for r in refs] == [0, 1, 2, 7]
    assert [r.folder for r in refs] == ["seed0000", "seed0001", "seed0002", "seed0007"]
    assert parse_scene_spec("tos:run00")[0].folder == "tos-run00"


@pytest.mark.parametrize("spec", ["3:3", "5:1", "", "seven", "0:"])
def test_bad_scene_specs_are_named(spec):
    with pytest.raises(ValueError, match="scene"):
        parse_scene_spec(spec)


def test_a_toml_file_sets_every_field_and_unknown_keys_are_named(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('agents = ["scout", "strategist"]\nscenes = "0:5"\nworlds = "text,vision"\nmax_exp_steps = 9\n')
    experiment = load_experiment(path)
    assert experiment.agents == ("scout", "strategist") and experiment.worlds == ("text", "vision")
    assert experiment.max_exp_steps == 9 and experiment.scenes == "0:5"
    path.write_text("agents = ['scout']\nmax_steps = 9\n")
    with pytest.raises(ValueError, match=rf"{path}: unknown key 'max_steps'"):
        load_experiment(path)
    path.write_text("max_exp_steps = 'nine'\n")
    with pytest.raises(ValueError, match=r"expected an integer for `max_exp_steps`"):
        load_experiment(path)


def test_the_experiment_a_batch_run_stores_reads_back_the_same(tmp_path):
    # `tos batch collect RUN` resumes a batch run from the experiment stored as JSON in its folder
    from theory_of_space.runner.batch import BatchBook

    experiment = Experiment(agents=("gpt-5.2",), scenes="0:3", mode="use_gt_cogmap", max_cost=2.5,
                            overrides=(("max_concurrent", "2"), ("temperature", "0")))
    book = BatchBook(tmp_path)
    book.save_experiment(experiment.to_dict())
    assert experiment_from(None, book.experiment()) == experiment


def test_cli_options_override_the_config_file(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    path.write_text('agents = ["scout"]\nscenes = "0:4"\nmax_exp_steps = 9\nphases = ["explore", "evaluate"]\n')
    assert main(["run", "--config", str(path), "--scenes", "0:2", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("72 requests at most: explore 18, evaluate 54")
    assert "scout: 72 requests (scripted, free)" in out and "estimated cost: $0.00" in out


def test_unknown_phase_on_the_command_line_is_an_error_naming_it(tmp_path, capsys):
    assert main(["run", "--phases", "explore,teleport", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "unknown phase 'teleport'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_experiments_check_their_values():
    with pytest.raises(ValueError, match="max_cost"):
        Experiment(max_cost=float("nan"))
    with pytest.raises(ValueError, match="in_flight"):
        Experiment(in_flight=0)
