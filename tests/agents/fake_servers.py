"""A local HTTP server that speaks the OpenAI Chat Completions and Anthropic Messages wire formats.

Tests point the real SDK clients at it (``base_url=server.url``): nothing reaches the internet. The server
plays a script: each request pops the next :class:`Step` (a reply, an error status, a delay or a fault of
the wire: a reset connection, a truncated or trickled body), or, once the script is empty, answers with
``default``. Every request body and header is kept for assertions, and the peak number of requests in flight
(from a request's arrival until its answer starts to go out) is tracked to check concurrency limits.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Retries in tests wait microseconds, not seconds.
FAST_RETRIES = {"backoff_initial_s": 0.001, "backoff_max_s": 0.002}


@dataclass(frozen=True)
class Step:
    """One scripted answer.

    Attributes:
        text: The assistant reply text (for a successful answer).
        status: HTTP status; 200 answers with ``text``, anything else with a provider-shaped error body.
        delay_s: Seconds to wait before answering (longer than the client timeout to provoke a timeout).
        reasoning_tokens: Reported in the usage block (OpenAI) when not None.
        thinking: A thinking block placed before the text (Anthropic).
        headers: Extra response headers (e.g. ``retry-after``).
        error_message: Message of the error body; ``{authorization}`` is replaced by the request's
            credential header, to test that callers scrub keys a server echoes back.
        answer: A whole answer body sent as is with status 200 (provider-specific fields, or a malformed
            answer), instead of one built from ``text``; for both wire formats.
        truncate_at: Send only this many bytes of the body (with a matching ``content-length``), as a proxy
            that cut the answer short would.
        reset: Close the connection with a TCP reset instead of answering.
        trickle_s: Send the body one byte at a time, this many seconds apart.
        tool_calls: Tool calls after the text, each ``{"name", "arguments"}`` (OpenAI ``tool_calls`` with
            JSON-text arguments; Anthropic ``tool_use`` blocks, streamed as ``input_json_delta``).
    """

    text: str = "FINAL ANSWER: Actions: [Observe()]"
    status: int = 200
    delay_s: float = 0.0
    reasoning_tokens: int | None = None
    thinking: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = "scripted error"
    answer: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    truncate_at: int | None = None
    reset: bool = False
    trickle_s: float = 0.0


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def count_tokens(body: dict[str, Any]) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words of every text part."""
    words = 0
    system = body.get("system")
    if isinstance(system, str):
        words += len(system.split())
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            words += len(content.split())
            continue
        for part in content or []:
            if part.get("type") == "text":
                words += len(part["text"].split())
    return words


