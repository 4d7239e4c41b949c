"""The false_belief phase of the pipeline: the exploration replayed, each phase turn and map stored by key,
resumption, and the two scripted agents at the two ends of the inertia scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_models import FakeModel, factory

from theory_of_space.probes.false_belief_requests import FalseBeliefRecord
from theory_of_space.report.summary import load_runs, summarise
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.false_belief_phase import FALSE_BELIEF_RECORD_FILE, false_belief_turn_key
from theory_of_space.runner.pipeline import run_experiment
from theory_of_space.runner.store import EpisodeStore

MODEL = "openai:fake-model"


def _experiment(tmp_path: Path, name: str = "run", **changes) -> Experiment:
    values = {"agents": ("updating", "inertial"), "scenes": "0:3", "phases": ("explore", "false_belief"),
              "out": str(tmp_path / name), "max_false_belief_steps": 12}
    values.update(changes)
    return Experiment(**values)


def _records(root: Path) -> dict[str, FalseBeliefRecord]:
    return {str(p.parent.relative_to(root)): FalseBeliefRecord.from_dict(json.loads(p.read_text()))
            for p in sorted(root.rglob(FALSE_BELIEF_RECORD_FILE))}


def _phase_results(root: Path) -> dict[str, list[dict]]:
    """The stored false-belief results per episode, without timing fields, in key order."""
    out = {}
    for path in sorted(root.rglob("false_belief.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for line in lines:
            line.get("call", {}).pop("latency_s", None)
        out[str(path.relative_to(root))] = sorted(lines, key=lambda r: r["key"])
    return out


def test_updating_revises_and_inertial_keeps_its_maps_through_the_pipeline(tmp_path):
    outcome = run_experiment(_experiment(tmp_path))
    assert outcome.done == outcome.episodes == 6 and not outcome.errors
    records = _records(outcome.root)
    assert len(records) == 6
    for folder, record in records.items():
        assert record.identification["f1_overall"] == 1.0  # both see and report every change
        scores = record.score(inertia_skip_exact=False)
        expected = 0.0 if folder.startswith("updating") else 1.0
        assert scores["inertia_ori"] == expected
        assert scores["inertia_pos"] == pytest.approx(expected, abs=1e-6)
    groups = summarise(load_runs([outcome.root]))["groups"]
    assert groups["inertial | text | active"]["false_belief"]["inertia_pos"] == pytest.approx(1.0, abs=1e-6)
    assert groups["updating | text | active"]["false_belief"]["inertia_ori"] == 0.0
    # the moved objects the updating agent placed exactly are left out of position inertia, and counted
    assert groups["updating | text | active"]["false_belief"]["skipped"]["exact"] > 0


def test_each_turn_and_map_is_stored_by_key_after_the_stored_exploration(tmp_path):
    outcome = run_experiment(_experiment(tmp_path, agents=("inertial",), scenes="0:1"))
    folder = next(outcome.root.rglob(FALSE_BELIEF_RECORD_FILE)).parent
    store = EpisodeStore(folder, readonly=True)
    explored = store.results("explore")
    stored = store.results("false_belief")
    turns = [key for key in stored if key.startswith("false_belief/t")]
    assert turns == [false_belief_turn_key(i) for i in range(1, len(turns) + 1)]
    assert stored[turns[0]]["episode_turn"] == len(explored) + 1
    assert stored[turns[-1]]["actions"][0].startswith("Term(changes=")
    maps = [key for key in stored if key.startswith("fb_probe/")]
    assert len(maps) == len(turns) - 1 and all(key.endswith("/global_fb") for key in maps)
    assert any(key.startswith("probe/") and key.endswith("/global") for key in stored)
    assert set(_records(outcome.root)[str(folder.relative_to(outcome.root))].answers) == {
        key for key in stored if not key.startswith("false_belief/t")}


def test_a_run_resumed_after_a_partial_phase_equals_an_uninterrupted_one(tmp_path):
    whole = run_experiment(_experiment(tmp_path, "whole"))
    partial = _experiment(tmp_path, "partial")
    run_experiment(partial)
    for path in Path(partial.out).rglob("false_belief.jsonl"):  # keep the first three phase turns only
        lines = [line for line in path.read_text().splitlines()
                 if json.loads(line)["key"] in {false_belief_turn_key(i) for i in (1, 2, 3)}]
        path.write_text("\n".join(lines) + "\n")
    for path in Path(partial.out).rglob(FALSE_BELIEF_RECORD_FILE):
        path.unlink()
    run_experiment(partial)
    assert _phase_results(Path(partial.out)) == _phase_results(whole.root)
    resumed, fresh = _records(Path(partial.out)), _records(whole.root)
    assert resumed.keys() == fresh.keys()
    assert all(resumed[k].score() == fresh[k].score() for k in fresh)


def test_a_model_plays_both_phases_and_a_failed_turn_is_stored_with_its_reason_then_retried(tmp_path):
    fail = FakeModel(fail=lambda kind, n: kind == "explore" and n == 5)  # the 2nd false-belief turn
    experiment = _experiment(tmp_path, agents=(MODEL,), scenes="0:1", max_exp_steps=6, max_false_belief_steps=4)
    run_experiment(experiment, make_model=factory(fail))
    stored = next(_phase_results(Path(experiment.out)).values().__iter__())
    failed = [r for r in stored if r.get("error")]
    assert [r["key"] for r in failed] == [false_belief_turn_key(2)]
    assert "503" in failed[0]["error"] and failed[0]["valid"] is False
    assert summarise(load_runs([Path(experiment.out)]))["groups"][f"{MODEL} | text | active"]["false_belief"][
        "failed_calls"] >= 1
    retry = FakeModel()
    outcome = run_experiment(experiment, make_model=factory(retry))
    assert outcome.counters.retried >= 1
    # only the phase turns from the failed one on (t02..t04) and the map probe are asked again
    assert retry.calls == 3 + 1
    clean = _experiment(tmp_path, "clean", agents=(MODEL,), scenes="0:1", max_exp_steps=6, max_false_belief_steps=4)
    run_experiment(clean, make_model=factory(FakeModel()))
    assert _phase_results(Path(experiment.out)) == _phase_results(Path(clean.out))
    record = next(iter(_records(Path(experiment.out)).values()))
    assert record.identification["f1_overall"] == 0.0  # a plain Term() never reports a change
    # its phase turns are all invalid (a plain Term()): only the last exploration map is asked
    assert {a.kind for a in record.answers.values()} == {"global"}


def test_scripted_explorers_skip_the_phase_and_asking_it_of_them_alone_is_an_error(tmp_path):
    outcome = run_experiment(_experiment(tmp_path, agents=("scout", "updating"), scenes="0:1"))
    assert [p.parts[len(outcome.root.parts)] for p in outcome.root.rglob(FALSE_BELIEF_RECORD_FILE)] == ["updating"]
    with pytest.raises(ValueError, match="no agent of scout, strategist plays it"):
        run_experiment(_experiment(tmp_path, "other", agents=("scout", "strategist")))
    assert not (tmp_path / "other").exists()


def test_the_vision_world_plays_the_phase_in_the_vision_false_belief_env(tmp_path):
    outcome = run_experiment(_experiment(tmp_path, agents=("inertial",), scenes="0:1", worlds=("vision",)))
    folder = next(outcome.root.rglob(FALSE_BELIEF_RECORD_FILE)).parent
    assert folder.parts[-3] == "vision"
    turns = [r for k, r in EpisodeStore(folder, readonly=True).results("false_belief").items()
             if k.startswith("false_belief/t")]
    assert turns and all(r["info"]["n_images"] == r["reply"].count("Observe()") for r in turns)
    assert next(iter(_records(outcome.root).values())).score()["inertia_ori"] == 1.0


def test_metrics_count_the_failed_false_belief_requests_as_the_report_does(tmp_path):
    # the 2nd false-belief turn, every map probe (all of them the false-belief phase's) and some questions fail
    fail = FakeModel(fail=lambda kind, n: (kind == "explore" and n == 5) or kind == "probe"
                     or (kind == "question" and n % 3 == 0))
    experiment = _experiment(tmp_path, agents=(MODEL,), scenes="0:1", max_exp_steps=6, max_false_belief_steps=4,
                             phases=("explore", "evaluate", "false_belief"), n_per_task=1)
    run_experiment(experiment, make_model=factory(fail))
    folder = next(Path(experiment.out).rglob("metrics.json")).parent
    metrics = json.loads((folder / "metrics.json").read_text())
    stored = EpisodeStore(folder, readonly=True)
    expected = {phase: sum(1 for r in stored.results(phase).values() if r.get("error"))
                for phase in ("explore", "evaluate", "false_belief")}
    assert expected["false_belief"] >= 2 and expected["evaluate"] >= 1  # the turn and a map probe
    group = summarise(load_runs([Path(experiment.out)]))["groups"][f"{MODEL} | text | active"]
    assert metrics["failed_calls"] == sum(expected.values()) == group["exploration"]["failed_calls"]
    assert metrics["failed_calls_by_phase"] == expected
    # the files are written after the last phase: a rerun that retries every failure leaves none counted
    run_experiment(experiment, make_model=factory(FakeModel()))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["failed_calls"] == 0 and set(metrics["failed_calls_by_phase"].values()) == {0}
