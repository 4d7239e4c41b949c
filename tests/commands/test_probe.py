"""``tos probe`` (the pipeline with the phases explore and probe) and the probe part of ``tos rescore``."""

from __future__ import annotations

import json

from theory_of_space.cli import main
from theory_of_space.commands.probe import PROBE_FILE, load_probe_record


def _row(out: str, label: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(f"| {label}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_probe_prints_the_six_families_stores_records_and_resumes(tmp_path, capsys):
    args = ["probe", "--agent", "scout", "--scenes", "2", "--out", str(tmp_path)]
    assert main([*args, "--correctness-scope", "observed"]) == 0
    out = capsys.readouterr().out
    assert "2 scenes, text world, active setting: explored by scout, maps written by the belief map writer" in out
    row = _row(out, "belief (scout exploration)")
    assert row[1] == "100.0" and row[-1] == "100/100/100"  # the belief writer knows the facings it saw
    paths = sorted(tmp_path.rglob(PROBE_FILE))
    assert len(paths) == 2 and all("scout" in p.parts and "explore.jsonl" in {q.name for q in p.parent.iterdir()}
                                   for p in paths)
    record = load_probe_record(paths[0])
    assert record.answerer == "belief" and record.agent == "scout" and record.answers
    assert main(args) == 0  # the same command again: everything is stored, nothing is asked
    assert "0 requests sent" in capsys.readouterr().out


def test_the_oracle_writes_the_maps_of_a_scripted_explorer(tmp_path, capsys):
    args = ["probe", "--agent", "oracle", "--explorer", "scout", "--scenes", "2", "--out", str(tmp_path)]
    assert main([*args, "--correctness-scope", "observed"]) == 0
    out = capsys.readouterr().out
    assert "explored by scout, maps written by the oracle map writer" in out
    assert _row(out, "oracle (scout exploration)")[1:] == ["100.0"] * 12 + ["100/100/100"]
    assert main([*args[:-2], "--out", str(tmp_path), "--agent", "belief"]) == 2  # another writer, same folder
    assert "answerer: stored 'oracle', now 'belief'" in capsys.readouterr().err


def test_explorer_needs_a_scripted_map_writer(capsys):
    assert main(["probe", "--agent", "scout", "--explorer", "strategist", "--scenes", "1"]) == 2
    assert "--explorer goes with a scripted map writer" in capsys.readouterr().err


def test_probe_scene_count_is_a_count_of_seeds_from_the_first_seed(tmp_path, capsys):
    argv = ["probe", "--agent", "scout", "--scenes", "2", "--first-seed", "5", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert sorted(p.name[:8] for p in (tmp_path / "scout").iterdir()) == ["seed0005", "seed0006"]


def test_rescore_reads_stored_probe_replies_with_other_options(tmp_path, capsys):
    assert main(["probe", "--agent", "strategist", "--scenes", "1", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    path = next(tmp_path.rglob(PROBE_FILE))
    data = json.loads(path.read_text())
    last_global = max(k for k in data["answers"] if k.endswith("/global"))
    data["answers"][last_global]["reply"] = "THINK: lost\nFINAL ANSWER: no map"
    path.write_text(json.dumps(data))
    assert main(["rescore", str(tmp_path)]) == 0
    skipped = _row(capsys.readouterr().out, "belief (strategist exploration)")
    assert skipped[1] == "-"  # the final map is invalid: no correctness
    assert main(["rescore", str(tmp_path), "--invalid-maps", "empty"]) == 0
    empty = _row(capsys.readouterr().out, "belief (strategist exploration)")
    assert empty[1] == "0.0" and empty[13].startswith("9")


def test_malformed_record_names_the_file(tmp_path, capsys):
    bad = tmp_path / "x" / PROBE_FILE
    bad.parent.mkdir()
    bad.write_text(json.dumps({"version": 1, "scene": {}}))
    assert main(["rescore", str(tmp_path)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_rescore_without_anything_stored(tmp_path, capsys):
    assert main(["rescore", str(tmp_path)]) == 2
    assert "no stored evaluations or probe records" in capsys.readouterr().err


def test_evaluate_mode_flag(capsys):
    args = ["evaluate", "--agent", "oracle", "--scenes", "1", "--tasks", "dir", "--mode", "use_gt_cogmap"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "use_gt_cogmap mode" in out and "| oracle | 1.0 | 100.0 |" in out


def test_a_model_explores_and_writes_the_maps_under_the_in_flight_limit(monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "runner"))
    from fake_models import FakeModel

    import theory_of_space.agents.model_agent as model_agent

    model = FakeModel()
    seen = {}

    def fake_make_model_agent(spec, *, config_path=None, overrides=None):
        seen.update(spec=spec)
        return model

    monkeypatch.setattr(model_agent, "make_model_agent", fake_make_model_agent)
    argv = ["probe", "--agent", "openai:some-model", "--scenes", "2", "--in-flight", "3"]
    assert main(argv) == 0
    assert seen == {"spec": "openai:some-model"} and 0 < model.most_in_flight <= 3
    out = capsys.readouterr().out
    assert "explored by openai:some-model, maps written by openai:some-model" in out
    assert "| openai:some-model (openai:some-model exploration) |" in out
