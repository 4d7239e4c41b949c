"""Provider batch APIs for the requests that are independent once exploration is stored (probes, questions).

``tos run --batch`` explores interactively as always; the probe and question requests of a model go to the
OpenAI Batch API (a JSONL file of ``/v1/chat/completions`` requests) or to Anthropic Message Batches, at the
providers' batch price. It works in rounds, each a pass of the ordinary pipeline:

1. every open batch of the run folder is polled, and the results of the ended ones are downloaded and
   stored under their request's ``custom_id``;
2. the pipeline runs: a request whose result is stored gets it (and the pipeline stores and scores it as
   it would an interactive reply); a request without one is queued and its phase is left pending
   (:class:`BatchPending`), and the episode waits for the next round;
3. the queued requests are submitted, one batch per model (split at the provider's size limits).

A request's ``custom_id`` is a digest of the provider request itself (``tos-`` and 40 hex digits: within
both providers' limits), so the same probe or question always has the same id, in any round and after any
crash. Everything is recorded under ``{run}/batches/``, append-only like the episode results:
``submission.jsonl`` (one line per batch: provider, model, its ``custom_id``s, then its batch id the moment
the provider returns it, then its end) and ``result.jsonl`` (one line per request result). A submission is
recorded *before* it is sent, so a ``kill -9`` after the provider accepted it finds it again on the next
run: by its stored batch id or, when the kill came between sending and storing the id, through the
OpenAI batch's ``metadata`` (Anthropic batches carry no metadata; such a batch is sent again).

Failed items are retried: a result that failed for a reason another attempt could cure (a server error,
a rate limit, an expired or cancelled batch, a malformed success
(:class:`~theory_of_space.agents.clients._errors.MalformedAnswerError`, retried interactively too), or no
result at all) is queued again in the next round, up to
:data:`BATCH_ATTEMPTS` times; a request the provider refused (HTTP 400) is stored as a failed call with its
reason, like an interactive call that failed for good.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.agents.clients import Completion, require
from theory_of_space.agents.config import ModelConfig, resolve_api_key
from theory_of_space.agents.history import trim_history
from theory_of_space.runner.store import EpisodeStore, write_json

BATCH_FOLDER = "batches"
EXPERIMENT_FILE = "experiment.json"
BATCH_ATTEMPTS = 3
"""Submissions of one request before a retryable failure is stored as the request's result."""
OPENAI_MAX_REQUESTS = 50_000
OPENAI_MAX_BYTES = 190 * 1024 * 1024
"""Under the OpenAI Batch API's 200 MB input file limit."""
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BYTES = 240 * 1024 * 1024
"""Under Message Batches' 256 MB request limit."""
BATCH_PROVIDERS = ("openai", "anthropic")
BATCHED_PHASES = ("probe", "evaluate")
"""The phases whose model requests ``--batch`` sends through a provider batch API: those of the model's
answerer (:func:`batch_answers`). Exploration and the false-belief phase (its turns and its map probes)
ask the model itself, interactively."""

Outcome = Literal["succeeded", "retry", "failed"]


class BatchPending(Exception):
    """A request was handed to a provider batch: its phase waits for the next round (not a failure)."""


class BatchError(ValueError):
    """A batch request that cannot be made as asked (a provider without a batch API)."""


def custom_id(config: ModelConfig, body: dict[str, Any]) -> str:
    """The stable id of one provider request: ``tos-`` and 40 hex digits of its digest."""
    text = json.dumps({"provider": config.provider, "base_url": config.base_url, "body": body}, sort_keys=True)
    return "tos-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def model_key(config: ModelConfig) -> str:
    """Which requests may share a batch: the same provider, server and model."""
    return f"{config.provider}|{config.base_url or ''}|{config.model}"


@dataclass(frozen=True)
class ItemResult:
    """What a provider returned for one request of a batch."""

    custom_id: str
    outcome: Outcome
    completion: Completion | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchState:
    """A batch as the provider reports it."""

    batch_id: str
    status: str
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)


# ==== Providers ====


