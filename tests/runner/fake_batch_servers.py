"""A loopback server for the OpenAI and Anthropic APIs, interactive and batch, driven through the real SDKs.

It answers ``/v1/chat/completions`` and ``/v1/messages`` as a model that observes, turns twice and stops,
and serves the batch endpoints of both providers: OpenAI Files (multipart upload, content download) and
Batches (create, retrieve, list), Anthropic Message Batches (create, retrieve, results as JSONL). Every
reply is a pure function of the request body, so a batch and an interactive call of the same request
get the same reply and the same token counts.

A batch ends when it is retrieved after ``hold`` is cleared; ``item_outcome(custom_id, attempt)`` decides
each item's fate: ``ok``, ``error`` (a server error, retryable), ``invalid`` (a 400, final), ``expired`` or
``malformed`` (a success whose reply is not whole: no choices for OpenAI, no content and no stop reason for
Anthropic).
"""

from __future__ import annotations

import email.parser
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from theory_of_space.probes.writers import probe_kind_of
from theory_of_space.tasks.prompts import QUESTION_HEADING

ItemOutcome = Callable[[str, int], str]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


def scripted_reply(body: dict[str, Any]) -> str:
    """The reply to a request: a map for a probe, an answer for a question, else the next exploration turn."""
    messages = body.get("messages", [])
    last = _text(messages[-1]["content"]) if messages else ""
    if probe_kind_of(last) is not None:
        return 'THINK: a map.\nFINAL ANSWER: {"agent": {"position": [0, 0], "facing": "north"}}'
    if QUESTION_HEADING in last:
        return f"THINK: a guess.\nFINAL ANSWER: ({len(last) % 3}, 0)"
    turn = sum(m.get("role") == "assistant" for m in messages)
    actions = "Term()" if turn >= 3 else "Rotate(90), Observe()"
    return f"THINK: look around.\nFINAL ANSWER: Actions: [{actions}]"


def words(body: dict[str, Any]) -> int:
    """Input tokens of a request: whitespace-separated words of its text."""
    count = len(str(body.get("system", "")).split())
    return count + sum(len(_text(m.get("content")).split()) for m in body.get("messages", []))


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    text = scripted_reply(body)
    usage = {"prompt_tokens": words(body), "completion_tokens": len(text.split())}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {**usage, "total_tokens": sum(usage.values())}}


def anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    text = scripted_reply(body)
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model", ""),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": words(body), "output_tokens": len(text.split())}}


