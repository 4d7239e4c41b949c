"""Aggregation of stored runs: the numbers, the table order, the report files and the episode pages."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from theory_of_space.report import html as report_html
from theory_of_space.report.html import write_report
from theory_of_space.report.plots import revision_series
from theory_of_space.report.summary import (
    accuracy_table,
    false_belief_table,
    gap_table,
    load_runs,
    mean_curve,
    pearson,
    summarise,
)
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.pipeline import run_experiment
from theory_of_space.tasks import TASK_IDS, TASKS


def test_mean_curve_carries_shorter_curves_forward():
    assert mean_curve([[0.2, 0.6], [0.4, 0.5, 0.9, 1.0]]) == pytest.approx([0.3, 0.55, 0.75, 0.8])


def test_pearson_matches_numpy_on_skewed_data():
    xs = [0.1, 0.15, 0.2, 0.9, 0.95, 0.3]
    ys = [0.3, 0.2, 0.45, 0.8, 0.7, 0.1]
    assert pearson(xs, ys) == pytest.approx(np.corrcoef(xs, ys)[0, 1])
    assert pearson([1, 2, 3], [2, 2, 2]) is None


def test_accuracy_is_the_mean_of_the_stored_scores_per_task(small_run):
    episodes = load_runs([small_run])
    summary = summarise(episodes)
    for episode in episodes:
        group = summary["groups"][episode.group]
        for task in TASK_IDS:
            scores = [a["score"]["value"] for a in episode.answers if a["task"] == task]
            assert group["accuracy"][task] == pytest.approx(sum(scores) / len(scores))
        overall = [a["score"]["value"] for a in episode.answers]
        assert group["accuracy"]["overall"] == pytest.approx(sum(overall) / len(overall))


def test_tables_follow_the_published_order_and_put_active_beside_passive(small_run):
    summary = summarise(load_runs([small_run]))
    header, rows = accuracy_table(summary)
    assert header[4:13] == [TASKS[t].column for t in TASK_IDS] and header[-3:] == ["Route", "Survey", "Avg"]
    header, rows = gap_table(summary)
    assert header == ["Agent", "text active", "text passive", "text gap", "vision active", "vision passive",
                      "vision gap"]
    groups = summary["groups"].values()
    text = {g["setting"]: g["accuracy"]["overall"] for g in groups if g["world"] == "text"}
    assert rows[0][3] == f"{100 * (text['active'] - text['passive']):.1f}"


def test_report_files_figures_and_failed_calls_with_reasons(small_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    path = next(run.rglob("evaluate.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["error"] = "HTTP 429: rate limited"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    written = write_report([run], tmp_path / "out")
    summary = json.loads(written.summary_path.read_text())
    assert sum(g["exploration"]["failed_calls"] for g in summary["groups"].values()) == 1
    for name in ("information_gain.svg", "information_gain.pdf", "probes.svg", "probes.pdf"):
        assert (tmp_path / "out" / "figures" / name).stat().st_size > 1000
    pages = sorted((tmp_path / "out" / "episodes").glob("*.html"))
    assert len(pages) == 4
    assert any("HTTP 429: rate limited" in page.read_text() for page in pages)
    assert "http://" not in written.html_path.read_text() and "https://" not in written.html_path.read_text()


def test_without_matplotlib_the_report_has_its_tables_and_says_how_to_get_figures(small_run, tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "plotting_available", lambda: False)
    written = write_report([small_run], tmp_path)
    assert 'pip install -e ".[report]"' in written.note and "| scout | text | active |" in written.text
    assert not (tmp_path / "figures").exists()


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_runs([Path(tmp_path)])


@pytest.fixture(scope="module")
def false_belief_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("false-belief") / "run"
    run_experiment(Experiment(agents=("updating", "inertial"), scenes="0:2", phases=("explore", "false_belief"),
                              out=str(root)))
    return root


def test_the_false_belief_table_has_a_row_per_agent_and_counts_what_inertia_left_out(false_belief_run):
    summary = summarise(load_runs([false_belief_run]))
    header, rows = false_belief_table(summary)
    by_agent = {row[0]: dict(zip(header, row)) for row in rows}
    assert set(by_agent) == {"updating", "inertial"}
    assert by_agent["inertial"]["Inertia pos"] == "100.0" and by_agent["inertial"]["Inertia ori"] == "100.0"
    assert by_agent["updating"]["Inertia ori"] == "0.0" and by_agent["updating"]["Inertia pos"] == "-"
    exact = summary["groups"]["updating | text | active"]["false_belief"]["skipped"]["exact"]
    assert by_agent["updating"]["Left out of inertia"] == f"exact {exact}" and exact > 0
    assert by_agent["updating"]["Ident. F1 overall"] == "100.0" and by_agent["updating"]["Failed calls"] == "0"
    # turn by turn after each changed object was seen again: revised at once and for good, or never
    for agent, inertia, correctness in (("updating", 0.0, 1.0), ("inertial", 1.0, None)):
        curve = summary["groups"][f"{agent} | text | active"]["false_belief"]["revision_curve"]
        assert [p["turns_since_seen"] for p in curve] == list(range(len(curve))) and len(curve) >= 3
        assert all(p["inertia"] == pytest.approx(inertia, abs=1e-6) and p["n_inertia"] > 0 for p in curve)
        assert correctness is None or all(p["correctness"] == correctness for p in curve)
    # summary.json pools the records stored by the phase, scored again
    records = [json.loads(p.read_text()) for p in false_belief_run.rglob("false_belief_record.json")
               if "updating" in p.parts]
    steps = [r["identification"]["steps"] for r in records]
    assert summary["groups"]["updating | text | active"]["false_belief"]["steps"] == pytest.approx(sum(steps) / 2)


def test_a_failed_false_belief_request_is_counted_and_shown_with_its_reason(false_belief_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(false_belief_run, run)
    path = next(p for p in run.rglob("false_belief.jsonl") if "inertial" in p.parts)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    failed = next(line for line in lines if line["key"].startswith("fb_probe/"))
    failed["error"] = "HTTP 500: server error"
    priced = next(line for line in lines if line["key"].startswith("false_belief/t"))
    priced["call"]["cost_usd"] = 0.25  # a priced phase turn counts in the group's cost
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    written = write_report([run], tmp_path / "out")
    summary = json.loads(written.summary_path.read_text())
    assert summary["groups"]["inertial | text | active"]["false_belief"]["failed_calls"] == 1
    assert summary["groups"]["inertial | text | active"]["exploration"]["failed_calls"] == 1
    assert summary["groups"]["inertial | text | active"]["exploration"]["cost_usd"] == pytest.approx(0.25)
    assert "## False belief" in written.text
    for name in ("inertia.svg", "revision_curve.svg", "revision_curve.pdf"):
        assert (tmp_path / "out" / "figures" / name).stat().st_size > 1000
    assert summary["groups"]["inertial | text | active"]["false_belief"]["revision_curve"][0]["n_correctness"] > 0
    pages = [page.read_text() for page in sorted((tmp_path / "out" / "episodes").glob("*.html"))]
    assert any("HTTP 500: server error" in page and "False-belief phase" in page for page in pages)


def test_an_undefined_point_of_the_revision_curve_is_a_gap():
    points = [{"turns_since_seen": 0, "inertia": 1.0}, {"turns_since_seen": 1, "inertia": None},
              {"turns_since_seen": 2, "inertia": 0.5}]
    xs, ys = revision_series(points, "inertia")
    assert xs == [0, 1, 2] and ys[0] == 1.0 and math.isnan(ys[1]) and ys[2] == 0.5
