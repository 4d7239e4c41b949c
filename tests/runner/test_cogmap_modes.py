"""The map request of ``use_model_cogmap``: stored like every request, counted, retried, and planned.

The model is asked its final global map once per episode, before the questions that quote it. A failed
map request is stored with its reason; every question of that round is then recorded as failed with the
reason ``the cognitive-map request failed: ...`` (no question is sent with a map that does not exist);
a rerun asks the map again and then every question.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_models import FakeModel, factory

from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.agents.scripted import strategist_agent
from theory_of_space.probes.modes import MAP_HEADING
from theory_of_space.probes.writers import probe_kind_of
from theory_of_space.report.summary import load_runs, summarise
from theory_of_space.runner.evaluate import EVALUATION_FILE, EvaluationSettings, evaluate, load_evaluation
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.phases import COGMAP_KEY
from theory_of_space.runner.pipeline import plan_experiment, run_experiment
from theory_of_space.tasks.prompts import QUESTION_HEADING
from theory_of_space.world.generate import generate_scene

MODEL = "openai:fake-model"
FAILURE = "HTTP 503: service unavailable"
MAP_FAILED = f"the cognitive-map request failed: {FAILURE}"


class Recording(FakeModel):
    """A fake model that keeps the last user message of every request it was sent."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sent: list[str] = []

    def act(self, messages):
        self.sent.append(messages[-1].content)
        return super().act(messages)

    def kinds(self) -> list[str]:
        return ["map" if probe_kind_of(text) else "question" if QUESTION_HEADING in text else "explore"
                for text in self.sent]


def _experiment(tmp_path: Path, **changes) -> Experiment:
    values = {"agents": (MODEL,), "scenes": "0:1", "phases": ("explore", "evaluate"), "out": str(tmp_path / "run"),
              "n_per_task": 1, "max_exp_steps": 6, "mode": "use_model_cogmap"}
    values.update(changes)
    return Experiment(**values)


def _records(root: Path) -> dict[str, dict]:
    (path,) = root.rglob("evaluate.jsonl")
    return {r["key"]: r for r in map(json.loads, path.read_text().splitlines())}


def _metrics(root: Path) -> dict:
    (path,) = root.rglob("metrics.json")
    return json.loads(path.read_text())


def _fail_the_map(tmp_path: Path) -> Recording:
    model = Recording(fail=lambda kind, n: kind == "probe")
    outcome = run_experiment(_experiment(tmp_path), make_model=factory(model))
    assert outcome.done == 1 and not outcome.errors
    return model


def test_a_failed_map_request_is_stored_with_its_reason_and_every_question_fails_with_it(tmp_path):
    model = _fail_the_map(tmp_path)
    assert model.kinds().count("map") == 1 and "question" not in model.kinds()  # no question sent without a map
    records = _records(tmp_path / "run")
    cogmap = records.pop(COGMAP_KEY)
    assert cogmap["error"] == cogmap["call"]["error"] == FAILURE and cogmap["cogmap"] is None
    assert len(records) == 9
    for record in records.values():
        assert record["error"] == record["call"]["error"] == MAP_FAILED
        assert record["reply"] is None and record["score"]["value"] == 0
    assert _metrics(tmp_path / "run")["failed_calls"] == 10
    assert _metrics(tmp_path / "run")["failed_calls_by_phase"] == {"explore": 0, "evaluate": 10}
    (episode,) = load_runs([tmp_path / "run"])
    assert (COGMAP_KEY, FAILURE) in episode.failures() and episode.failed_calls == 10
    group = next(iter(summarise([episode])["groups"].values()))
    assert group["exploration"]["failed_calls"] == 10 and group["accuracy"]["overall"] == 0


def test_a_rerun_keeps_the_failure_without_retries_and_otherwise_asks_the_map_then_every_question(tmp_path):
    _fail_the_map(tmp_path)
    kept = run_experiment(_experiment(tmp_path, retry_failed=False), make_model=factory(Recording()))
    assert kept.meter.requests == 0 and kept.counters.retried == 0
    assert _metrics(tmp_path / "run")["failed_calls"] == 10

    healthy = Recording()
    outcome = run_experiment(_experiment(tmp_path), make_model=factory(healthy))
    assert outcome.done == 1 and outcome.counters.retried == 10
    assert healthy.kinds() == ["map"] + ["question"] * 9
    records = _records(tmp_path / "run")
    cogmap = records.pop(COGMAP_KEY)
    assert cogmap["error"] is None and cogmap["call"]["error"] is None and isinstance(cogmap["cogmap"], str)
    assert all(f"{MAP_HEADING}\n{cogmap['cogmap']}" in text for text in healthy.sent[1:])
    assert all(r["error"] is None and isinstance(r["reply"], str) for r in records.values())
    assert _metrics(tmp_path / "run")["failed_calls"] == 0
    (path,) = (tmp_path / "run").rglob(EVALUATION_FILE)
    stored = load_evaluation(path, images=False)
    assert stored.cogmap == cogmap["cogmap"] and stored.cogmap_reply == cogmap["reply"]