class OpenAIBatches:
    """The OpenAI Batch API through the ``openai`` SDK: Files (purpose ``batch``) and Batches."""

    max_requests = OPENAI_MAX_REQUESTS
    max_bytes = OPENAI_MAX_BYTES

    def __init__(self, config: ModelConfig) -> None:
        openai = require("openai", extra="api")
        self.config = config
        # Managing a batch is a handful of small calls: the SDK's own retries cover them.
        self._client = openai.OpenAI(api_key=resolve_api_key(config), base_url=config.base_url,
                                     organization=config.organization, max_retries=3)

    def line(self, cid: str, body: dict[str, Any]) -> bytes:
        return (json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}) +
                "\n").encode()

    def submit(self, submission: str, lines: Sequence[bytes], record: Any) -> str:
        """Upload the requests, record the file id, create the batch; returns its id."""
        uploaded = self._client.files.create(file=(f"{submission}.jsonl", b"".join(lines)), purpose="batch")
        record(file_id=uploaded.id)
        batch = self._client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                            completion_window="24h", metadata={"tos_submission": submission})
        return batch.id

    def find(self, submission: str) -> str | None:
        """The batch created for ``submission`` (found by its metadata), if the provider has one."""
        for batch in self._client.batches.list(limit=100):
            if (batch.metadata or {}).get("tos_submission") == submission:
                return batch.id
        return None

    def state(self, batch_id: str) -> BatchState:
        batch = self._client.batches.retrieve(batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        return BatchState(batch.id, batch.status, ended, counts)

    def results(self, batch_id: str) -> Iterator[ItemResult]:
        from theory_of_space.agents.clients._errors import is_retryable_status
        from theory_of_space.agents.clients.openai_chat import parse_chat_completion

        batch = self._client.batches.retrieve(batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            for raw in self._client.files.content(file_id).text.splitlines():
                if not raw.strip():
                    continue
                line = json.loads(raw)
                cid = line.get("custom_id")
                response = line.get("response") or {}
                status = response.get("status_code")
                if status == 200:
                    try:
                        completion = parse_chat_completion(response.get("body"), model=self.config.model)
                    except ValueError as error:
                        yield ItemResult(cid, "retry", error=str(error))
                        continue
                    yield ItemResult(cid, "succeeded", completion)
                    continue
                error = line.get("error") or (response.get("body") or {}).get("error") or {}
                message = f"{error.get('code') or status}: {error.get('message', '')}".strip()
                code = error.get("code")
                retry = code in ("batch_expired", "batch_cancelled") or status is None or is_retryable_status(status)
                yield ItemResult(cid, "retry" if retry else "failed", error=f"batch item failed ({message})")

    def close(self) -> None:
        self._client.close()


class AnthropicBatches:
    """Anthropic Message Batches through the ``anthropic`` SDK."""

    max_requests = ANTHROPIC_MAX_REQUESTS
    max_bytes = ANTHROPIC_MAX_BYTES

    def __init__(self, config: ModelConfig) -> None:
        anthropic = require("anthropic", extra="api")
        self.config = config
        self._client = anthropic.Anthropic(api_key=resolve_api_key(config), base_url=config.base_url,
                                           max_retries=3)

    def line(self, cid: str, body: dict[str, Any]) -> bytes:
        return json.dumps({"custom_id": cid, "params": body}).encode()

    def submit(self, submission: str, lines: Sequence[bytes], record: Any) -> str:
        batch = self._client.messages.batches.create(requests=[json.loads(line) for line in lines])
        return batch.id

    def find(self, submission: str) -> str | None:
        return None  # Message Batches carry no metadata to find a submission by

    def state(self, batch_id: str) -> BatchState:
        batch = self._client.messages.batches.retrieve(batch_id)
        return BatchState(batch.id, batch.processing_status, batch.processing_status == "ended",
                          batch.request_counts.model_dump())

    def results(self, batch_id: str) -> Iterator[ItemResult]:
        from theory_of_space.agents.clients._errors import is_retryable_status
        from theory_of_space.agents.clients.anthropic_messages import parse_message

        for item in self._client.messages.batches.results(batch_id):
            result = item.result
            if result.type == "succeeded":
                try:
                    completion = parse_message(result.message, model=self.config.model, streamed=False)
                except ValueError as error:  # a malformed message: another attempt may get a whole one
                    yield ItemResult(item.custom_id, "retry", error=str(error))
                    continue
                yield ItemResult(item.custom_id, "succeeded", completion)
            elif result.type == "errored":
                error = result.error.error
                kind = getattr(error, "type", "error")
                retry = kind in ("api_error", "overloaded_error", "rate_limit_error", "timeout_error")
                status = {"invalid_request_error": 400}.get(kind)
                retry = retry or (status is not None and is_retryable_status(status))
                yield ItemResult(item.custom_id, "retry" if retry else "failed",
                                 error=f"batch item failed ({kind}: {getattr(error, 'message', '')})")
            else:  # expired or canceled
                yield ItemResult(item.custom_id, "retry", error=f"batch item {result.type}")

    def close(self) -> None:
        self._client.close()


def provider_batches(config: ModelConfig) -> OpenAIBatches | AnthropicBatches:
    """The batch API of a model's provider.

    Raises:
        BatchError: the provider has no batch API here (OpenAI-compatible servers, local models).
    """
    check_batch_provider(config)
    return OpenAIBatches(config) if config.provider == "openai" else AnthropicBatches(config)


def check_batch_provider(config: ModelConfig) -> None:
    """Check that a model's provider has a batch API here, without reaching it.

    Raises:
        BatchError: naming the model, for OpenAI-compatible servers and local models.
    """
    if config.provider not in BATCH_PROVIDERS:
        raise BatchError(
            f"model {config.name!r}: --batch needs an openai or anthropic model, got provider {config.provider!r} "
            "(run it without --batch)"
        )


# ==== The run folder's batch book ====


class BatchBook:
    """The batches of one run folder: submissions, results, and the requests queued for the next batch.

    Args:
        root: the run folder; records go to ``root/batches/``.
        configs: the model configurations by :func:`model_key` (to reach each provider).
    """

    def __init__(self, root: Path, configs: dict[str, ModelConfig] | None = None) -> None:
        self.root = Path(root)
        self.store = EpisodeStore(self.root / BATCH_FOLDER)
        self.configs = dict(configs or {})
        self._queued: dict[str, tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- what is stored

    def submissions(self) -> dict[str, dict[str, Any]]:
        return self.store.results("submission")

    def result(self, cid: str) -> dict[str, Any] | None:
        return self.store.get("result", cid)

    def in_flight(self) -> set[str]:
        """The ``custom_id``s of batches sent and not yet collected."""
        return {cid for s in self.submissions().values() if s.get("status") not in ("collected", "abandoned")
                for cid in s.get("custom_ids", ())}

    def queue(self, config: ModelConfig, cid: str, body: dict[str, Any]) -> None:
        """Queue a request for the next batch (once per ``custom_id``)."""
        with self._lock:
            self.configs.setdefault(model_key(config), config)
            self._queued.setdefault(cid, (model_key(config), body))

    @property
    def queued(self) -> int:
        return len(self._queued)

    # -- rounds

    def save_experiment(self, experiment: dict[str, Any]) -> None:
        """Keep the experiment beside the batches, so ``tos batch collect RUN`` can resume it."""
        write_json(self.root / BATCH_FOLDER / EXPERIMENT_FILE, experiment)

    def experiment(self) -> dict[str, Any]:
        """The stored experiment's options (for :func:`~theory_of_space.runner.experiment.experiment_from`)."""
        path = self.root / BATCH_FOLDER / EXPERIMENT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no batch run here (start one with `tos run --batch --out {self.root}`)")
        # an unset option (None) is stored as such and means the default again
        return {key: value for key, value in json.loads(path.read_text()).items() if value is not None}

    def _providers(self, key: str) -> OpenAIBatches | AnthropicBatches:
        if key not in self.configs:
            raise BatchError(f"{self.root}: a batch of model {key!r}, which this run no longer names")
        return provider_batches(self.configs[key])

    def submit(self) -> list[str]:
        """Send the queued requests not already in a batch, one batch per model (split at the size
        limits); returns the new batch ids. Each submission is recorded before it is sent."""
        with self._lock:
            queued, self._queued = self._queued, {}
        waiting = self.in_flight()
        by_model: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for cid, (key, body) in sorted(queued.items()):
            if cid not in waiting:
                by_model.setdefault(key, []).append((cid, body))
        sent = []
        for key, requests in by_model.items():
            provider = self._providers(key)
            try:
                for chunk in _chunks(provider, requests):
                    sent.append(self._send(provider, key, chunk))
            finally:
                provider.close()
        return sent

    def _send(self, provider: Any, key: str, chunk: list[tuple[str, bytes]]) -> str:
        submission = f"sub-{uuid.uuid4().hex[:16]}"
        record = {"provider": key.split("|", 1)[0], "model_key": key, "status": "submitting",
                  "custom_ids": [cid for cid, _ in chunk], "submitted_at": time.time()}
        self.store.put("submission", submission, record)

        def note(**fields: Any) -> None:
            record.update(fields)
            self.store.put("submission", submission, record)

        batch_id = provider.submit(submission, [line for _, line in chunk], note)
        note(batch_id=batch_id, status="submitted")
        return batch_id

    def collect(self) -> dict[str, int]:
        """Poll every open batch; download and store the results of the ended ones.

        Returns:
            Counts: ``open`` batches still running, ``collected`` batches, ``results`` stored, ``retry``
            items that will be queued again.
        """
        counts = {"open": 0, "collected": 0, "results": 0, "retry": 0}
        for submission, record in sorted(self.submissions().items()):
            if record.get("status") in ("collected", "abandoned"):
                continue
            provider = self._providers(record["model_key"])
            try:
                if not record.get("batch_id"):
                    found = provider.find(submission)
                    if found is None:  # never accepted (or not findable): its requests are queued again
                        self.store.put("submission", submission, {**record, "status": "abandoned"})
                        continue
                    record = self.store.put("submission", submission, {**record, "batch_id": found,
                                                                       "status": "submitted"})
                state = provider.state(record["batch_id"])
                if not state.ended:
                    counts["open"] += 1
                    continue
                got = set()
                for item in provider.results(record["batch_id"]):
                    got.add(item.custom_id)
                    counts[self._store_item(item, record["batch_id"])] += 1
                for cid in set(record["custom_ids"]) - got:  # no line at all: retried like an expired item
                    counts[self._store_item(ItemResult(cid, "retry", error=f"no result in batch "
                                                       f"{record['batch_id']} ({state.status})"),
                                            record["batch_id"])] += 1
                self.store.put("submission", submission, {**record, "status": "collected",
                                                          "ended_status": state.status, "counts": state.counts})
                counts["collected"] += 1
            finally:
                provider.close()
        return counts

    def _store_item(self, item: ItemResult, batch_id: str) -> str:
        earlier = self.result(item.custom_id) or {}
        attempts = int(earlier.get("attempts", 0)) + 1
        entry: dict[str, Any] = {"batch_id": batch_id, "attempts": attempts, "outcome": item.outcome,
                                 "error": item.error}
        if item.completion is not None:
            c = item.completion
            entry["completion"] = {"text": c.text, "input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
                                   "reasoning_tokens": c.reasoning_tokens, "extra": c.extra}
            if c.tool_calls:
                entry["completion"]["tool_calls"] = c.tool_calls
        if item.outcome == "succeeded" or earlier.get("outcome") != "succeeded":
            self.store.put("result", item.custom_id, entry)
        return "retry" if item.outcome == "retry" else "results"

    def states(self) -> list[dict[str, Any]]:
        """Each submission with the provider's current state of its batch (for ``tos batch status``)."""
        rows = []
        for submission, record in sorted(self.submissions().items()):
            row = {"submission": submission, "batch_id": record.get("batch_id"), "provider": record["provider"],
                   "requests": len(record.get("custom_ids", ())), "status": record.get("status")}
            if record.get("status") == "submitted" and record.get("batch_id"):
                provider = self._providers(record["model_key"])
                try:
                    state = provider.state(record["batch_id"])
                finally:
                    provider.close()
                row.update(status=state.status, counts=state.counts)
            elif record.get("counts"):
                row.update(status=record.get("ended_status", record["status"]), counts=record["counts"])
            rows.append(row)
        return rows


def _chunks(provider: Any, requests: list[tuple[str, dict[str, Any]]]) -> Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    size = 0
    for cid, body in requests:
        line = provider.line(cid, body)
        if chunk and (len(chunk) >= provider.max_requests or size + len(line) > provider.max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append((cid, line))
        size += len(line)
    if chunk:
        yield chunk


# ==== The agent of a batched phase ====


class BatchedAnswers:
    """Answers questions and probes of a model from its batch results, queueing the requests without one.

    The pipeline asks it like any agent: a stored result is returned as the model's reply (cost at the
    batch price); a missing one is queued in the :class:`BatchBook` and :class:`BatchPending` is raised.

    Args:
        model: the model agent (a :class:`~theory_of_space.agents.model_agent.ModelAgent`); its client
            builds the provider request exactly as an interactive call would.
        book: the run folder's batches.
    """

    def __init__(self, model: Any, book: BatchBook) -> None:
        self.model = model
        self.name = model.name
        self.config: ModelConfig = model.config
        self.book = book

    def act(self, messages: Sequence[Message]) -> AgentReply:
        config = self.config
        visible = trim_history(messages, turns=config.history_turns, images=config.history_images)
        body = self.model.client.build_request(visible)
        cid = custom_id(config, body)
        stored = self.book.result(cid)
        if stored is not None:
            outcome = stored.get("outcome")
            if outcome == "succeeded" and isinstance(stored.get("completion"), dict):
                return _reply(config, stored, cid)
            if outcome == "failed" or int(stored.get("attempts", 0)) >= BATCH_ATTEMPTS:
                extra = {"batch_id": stored.get("batch_id"), "custom_id": cid}
                error = stored.get("error") or "batch item failed"
                return AgentReply("", CallRecord(model=config.model, retries=int(stored.get("attempts", 1)) - 1,
                                                 error=error, extra=extra))
        self.book.queue(config, cid, body)
        raise BatchPending(cid)

    def close(self) -> None:
        """The model agent is closed by its owner."""


def _reply(config: ModelConfig, stored: dict[str, Any], cid: str) -> AgentReply:
    completion = stored["completion"]
    tokens_in, tokens_out = int(completion["input_tokens"]), int(completion["output_tokens"])
    extra = {**completion.get("extra", {}), "batch_id": stored.get("batch_id"), "custom_id": cid}
    calls = completion.get("tool_calls") or []
    if calls:
        extra["tool_calls"] = calls  # as an interactive reply keeps them
    record = CallRecord(
        model=config.model,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        reasoning_tokens=completion.get("reasoning_tokens"),
        retries=int(stored.get("attempts", 1)) - 1,
        cost_usd=config.cost_usd(tokens_in, tokens_out, batch=True),
        extra=extra,
    )
    return AgentReply(str(completion["text"]), record, tool_calls=tuple(calls))


def batch_answers(root: Path, roles: dict[str, Any], meter: Any) -> BatchBook:
    """Give every model of a run its batched answerer (questions and probes); exploration stays interactive.

    Raises:
        BatchError: a model whose provider has no batch API here.
    """
    from theory_of_space.runner.roles import MeteredAgent

    book = BatchBook(root)
    for spec, role in roles.items():
        if not role.is_model:
            continue
        model = getattr(role.model, "agent", role.model)
        config = getattr(model, "config", None)
        if not isinstance(config, ModelConfig) or not hasattr(model, "client"):
            raise BatchError(f"agent {spec!r}: --batch needs a model agent with a provider client")
        check_batch_provider(config)
        book.configs[model_key(config)] = config
        role.answers = MeteredAgent(BatchedAnswers(model, book), meter)
    return book
