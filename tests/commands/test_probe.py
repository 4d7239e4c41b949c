"""``tos probe`` and the probe part of ``tos rescore``."""

from __future__ import annotations

import json

from theory_of_space.cli import main
from theory_of_space.commands.probe import PROBE_FILE, load_probe_record


def _row(out: str, label: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(f"| {label}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_probe_prints_the_six_families_and_stores_records(tmp_path, capsys):
    args = ["probe", "--agent", "oracle", "--explorer", "scout", "--scenes", "2", "--out", str(tmp_path)]
    assert main([*args, "--correctness-scope", "observed"]) == 0
    out = capsys.readouterr().out
    assert "2 scenes, explored by scout, probes answered by oracle" in out
    assert _row(out, "oracle (scout exploration)")[1:] == ["100.0"] * 12 + ["100/100/100"]
    paths = sorted(tmp_path.rglob(PROBE_FILE))
    assert len(paths) == 2
    record = load_probe_record(paths[0])
    assert record.answerer == "oracle" and record.agent == "scout" and record.answers


def test_rescore_reads_stored_probe_replies_with_other_options(tmp_path, capsys):
    assert main(["probe", "--agent", "oracle", "--scenes", "1", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    path = next(tmp_path.rglob(PROBE_FILE))
    data = json.loads(path.read_text())
    last_global = max(k for k in data["answers"] if k.endswith("/global"))
    data["answers"][last_global]["reply"] = "THINK: lost\nFINAL ANSWER: no map"
    path.write_text(json.dumps(data))
    assert main(["rescore", str(tmp_path)]) == 0
    skipped = _row(capsys.readouterr().out, "oracle (strategist exploration)")
    assert skipped[1] == "-"  # the final map is invalid: no correctness
    assert main(["rescore", str(tmp_path), "--invalid-maps", "empty"]) == 0
    empty = _row(capsys.readouterr().out, "oracle (strategist exploration)")
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
