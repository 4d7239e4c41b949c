"""Provider batch APIs through the real openai and anthropic SDKs against a loopback fake of both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_batch_servers import FakeBatchServer

from theory_of_space.agents.base import Message
from theory_of_space.agents.clients import Completion
from theory_of_space.agents.config import resolve_model_config
from theory_of_space.runner.batch import (
    BATCH_ATTEMPTS,
    BATCHED_PHASES,
    BatchBook,
    BatchedAnswers,
    BatchError,
    BatchPending,
    ItemResult,
    custom_id,
)
from theory_of_space.runner.experiment import experiment_from
from theory_of_space.runner.pipeline import run_experiment

pytest.importorskip("openai")
pytest.importorskip("anthropic")

MODELS = ("fake-gpt", "fake-claude")
BATCHED = ("probe.jsonl", "evaluate.jsonl")


@pytest.fixture
def server():
    with FakeBatchServer() as fake:
        yield fake


@pytest.fixture
def model_config(server: FakeBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-batch")
    path = tmp_path / "models.toml"
    path.write_text(
        f'[models."fake-gpt"]\nprovider = "openai"\nmodel = "gpt-5.2"\nbase_url = "{server.url}"\n'
        'max_tokens = 256\nmax_retries = 0\n'
        f'[models."fake-claude"]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-5"\nbase_url = "{server.root_url}"\n'
        'max_tokens = 256\nmax_retries = 0\n'
        f'[models."fake-compat"]\nprovider = "compat"\nmodel = "m"\nbase_url = "{server.url}"\n'
    )
    return path


def _experiment(out: Path, agent: str, config: Path, scenes: str = "0:2"):
    return experiment_from(None, {"agents": [agent], "scenes": scenes, "phases": ["explore", "probe", "evaluate"],
                                  "out": str(out), "model_config": str(config), "max_exp_steps": 5,
                                  "n_per_task": 1, "in_flight": 4})


def _stored(root: Path, names: tuple[str, ...]) -> dict[str, dict[str, dict]]:
    records = {}
    for path in sorted(root.rglob("*.jsonl")):
        if path.name in names:
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            records[str(path.relative_to(root))] = {r["key"]: r for r in lines}
    return records


def _without_call_details(records: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """The records with only the call's tokens and error (latency, retries, cost and ids differ by design);
    an evaluation mode's stored map, which holds no call, is kept as it is."""
    keep = ("input_tokens", "output_tokens", "error")
    return {name: {key: {**r, "call": {n: r["call"][n] for n in keep}} if "call" in r else r
                   for key, r in recs.items()}
            for name, recs in records.items()}


def _until_done(experiment, rounds: int = 6):
    outcomes = []
    for _ in range(rounds):
        outcomes.append(run_experiment(experiment, batch=True))
        if outcomes[-1].pending == 0 and outcomes[-1].done == outcomes[-1].episodes:
            break
    return outcomes


@pytest.mark.parametrize("agent", MODELS)
def test_batched_probes_and_questions_equal_the_interactive_run_at_the_batch_price(
    agent: str, server: FakeBatchServer, model_config: Path, tmp_path: Path
) -> None:
    interactive = run_experiment(_experiment(tmp_path / "interactive", agent, model_config))
    assert interactive.done == 2 and not interactive.errors
    chats = server.chat_requests

    first = run_experiment(_experiment(tmp_path / "batch", agent, model_config), batch=True)
    # exploration ran interactively (the same turns again); probes and questions waited for the batch
    explore_turns = sum(len(r) for r in _stored(tmp_path / "interactive", ("explore.jsonl",)).values())
    assert server.chat_requests - chats == explore_turns
    assert (first.done, first.pending, first.batch["submitted"]) == (0, 2, 1)
    assert len(server.batches) == 1
    assert _stored(tmp_path / "batch", BATCHED) == {}
    book = BatchBook(tmp_path / "batch")
    [submission] = book.submissions().values()
    assert submission["batch_id"] in server.batches  # recorded in the run folder

    second = run_experiment(_experiment(tmp_path / "batch", agent, model_config), batch=True)
    assert (second.done, second.pending, second.batch["collected"], second.batch["submitted"]) == (2, 0, 1, 0)
    assert server.chat_requests - chats == explore_turns  # nothing was asked interactively
    batched, direct = _stored(tmp_path / "batch", BATCHED), _stored(tmp_path / "interactive", BATCHED)
    assert sum(len(r) for r in batched.values()) == len(server.batches[submission["batch_id"]].requests) > 4
    assert _without_call_details(batched) == _without_call_details(direct)
    for name, records in batched.items():
        for key, record in records.items():
            assert record["call"]["cost_usd"] == pytest.approx(direct[name][key]["call"]["cost_usd"] / 2)
            assert record["call"]["extra"]["batch_id"] == submission["batch_id"]
    assert _stored(tmp_path / "batch", ("explore.jsonl",)).keys() == _stored(tmp_path / "interactive",
                                                                              ("explore.jsonl",)).keys()
    assert (tmp_path / "batch").joinpath(*next(iter(batched)).split("/")[:-1], "probe_record.json").is_file()