def test_the_report_counts_the_cost_of_the_map_request(tmp_path):
    model = Recording(cost=0.01)
    run_experiment(_experiment(tmp_path), make_model=factory(model))
    assert model.kinds().count("map") == 1
    group = next(iter(summarise(load_runs([tmp_path / "run"]))["groups"].values()))
    assert group["exploration"]["cost_usd"] == pytest.approx(0.01 * len(model.sent))


def test_a_cut_map_record_is_reported_and_asked_again(tmp_path):
    run_experiment(_experiment(tmp_path), make_model=factory(FakeModel()))
    (path,) = (tmp_path / "run").rglob("evaluate.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if line["key"] == COGMAP_KEY:
            line["cogmap"] = 7
        else:
            line["error"] = "HTTP 500"  # the questions are asked again, so the map is needed
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    model = Recording()
    outcome = run_experiment(_experiment(tmp_path), make_model=factory(model))
    assert any(str(path) in str(entry) and COGMAP_KEY in str(entry) for entry in outcome.corrupt)
    assert model.kinds() == ["map"] + ["question"] * 9


def test_the_dry_run_counts_the_map_request_of_use_model_cogmap_and_prices_it_as_a_question(tmp_path):
    def plan(mode: str, *, batch: bool = False, **changes):
        return plan_experiment(_experiment(tmp_path, agents=("gpt-5.2",), scenes="0:2", mode=mode, **changes),
                               batch=batch)

    assert plan("use_model_cogmap").requests == {"explore": 12, "evaluate": 20}
    assert plan("use_gt_cogmap").requests == {"explore": 12, "evaluate": 18}  # the true map is no request
    for batch in (False, True):
        asked = plan("use_model_cogmap", batch=batch, phases=("evaluate",)).cost_usd
        default = plan("default", batch=batch, phases=("evaluate",)).cost_usd
        assert asked == pytest.approx(default * 20 / 18)
    # through --batch the map request goes to the batch API with the questions: at the batch price
    assert plan("use_model_cogmap", batch=True).cost_usd < plan("use_model_cogmap").cost_usd


def test_the_dry_run_counts_a_failed_map_and_its_questions_unless_failures_are_kept(tmp_path):
    _fail_the_map(tmp_path)
    assert plan_experiment(_experiment(tmp_path)).requests["evaluate"] == 10
    assert plan_experiment(_experiment(tmp_path, retry_failed=False)).requests["evaluate"] == 0
    run_experiment(_experiment(tmp_path), make_model=factory(FakeModel()))
    assert plan_experiment(_experiment(tmp_path)).requests["evaluate"] == 0


class _NoMap:
    """Explores as STRATEGIST; its map request fails, its questions get a reply."""

    name = "nomap"

    def __init__(self, scene) -> None:
        self.explorer = strategist_agent(scene)

    def act(self, messages):
        if probe_kind_of(messages[-1].content):
            return AgentReply("", CallRecord(model="nomap", error=FAILURE))
        if QUESTION_HEADING in messages[-1].content:
            return AgentReply("FINAL ANSWER: A", CallRecord(model="nomap"))
        return self.explorer.act(messages)


def test_the_in_memory_evaluation_records_the_questions_of_a_failed_map_as_failed(tmp_path):
    scene = generate_scene(seed=0, n_rooms=2)
    settings = EvaluationSettings(mode="use_model_cogmap", tasks=("dir", "alloc"), n_per_task=1)
    (run,) = evaluate([scene], lambda scene, questions: _NoMap(scene), settings, agent_name="nomap",
                      out_dir=tmp_path)
    assert run.cogmap is None and run.answers
    for answer in run.answers:
        assert answer.reply is None and answer.score.value == 0 and answer.call["error"] == MAP_FAILED
