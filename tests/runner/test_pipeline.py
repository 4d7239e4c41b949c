"""The pipeline end to end with scripted agents and a fake model: storage, resumption, retries, limits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fake_models import FakeModel, factory

from theory_of_space.report.summary import load_runs, summarise
from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.pipeline import plan_experiment, run_experiment
from theory_of_space.runner.store import RunFolderError

MODEL = "openai:fake-model"


def _experiment(tmp_path: Path, **changes) -> Experiment:
    values = {"agents": (MODEL,), "scenes": "0:2", "phases": ("explore", "evaluate"), "out": str(tmp_path / "run"),
              "n_per_task": 1, "max_exp_steps": 6}
    values.update(changes)
    return Experiment(**values)


def _stored(root: Path) -> dict[str, list[dict]]:
    """Every stored result by episode-relative file, without timing fields."""
    records = {}
    for path in sorted(root.rglob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for line in lines:
            line.get("call", {}).pop("latency_s", None)
        records[str(path.relative_to(root))] = sorted(lines, key=lambda r: r["key"])
    return records


def test_every_request_is_stored_by_key_and_a_rerun_sends_none(tmp_path):
    model = FakeModel()
    outcome = run_experiment(_experiment(tmp_path), make_model=factory(model))
    assert outcome.done == outcome.episodes == 2
    first_calls = model.calls
    episode = next((tmp_path / "run").rglob("evaluate.jsonl")).parent
    keys = [json.loads(line)["key"] for line in (episode / "evaluate.jsonl").read_text().splitlines()]
    assert len(keys) == 9 and all(k.startswith("evaluate/") for k in keys)
    turns = [json.loads(line)["key"] for line in (episode / "explore.jsonl").read_text().splitlines()]
    assert turns == ["explore/t01", "explore/t02", "explore/t03", "explore/t04"]
    again = run_experiment(_experiment(tmp_path), make_model=factory(model))
    assert model.calls == first_calls and again.meter.requests == 0
    assert "seed0000-" in str(episode) and episode.parts[-3:] == ("text", "active", "think")


def test_stored_failures_are_retried_and_counted_unless_kept(tmp_path):
    failing = FakeModel(fail=lambda kind, n: kind == "question" and n % 4 == 0)
    run_experiment(_experiment(tmp_path), make_model=factory(failing))
    summary = summarise(load_runs([tmp_path / "run"]))
    failed = next(iter(summary["groups"].values()))["exploration"]["failed_calls"]
    assert failed > 0
    kept = run_experiment(_experiment(tmp_path, retry_failed=False), make_model=factory(FakeModel()))
    assert kept.counters.retried == 0 and kept.meter.requests == 0
    healthy = FakeModel()
    retried = run_experiment(_experiment(tmp_path), make_model=factory(healthy))
    assert retried.counters.retried == failed == healthy.calls
    summary = summarise(load_runs([tmp_path / "run"]))
    assert next(iter(summary["groups"].values()))["exploration"]["failed_calls"] == 0


def test_an_exploration_failure_keeps_its_reason_in_the_turn_record(tmp_path):
    model = FakeModel(fail=lambda kind, n: kind == "explore" and n == 1)
    run_experiment(_experiment(tmp_path, scenes="0:1"), make_model=factory(model))
    path = next((tmp_path / "run").rglob("explore.jsonl"))
    turn = json.loads(path.read_text().splitlines()[1])
    assert turn["key"] == "explore/t02" and turn["error"] == "HTTP 503: service unavailable"
    assert turn["call"]["error"] == turn["error"] and turn["valid"] is False
    episode = load_runs([tmp_path / "run"])[0]
    assert episode.failures()[0] == ("explore/t02", "HTTP 503: service unavailable")


def test_the_cost_limit_stops_cleanly_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path):
    limited = run_experiment(_experiment(tmp_path, max_cost=0.05), make_model=factory(FakeModel(cost=0.01)))
    assert limited.stopped and limited.done < limited.episodes
    assert limited.meter.cost_usd == pytest.approx(0.05)
    run_experiment(_experiment(tmp_path), make_model=factory(FakeModel(cost=0.01)))
    run_experiment(_experiment(tmp_path, out=str(tmp_path / "whole")), make_model=factory(FakeModel(cost=0.01)))
    assert _stored(tmp_path / "run") == _stored(tmp_path / "whole")


def test_a_rerun_with_another_configuration_is_refused_saying_what_differs(tmp_path):
    run_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:1"))
    with pytest.raises(RunFolderError, match=r"max_exp_steps: stored 6, now 7"):
        run_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:1", max_exp_steps=7))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phases": ("explore", "dance")}, "unknown phase 'dance'"),
        ({"agents": ("nobody",)}, "unknown agent 'nobody'"),
        ({"worlds": ("smell",)}, "unknown world 'smell'"),
        ({"scenes": "5:2"}, "scene range '5:2'"),
    ],
)
def test_bad_input_is_named_before_any_request(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        run_experiment(_experiment(tmp_path, **changes), make_model=factory(FakeModel()))
    assert not (tmp_path / "run").exists()


def test_a_corrupt_record_is_reported_with_its_path_and_asked_again(tmp_path):
    run_experiment(_experiment(tmp_path, scenes="0:1"), make_model=factory(FakeModel()))
    path = next((tmp_path / "run").rglob("evaluate.jsonl"))
    lines = path.read_text().splitlines()
    broken = json.loads(lines[0])
    del broken["score"]
    path.write_text("\n".join([json.dumps(broken), *lines[1:], '{"key": "evaluate/cut'] ) + "\n")
    model = FakeModel()
    outcome = run_experiment(_experiment(tmp_path, scenes="0:1"), make_model=factory(model))
    reports = [str(entry) for entry in outcome.corrupt]
    assert any(str(path) in r and "score.value" in r for r in reports)
    assert any(f"{path}:{len(lines) + 1}" in r and "not JSON" in r for r in reports)
    assert model.calls == 1
    assert len(path.read_text().splitlines()) == len(lines)
    assert (path.parent / "evaluate.corrupt.jsonl").read_text().startswith('{"key": "evaluate/cut')


def test_question_requests_fan_out_under_the_in_flight_limit(tmp_path):
    model = FakeModel(delay=0.02)
    run_experiment(_experiment(tmp_path, scenes="0:1", in_flight=3), make_model=factory(model))
    assert 1 < model.most_in_flight <= 3


def test_dry_run_counts_requests_still_to_send_and_prices_them(tmp_path):
    experiment = _experiment(tmp_path, agents=("gpt-5.2",), scenes="0:2")
    plan = plan_experiment(experiment)
    assert plan.requests == {"explore": 12, "evaluate": 18}
    assert plan.cost_usd > 0 and not plan.unpriced
    scripted = plan_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:2"))
    assert scripted.cost_usd == 0 and "scripted, free" in scripted.details[0]
    run_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:1"))
    assert plan_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:2")).requests["evaluate"] == 9


def test_a_dry_run_of_a_finished_run_counts_only_what_a_rerun_would_retry(tmp_path):
    phases = ("explore", "probe", "false_belief")
    experiment = _experiment(tmp_path, agents=("updating",), scenes="0:1", phases=phases)
    before = plan_experiment(experiment).requests
    assert before == {"explore": 6, "probe": 18, "false_belief": 31}  # upper bounds of a fresh run
    run_experiment(experiment)
    assert plan_experiment(experiment).requests == dict.fromkeys(phases, 0)
    # Fail one stored result per phase: a rerun asks it again (and, in the exploration, every later turn).
    folder = next((tmp_path / "run").rglob("explore.jsonl")).parent
    for phase, key in (("explore", "explore/t03"), ("probe", "probe/t01/global"), ("false_belief", "false_belief/t01")):
        path = folder / f"{phase}.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        kept = len(lines)
        next(line for line in lines if line["key"] == key)["error"] = "HTTP 500: boom"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        planned = plan_experiment(experiment).requests[phase]
        bound = {"explore": 6, "probe": 18, "false_belief": 31}[phase]
        assert planned == (bound - 2 if phase == "explore" else bound - (kept - 1))
    assert plan_experiment(replace(experiment, retry_failed=False)).requests == dict.fromkeys(phases, 0)


def _priced_config(tmp_path: Path, discount: float, provider: str = "openai") -> str:
    path = tmp_path / f"models-{provider}-{discount}.toml"
    server = 'base_url = "http://localhost:8000/v1"\n' if provider == "compat" else ""
    path.write_text(f'[models.priced]\nprovider = "{provider}"\nmodel = "priced-model"\n{server}'
                    f'[prices]\n"priced-model" = {{ input = 2.0, output = 10.0, batch_discount = {discount} }}\n')
    return str(path)


@pytest.mark.parametrize("discount", [0.5, 0.25])
def test_a_batch_dry_run_prices_probes_and_questions_at_the_batch_price_and_the_rest_at_list_price(
    tmp_path, discount
):
    config = _priced_config(tmp_path, discount)
    phases = ("explore", "probe", "evaluate", "false_belief")

    def plan(phases, *, batch=False):
        return plan_experiment(_experiment(tmp_path, agents=("priced",), model_config=config, phases=phases),
                               batch=batch)

    listed = {phase: plan((phase,)).cost_usd for phase in phases}  # each phase alone, at list price
    assert all(cost > 0 for cost in listed.values())
    assert plan(phases).cost_usd == pytest.approx(sum(listed.values()))
    batched = plan(phases, batch=True)
    # exploration and the false-belief phase are sent interactively; probes and questions in provider batches
    expected = listed["explore"] + listed["false_belief"] + (1 - discount) * (listed["probe"] + listed["evaluate"])
    assert batched.cost_usd == pytest.approx(expected)
    assert batched.batched == ("probe", "evaluate") and not batched.no_batch_discount
    assert batched.requests == plan(phases).requests


def test_a_batch_dry_run_refuses_a_provider_without_a_batch_api_and_lists_models_without_a_discount(tmp_path):
    compat = _priced_config(tmp_path, 0.5, provider="compat")
    with pytest.raises(ValueError, match="model 'priced': --batch needs an openai or anthropic model"):
        plan_experiment(_experiment(tmp_path, agents=("priced",), model_config=compat), batch=True)
    undiscounted = _priced_config(tmp_path, 0)
    experiment = _experiment(tmp_path, agents=("priced",), model_config=undiscounted)
    plan = plan_experiment(experiment, batch=True)
    assert plan.no_batch_discount == ["priced"] and plan.cost_usd == pytest.approx(plan_experiment(experiment).cost_usd)


def test_probe_phase_stores_every_probe_by_key_and_assembles_the_record(tmp_path):
    run_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:1", phases=("explore", "probe")))
    folder = next((tmp_path / "run").rglob("probe.jsonl")).parent
    keys = [json.loads(line)["key"] for line in (folder / "probe.jsonl").read_text().splitlines()]
    assert keys[0] == "probe/t01/global" and len(set(keys)) == len(keys)
    record = json.loads((folder / "probe_record.json").read_text())
    assert sorted(record["answers"]) == sorted(keys)
    assert not (folder / "evaluate.jsonl").exists()


def test_an_unexpected_error_ends_only_its_episode(tmp_path):
    class Broken(FakeModel):
        def act(self, messages):
            if "## Question" in messages[-1].content and self.calls > 12:
                raise RuntimeError("a bug")
            return super().act(messages)

    outcome = run_experiment(_experiment(tmp_path, in_flight=1), make_model=factory(Broken()))
    assert outcome.episodes == 2 and outcome.done == 1
    assert len(outcome.errors) == 1 and "RuntimeError: a bug" in outcome.errors[0]
    assert "seed000" in outcome.errors[0]


def test_reading_for_a_report_never_repairs_a_folder_a_run_may_be_writing(tmp_path):
    run_experiment(_experiment(tmp_path, agents=("scout",), scenes="0:1"))
    path = next((tmp_path / "run").rglob("evaluate.jsonl"))
    with open(path, "ab") as handle:
        handle.write(b'{"key": "evaluate/cut')
    before = path.read_bytes()
    (episode,) = load_runs([tmp_path / "run"])
    assert path.read_bytes() == before and any(str(path) in p for p in episode.problems)


def test_a_retried_exploration_turn_replaces_the_turns_after_it(tmp_path):
    """Turn 2 fails; on the retry the model stops at once, so the old turns 3 and 4 must go."""
    run_experiment(_experiment(tmp_path, scenes="0:1"),
                   make_model=factory(FakeModel(fail=lambda kind, n: kind == "explore" and n == 1)))
    path = next((tmp_path / "run").rglob("explore.jsonl"))
    assert len(path.read_text().splitlines()) == 4

    class Stopper(FakeModel):
        def act(self, messages):
            reply = super().act(messages)
            if "Rotate" in reply.text:
                return type(reply)(reply.text.replace("Rotate(90), Observe()", "Term()"), reply.record)
            return reply

    stopper = Stopper()
    outcome = run_experiment(_experiment(tmp_path, scenes="0:1"), make_model=factory(stopper))
    assert outcome.counters.retried == 1
    assert stopper.calls == 1 + 9  # the retried turn, then every question again: the conversation changed
    turns = [json.loads(line) for line in path.read_text().splitlines()]
    assert [t["key"] for t in turns] == ["explore/t01", "explore/t02"] and "Term()" in turns[1]["reply"]
    assert [t["turn"] for t in load_runs([tmp_path / "run"])[0].turns] == [1, 2]


def test_rescoring_alone_sends_no_request(tmp_path):
    run_experiment(_experiment(tmp_path), make_model=factory(FakeModel(fail=lambda kind, n: kind == "question")))
    path = next((tmp_path / "run").rglob("evaluate.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["score"]["value"] = 0.5  # a score the current scorer would not give
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    class Silent(FakeModel):
        def act(self, messages):
            raise AssertionError("re-scoring asked the model")

    outcome = run_experiment(_experiment(tmp_path, phases=("rescore",)), make_model=factory(Silent()))
    assert outcome.done == 2 and not outcome.errors
    assert json.loads(path.read_text().splitlines()[0])["score"]["value"] == 0


def test_a_model_map_mode_asks_the_map_once_per_episode_and_puts_it_before_every_question(tmp_path):
    model = FakeModel()
    experiment = _experiment(tmp_path, scenes="0:1", mode="use_model_cogmap")
    run_experiment(experiment, make_model=factory(model))
    episode = next((tmp_path / "run").rglob("evaluate.jsonl")).parent
    records = {r["key"]: r for r in map(json.loads, (episode / "evaluate.jsonl").read_text().splitlines())}
    cogmap = records.pop("evaluate/cogmap")
    assert isinstance(cogmap["cogmap"], str) and isinstance(cogmap["reply"], str)
    assert len(records) == 9
    calls = model.calls
    again = run_experiment(experiment, make_model=factory(model))
    assert model.calls == calls and again.meter.requests == 0  # the stored map is not asked again


def test_a_rerun_with_another_evaluation_mode_is_refused(tmp_path):
    run_experiment(_experiment(tmp_path, scenes="0:1"), make_model=factory(FakeModel()))
    with pytest.raises(RunFolderError, match="mode"):
        run_experiment(_experiment(tmp_path, scenes="0:1", mode="use_gt_cogmap"), make_model=factory(FakeModel()))