@pytest.mark.parametrize("agent", MODELS)
def test_failed_and_expired_items_are_retried_and_refused_ones_stored_as_failures(
    agent: str, server: FakeBatchServer, model_config: Path, tmp_path: Path
) -> None:
    fates: dict[str, str] = {}

    def outcome(cid: str, attempt: int) -> str:
        # the first three items fail once each way; a fourth is refused for good
        if not fates:
            fates.update(zip(sorted_ids, ("error", "expired", "error", "invalid")))
        fate = fates.get(cid, "ok")
        return fate if attempt == 1 or fate == "invalid" else "ok"

    sorted_ids: list[str] = []
    server.hold = True
    experiment = _experiment(tmp_path / "run", agent, model_config, scenes="0:1")
    first = run_experiment(experiment, batch=True)
    assert first.pending == 1
    [batch] = server.batches.values()
    sorted_ids.extend(sorted(cid for cid, _ in batch.requests))
    server.item_outcome = outcome
    server.hold = False
    outcomes = _until_done(experiment)
    assert outcomes[-1].done == 1 and outcomes[-1].pending == 0
    assert outcomes[0].batch["retry"] == 3 and outcomes[0].batch["submitted"] == 1
    retried = [b for b in server.batches.values() if b is not batch]
    assert sorted(cid for b in retried for cid, _ in b.requests) == sorted(sorted_ids[:3])
    stored = {k: r for recs in _stored(tmp_path / "run", BATCHED).values() for k, r in recs.items()}
    failed = [r for r in stored.values() if r["call"]["error"]]
    assert len(failed) == 1 and "scripted invalid" in failed[0]["call"]["error"] and failed[0]["reply"] in ("", None)
    assert len(stored) == len(batch.requests)
    assert server.attempts[sorted_ids[3]] == 1  # a refused request is not sent again


@pytest.mark.parametrize("agent", MODELS)
def test_a_malformed_success_is_retried_like_a_server_error(agent: str, server: FakeBatchServer,
                                                            model_config: Path, tmp_path: Path) -> None:
    server.item_outcome = lambda cid, attempt: "malformed" if attempt == 1 else "ok"
    experiment = _experiment(tmp_path / "run", agent, model_config, scenes="0:1")
    outcomes = _until_done(experiment)
    assert outcomes[-1].done == 1 and outcomes[-1].pending == 0
    [first, retried] = server.batches.values()
    assert sorted(cid for cid, _ in retried.requests) == sorted(cid for cid, _ in first.requests)
    assert outcomes[1].batch["retry"] == len(first.requests)
    stored = [r for recs in _stored(tmp_path / "run", BATCHED).values() for r in recs.values()]
    assert len(stored) == len(first.requests) and not any(r["call"]["error"] for r in stored)
    assert all(r["call"]["extra"]["batch_id"] == retried.batch_id for r in stored)


def test_tool_calls_of_a_batch_result_reach_the_reply_as_interactively(tmp_path: Path) -> None:
    config = resolve_model_config("gpt-5.2", overrides={"action_format": "tools"})

    class _Client:
        def build_request(self, messages):
            return {"model": config.model, "messages": [m.to_dict() for m in messages]}

    class _Model:
        name = "gpt-5.2"

        def __init__(self) -> None:
            self.config, self.client = config, _Client()

    book = BatchBook(tmp_path)
    answers = BatchedAnswers(_Model(), book)
    messages = [Message("user", "where is the chair?")]
    with pytest.raises(BatchPending) as pending:
        answers.act(messages)
    calls = [{"id": "call_1", "name": "Rotate", "arguments": '{"degrees": 90}'}]
    book._store_item(ItemResult(str(pending.value), "succeeded", Completion("", 12, 3, tool_calls=calls)), "b1")
    reply = answers.act(messages)
    assert reply.tool_calls == tuple(calls) and reply.record.extra["tool_calls"] == calls
    assert reply.record.cost_usd == pytest.approx(config.cost_usd(12, 3) / 2)


@pytest.mark.parametrize("agent", MODELS)
def test_the_model_map_of_an_evaluation_mode_goes_one_round_before_its_questions(
    agent: str, server: FakeBatchServer, model_config: Path, tmp_path: Path
) -> None:
    def experiment(out: str):
        return experiment_from(_experiment(tmp_path / out, agent, model_config, scenes="0:1"),
                               {"mode": "use_model_cogmap", "phases": ["explore", "evaluate"]})

    assert run_experiment(experiment("interactive")).done == 1
    outcomes = _until_done(experiment("batch"))
    assert [o.pending for o in outcomes] == [1, 1, 0] and outcomes[-1].done == 1
    first_batch = next(iter(server.batches.values()))
    assert len(first_batch.requests) == 1  # the map first, alone
    batched, direct = _stored(tmp_path / "batch", BATCHED), _stored(tmp_path / "interactive", BATCHED)
    assert batched and all("evaluate/cogmap" in records for records in batched.values())
    assert _without_call_details(batched) == _without_call_details(direct)