class FakeModelServer:
    """A scripted OpenAI/Anthropic-compatible server on ``127.0.0.1``, port chosen by the OS.

    Args:
        script: Answers given in order, one per request.
        default: The answer once the script is used up.
        latency_s: A fixed delay added to every request.
        responder: When given, decides every answer from the request body instead of the script.

    Example:
        >>> with FakeModelServer([Step(status=429), Step(text="hi")]) as server:  # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=server.url, api_key="x")
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        default: Step | None = None,
        latency_s: float = 0.0,
        responder: Callable[[dict[str, Any]], Step] | None = None,
    ) -> None:
        self._script: deque[Step] = deque(script)
        self.default = default or Step()
        self.latency_s = latency_s
        self.responder = responder
        self.received: list[Received] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        # Set on close: handlers waiting out a scripted delay or trickling a body stop early.
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self), bind_and_activate=False)
        # The default listen backlog of 5 drops connections when dozens of clients connect at once.
        self._httpd.request_queue_size = 1024
        self._httpd.server_bind()
        self._httpd.server_activate()
        self._httpd.daemon_threads = True
        # A short poll interval keeps shutdown() quick (it waits for the serving loop to notice).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-model-server", daemon=True
        )
        self._closed = False

    @property
    def url(self) -> str:
        """Base URL for the SDKs (``/v1`` appended, as vLLM serves it)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def root_url(self) -> str:
        """Base URL without the ``/v1`` prefix (the Anthropic SDK appends ``/v1/messages`` itself)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(self, *steps: Step) -> None:
        """Append answers to the script."""
        with self._lock:
            self._script.extend(steps)

    def _next_step(self, body: dict[str, Any]) -> Step:
        if self.responder is not None:
            return self.responder(body)
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _enter(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _make_handler(server: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as real servers do; every answer carries Content-Length.
        protocol_version = "HTTP/1.1"
        # Without TCP_NODELAY, Nagle's algorithm can meet the client's delayed ACK and hold an answer ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request log lines on stderr."""

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            server._enter(received)
            self._counted = True
            try:
                step = server._next_step(body)
                delay = server.latency_s + step.delay_s
                if delay and server.stopping.wait(delay):
                    return
                if step.reset:
                    self._reset()
                    return
                if self.path.endswith("/chat/completions"):
                    self._answer_openai(step, received)
                elif self.path.endswith("/messages"):
                    self._answer_anthropic(step, received)
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}}, {})
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (its timeout fired) while we were sleeping.
                pass
            finally:
                self._answered()

        def _answered(self) -> None:
            # A request stops counting as in flight when its answer starts to go out: the client may read it,
            # free its slot and send the next request before this thread runs again, and counting until after
            # the write would then see one request too many.
            if self._counted:
                self._counted = False
                server._leave()

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def _send(
            self, status: int, content_type: str, data: bytes, headers: dict[str, str], step: Step | None = None
        ) -> None:
            if step is not None and step.truncate_at is not None:
                data = data[: step.truncate_at]
            reason = self.responses.get(status, ("Error",))[0]
            lines = [f"HTTP/1.1 {status} {reason}", f"content-type: {content_type}", f"content-length: {len(data)}"]
            lines += [f"{key}: {value}" for key, value in headers.items()]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self._answered()
            if step is not None and step.trickle_s:
                self.wfile.write(head)
                for index in range(len(data)):
                    if server.stopping.wait(step.trickle_s):
                        return
                    self.wfile.write(data[index : index + 1])
                return
            # One write per answer, as production servers manage: a client woken once per response
            # spends less time handing the GIL around than one woken for headers and again for the body.
            self.wfile.write(head + data)

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            self._send(status, "application/json", json.dumps(payload).encode(), headers)

        def _error_text(self, step: Step, received: Received) -> str:
            credential = received.headers.get("authorization") or received.headers.get("x-api-key", "")
            return step.error_message.replace("{authorization}", credential)

        def _answer_openai(self, step: Step, received: Received) -> None:
            if step.status != 200:
                error = {"message": self._error_text(step, received), "type": "scripted", "code": step.status}
                self._send_json(step.status, {"error": error}, step.headers)
                return
            if step.answer is not None:
                self._send(200, "application/json", step.answer.encode(), step.headers, step)
                return
            prompt_tokens = count_tokens(received.body)
            completion_tokens = len(step.text.split())
            usage: dict[str, Any] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            if step.reasoning_tokens is not None:
                usage["completion_tokens_details"] = {"reasoning_tokens": step.reasoning_tokens}
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": received.body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": step.text, **_openai_calls(step)},
                        "finish_reason": "tool_calls" if step.tool_calls else "stop",
                    }
                ],
                "usage": usage,
            }
            self._send(200, "application/json", json.dumps(payload).encode(), step.headers, step)

        def _anthropic_content(self, step: Step) -> list[dict[str, Any]]:
            content: list[dict[str, Any]] = []
            if step.thinking is not None:
                content.append({"type": "thinking", "thinking": step.thinking, "signature": "sig"})
            content.append({"type": "text", "text": step.text})
            for index, call in enumerate(step.tool_calls):
                content.append(
                    {"type": "tool_use", "id": f"toolu_{index}", "name": call["name"], "input": call["arguments"]}
                )
            return content

        def _answer_anthropic(self, step: Step, received: Received) -> None:
            if step.status != 200:
                error = {"type": "scripted_error", "message": self._error_text(step, received)}
                self._send_json(step.status, {"type": "error", "error": error}, step.headers)
                return
            if step.answer is not None:
                content_type = "text/event-stream" if received.body.get("stream") else "application/json"
                self._send(200, content_type, step.answer.encode(), step.headers, step)
                return
            usage = {"input_tokens": count_tokens(received.body), "output_tokens": len(step.text.split())}
            message = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": received.body.get("model", ""),
                "content": self._anthropic_content(step),
                "stop_reason": "tool_use" if step.tool_calls else "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
            if received.body.get("stream"):
                self._stream_anthropic(message, step)
            else:
                self._send(200, "application/json", json.dumps(message).encode(), step.headers, step)

        def _stream_anthropic(self, message: dict[str, Any], step: Step) -> None:
            start = dict(message, content=[], stop_reason=None, usage={**message["usage"], "output_tokens": 0})
            events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start})]
            for index, block in enumerate(message["content"]):
                kind = block["type"]
                if kind == "tool_use":
                    start = {**block, "input": {}}
                    events.append(("content_block_start", {"index": index, "content_block": start}))
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                    events.append(("content_block_delta", {"index": index, "delta": delta}))
                    events.append(("content_block_stop", {"index": index}))
                    continue
                empty = {"type": kind, kind: ""} if kind == "text" else {"type": kind, kind: "", "signature": ""}
                events.append(("content_block_start", {"index": index, "content_block": empty}))
                text = block[kind]
                # Two deltas per block, to exercise the SDK's accumulation.
                half = len(text) // 2
                for piece in (text[:half], text[half:]):
                    delta = {"type": f"{kind}_delta", kind: piece}
                    events.append(("content_block_delta", {"index": index, "delta": delta}))
                if kind == "thinking":
                    signature = {"type": "signature_delta", "signature": block["signature"]}
                    events.append(("content_block_delta", {"index": index, "delta": signature}))
                events.append(("content_block_stop", {"index": index}))
            delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
            events.append(("message_delta", {"delta": delta, "usage": message["usage"]}))
            events.append(("message_stop", {}))
            data = b"".join(
                f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode() for name, payload in events
            )
            self._send(200, "text/event-stream", data, step.headers, step)

    return Handler


def _openai_calls(step: Step) -> dict[str, Any]:
    """The ``tool_calls`` field of a Chat Completions message, when the step has calls."""
    if not step.tool_calls:
        return {}
    calls = [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
        }
        for index, call in enumerate(step.tool_calls)
    ]
    return {"tool_calls": calls}