@dataclass
class FakeBatch:
    provider: str
    batch_id: str
    requests: list[tuple[str, dict[str, Any]]]
    input_file_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    ended: bool = False
    status: str = "in_progress"
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class FakeBatchServer:
    """Both providers' interactive and batch endpoints on ``127.0.0.1``, port chosen by the OS.

    Attributes:
        hold: while true, batches stay in progress.
        item_outcome: decides each batch item's fate from its ``custom_id`` and attempt (1, 2, ...).
        batches: every batch created, by id.
        chat_requests: interactive requests answered.
        in_flight / peak_in_flight: interactive requests being answered now / at most.
    """

    def __init__(self, *, item_outcome: ItemOutcome | None = None, latency_s: float = 0.0) -> None:
        self.hold = False
        self.item_outcome = item_outcome or (lambda cid, attempt: "ok")
        self.latency_s = latency_s
        self.batches: dict[str, FakeBatch] = {}
        self.files: dict[str, bytes] = {}
        self.attempts: dict[str, int] = {}
        self.chat_requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self), bind_and_activate=False)
        self._httpd.request_queue_size = 1024
        self._httpd.server_bind()
        self._httpd.server_activate()
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.root_url}/v1"

    def __enter__(self) -> FakeBatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{len(self.batches) + len(self.files) + 1:04d}"

    def _finish(self, batch: FakeBatch) -> None:
        """End a batch: every item gets its outcome (expired items end the batch as expired)."""
        if batch.ended or self.hold:
            return
        expired = False
        for cid, body in batch.requests:
            with self._lock:
                self.attempts[cid] = attempt = self.attempts.get(cid, 0) + 1
            outcome = self.item_outcome(cid, attempt)
            if outcome == "expired":
                expired = True
                if batch.provider == "anthropic":
                    batch.results.append({"custom_id": cid, "result": {"type": "expired"}})
                else:
                    batch.errors.append({"id": "r", "custom_id": cid, "response": None,
                                         "error": {"code": "batch_expired", "message": "not done in 24h"}})
            elif outcome in ("error", "invalid"):
                status = 500 if outcome == "error" else 400
                if batch.provider == "anthropic":
                    kind = "api_error" if outcome == "error" else "invalid_request_error"
                    error = {"type": "error", "error": {"type": kind, "message": f"scripted {outcome}"}}
                    batch.results.append({"custom_id": cid, "result": {"type": "errored", "error": error}})
                else:
                    error_body = {"error": {"message": f"scripted {outcome}", "type": "scripted", "code": None}}
                    batch.errors.append({"id": "r", "custom_id": cid, "error": None,
                                         "response": {"status_code": status, "request_id": "q", "body": error_body}})
            elif batch.provider == "anthropic":
                message = anthropic_message(body)
                if outcome == "malformed":
                    message = {**message, "content": [], "stop_reason": None}
                batch.results.append({"custom_id": cid, "result": {"type": "succeeded", "message": message}})
            else:
                completion = chat_completion(body)
                if outcome == "malformed":
                    completion = {**completion, "choices": []}
                batch.results.append({"id": "r", "custom_id": cid, "error": None,
                                      "response": {"status_code": 200, "request_id": "q", "body": completion}})
        batch.ended = True
        batch.status = "expired" if expired else ("ended" if batch.provider == "anthropic" else "completed")

    def openai_batch(self, batch: FakeBatch) -> dict[str, Any]:
        self._finish(batch)
        output = error = None
        if batch.ended:
            output, error = f"{batch.batch_id}-out", f"{batch.batch_id}-err"
            self.files[output] = "".join(json.dumps(r) + "\n" for r in batch.results).encode()
            self.files[error] = "".join(json.dumps(r) + "\n" for r in batch.errors).encode()
        done = len(batch.results) if batch.ended else 0
        failed = len(batch.errors) if batch.ended else 0
        return {"id": batch.batch_id, "object": "batch", "endpoint": "/v1/chat/completions",
                "input_file_id": batch.input_file_id, "completion_window": "24h", "status": batch.status,
                "created_at": 0, "output_file_id": output, "error_file_id": error, "metadata": batch.metadata,
                "request_counts": {"total": len(batch.requests), "completed": done, "failed": failed}}

    def anthropic_batch(self, batch: FakeBatch) -> dict[str, Any]:
        self._finish(batch)
        counts = {"processing": 0 if batch.ended else len(batch.requests), "succeeded": 0, "errored": 0,
                  "canceled": 0, "expired": 0}
        for item in batch.results:
            kind = item["result"]["type"]
            counts[kind] = counts.get(kind, 0) + 1
        ended = "2026-01-01T00:00:00Z" if batch.ended else None
        return {"id": batch.batch_id, "type": "message_batch",
                "processing_status": "ended" if batch.ended else "in_progress", "request_counts": counts,
                "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z", "ended_at": ended,
                "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"{self.root_url}/v1/messages/batches/{batch.batch_id}/results" if ended else None}


def _handler(server: FakeBatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request log lines."""

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length", 0)))

        def do_POST(self) -> None:
            raw = self._body()
            path = self.path.split("?")[0]
            if path in ("/v1/chat/completions", "/v1/messages"):
                with server._lock:
                    server.chat_requests += 1
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    if server.latency_s:
                        time.sleep(server.latency_s)
                    body = json.loads(raw)
                    self._send(200, chat_completion(body) if path.endswith("completions") else anthropic_message(body))
                finally:
                    with server._lock:
                        server.in_flight -= 1
            elif path == "/v1/files":
                message = email.parser.BytesParser().parsebytes(
                    f"content-type: {self.headers['content-type']}\r\n\r\n".encode() + raw)
                data = next(p.get_payload(decode=True) for p in message.get_payload()
                            if p.get_param("name", header="content-disposition") == "file")
                file_id = server._new_id("file")
                server.files[file_id] = data
                self._send(200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0,
                                 "filename": "batch.jsonl", "purpose": "batch", "status": "processed"})
            elif path == "/v1/batches":
                body = json.loads(raw)
                lines = [json.loads(line) for line in server.files[body["input_file_id"]].splitlines() if line]
                batch = FakeBatch("openai", server._new_id("batch"), [(x["custom_id"], x["body"]) for x in lines],
                                  body["input_file_id"], body.get("metadata") or {})
                server.batches[batch.batch_id] = batch
                self._send(200, server.openai_batch(batch))
            elif path == "/v1/messages/batches":
                body = json.loads(raw)
                batch = FakeBatch("anthropic", server._new_id("msgbatch"),
                                  [(r["custom_id"], r["params"]) for r in body["requests"]])
                server.batches[batch.batch_id] = batch
                self._send(200, server.anthropic_batch(batch))
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            parts = path.strip("/").split("/")
            if path == "/v1/batches":
                data = [server.openai_batch(b) for b in server.batches.values() if b.provider == "openai"]
                self._send(200, {"object": "list", "data": data, "has_more": False})
            elif parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in server.batches:
                self._send(200, server.openai_batch(server.batches[parts[2]]))
            elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[2] in server.files:
                self._send(200, server.files[parts[2]], "application/octet-stream")
            elif parts[:3] == ["v1", "messages", "batches"] and len(parts) >= 4 and parts[3] in server.batches:
                batch = server.batches[parts[3]]
                if len(parts) == 5 and parts[4] == "results":
                    data = "".join(json.dumps(r) + "\n" for r in batch.results).encode()
                    self._send(200, data, "application/binary")
                else:
                    self._send(200, server.anthropic_batch(batch))
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

    return Handler