def test_an_item_failing_every_attempt_is_stored_as_failed(server: FakeBatchServer, model_config: Path,
                                                           tmp_path: Path) -> None:
    server.item_outcome = lambda cid, attempt: "error"
    experiment = _experiment(tmp_path / "run", "fake-gpt", model_config, scenes="0:1")
    outcomes = _until_done(experiment, rounds=BATCH_ATTEMPTS + 2)
    assert outcomes[-1].done == 1
    assert len(server.batches) == BATCH_ATTEMPTS
    stored = [r for recs in _stored(tmp_path / "run", BATCHED).values() for r in recs.values()]
    assert stored and all("scripted error" in r["call"]["error"] for r in stored)


def test_a_provider_without_a_batch_api_is_refused_before_any_request(server: FakeBatchServer,
                                                                      model_config: Path, tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="'fake-compat': --batch needs an openai or anthropic model"):
        run_experiment(_experiment(tmp_path / "run", "fake-compat", model_config), batch=True)
    assert server.chat_requests == 0


def test_the_false_belief_phase_is_interactive_and_only_the_batched_phases_wait_for_a_batch(
    server: FakeBatchServer, model_config: Path, tmp_path: Path
) -> None:
    # what `tos run --dry-run --batch` prices at the batch price must be what the batch path sends
    assert tuple(name.removesuffix(".jsonl") for name in BATCHED) == BATCHED_PHASES
    experiment = experiment_from(_experiment(tmp_path / "run", "fake-gpt", model_config, scenes="0:1"),
                                 {"phases": ["explore", "false_belief"], "max_false_belief_steps": 3})
    outcome = run_experiment(experiment, batch=True)
    assert (outcome.done, outcome.pending, outcome.batch["submitted"]) == (1, 0, 0) and not server.batches
    records = [r for recs in _stored(tmp_path / "run", ("false_belief.jsonl",)).values() for r in recs.values()]
    assert records and not any("batch_id" in r["call"].get("extra", {}) for r in records)


def test_custom_ids_are_stable_and_within_both_providers_limits() -> None:
    config = resolve_model_config("gpt-5.2")
    body = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
    cid = custom_id(config, body)
    assert cid == custom_id(config, json.loads(json.dumps(body))) and len(cid) <= 64
    assert cid.replace("-", "").isalnum()
    assert cid != custom_id(config, {**body, "messages": [{"role": "user", "content": "hi!"}]})


def _tos(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "theory_of_space.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("agent", MODELS)
def test_kill_9_between_submit_and_collect_loses_nothing(agent: str, server: FakeBatchServer, model_config: Path,
                                                        tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = tmp_path / "run"
    args = ["run", "--agent", agent, "--scenes", "0:2", "--phases", "explore,probe,evaluate", "--max-steps", "5",
            "--questions", "1", "--model-config", str(model_config), "--out", str(out), "--quiet", "--no-report",
            "--batch", "--batch-wait", "--batch-poll", "0.05"]
    server.hold = True
    process = _tos(args, env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.get("batch_id") for s in BatchBook(out).submissions().values()):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # it was polling the batch it had just submitted
    process.wait()
    assert process.returncode == -signal.SIGKILL and len(server.batches) == 1
    server.hold = False

    collected = _tos(["batch", "collect", str(out)], env)
    stdout, stderr = collected.communicate(timeout=300)
    assert collected.returncode == 0, stderr
    assert "2/2 episodes complete" in stdout
    assert len(server.batches) == 1  # found by its stored id, not sent again

    status = _tos(["batch", "status", str(out)], env)
    stdout, stderr = status.communicate(timeout=60)
    assert status.returncode == 0, stderr
    assert next(iter(server.batches)) in stdout

    whole = run_experiment(_experiment(tmp_path / "interactive", agent, model_config))
    assert whole.done == 2
    assert _without_call_details(_stored(out, BATCHED)) == _without_call_details(
        _stored(tmp_path / "interactive", BATCHED))


@pytest.mark.parametrize(("agent", "batches"), [("fake-gpt", 1), ("fake-claude", 2)])
def test_a_kill_between_sending_and_recording_the_batch_id(agent: str, batches: int, server: FakeBatchServer,
                                                           model_config: Path, tmp_path: Path) -> None:
    """OpenAI batches are found again by their metadata; Anthropic's carry none, so theirs is sent again."""
    server.hold = True
    experiment = _experiment(tmp_path / "run", agent, model_config, scenes="0:1")
    run_experiment(experiment, batch=True)
    book = BatchBook(tmp_path / "run")
    [(submission, record)] = book.submissions().items()
    unrecorded = {k: v for k, v in record.items() if k not in ("key", "batch_id")}
    book.store.put("submission", submission, {**unrecorded, "status": "submitting"})  # what a kill leaves
    server.hold = False
    outcomes = _until_done(experiment)
    assert outcomes[-1].done == 1
    assert len(server.batches) == batches


def test_tos_batch_on_a_folder_without_batches_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from theory_of_space.cli import main

    for action in ("status", "collect"):
        assert main(["batch", action, str(tmp_path)]) == 2
        assert f"{tmp_path}/batches/experiment.json: no batch run here" in capsys.readouterr().err
