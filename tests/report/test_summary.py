"""Aggregation of stored runs: the numbers, the table order, the report files and the episode pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from theory_of_space.report import html as report_html
from theory_of_space.report.html import write_report
from theory_of_space.report.summary import accuracy_table, gap_table, load_runs, mean_curve, pearson, summarise
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
    assert "theory-of-space[report]" in written.note and "| scout | text | active |" in written.text
    assert not (tmp_path / "figures").exists()


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_runs([Path(tmp_path)])
