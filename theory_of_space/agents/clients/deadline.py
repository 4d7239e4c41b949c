"""One deadline for a whole HTTP exchange: connecting, the first byte and the full body.

The SDKs' HTTP layer applies its timeout per operation (connecting, each write, each read), so a server that
sends one byte every few seconds never trips it, however long the body takes: a run stalls for ever. The
:class:`DeadlineTransport` gives each request one deadline, ``total_s`` after it starts:

- the request's connect, pool, write and read timeouts are cut to the time left, so the connection and the
  first byte of the answer come by the deadline or fail;
- while the rest of the answer streams in, a watchdog thread shuts the connection's socket down at the
  deadline, which ends a read blocked on a trickling server at once; the read then fails as a read timeout
  that names the deadline, which the clients retry like any other timeout.

The watchdog reaches the socket through the response's ``network_stream`` extension (HTTP/1.1, which is
what the SDKs speak); header bytes are bounded per read only, and the HTTP parser caps their size.

The SDKs are built on ``httpx`` (older releases) or its successor ``httpx2``, which share one API; the
transport uses whichever the SDK's own client comes from (:func:`http_library`).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import importlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

__all__ = ["DeadlineTransport", "deadline_http_client", "http_library"]

_SDK_LIMITS = {"max_connections": 1000, "max_keepalive_connections": 100}
"""The connection pool limits both SDKs use by default; a client of our own would otherwise get httpx's smaller
pool (100 connections, 20 kept alive) and open connections again and again under many episodes."""


class _Watchdog:
    """One daemon thread that runs callbacks at their deadlines; a cancelled entry is skipped.

    Nearly every entry is cancelled (the answer arrived in time) long before its deadline, so cancelled
    entries are dropped in bulk once they make up half the heap, which keeps it as small as the requests in
    flight; and the thread is woken only when a new entry is due before the one it waits for.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._cancelled = 0
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def at(self, deadline: float, callback: Callable[[], None]) -> list[Any]:
        """Run ``callback`` at ``deadline`` (``time.monotonic`` seconds); returns a handle for :meth:`cancel`."""
        entry: list[Any] = [callback]
        with self._wake:
            first = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tos-http-deadlines", daemon=True)
                self._thread.start()
            if first:
                self._wake.notify()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        """Skip an entry's callback (a second call does nothing)."""
        with self._wake:
            if entry[0] is None:
                return
            entry[0] = None
            self._cancelled += 1
            if self._cancelled * 2 > len(self._heap):
                self._heap = [item for item in self._heap if item[2][0] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def __len__(self) -> int:
        """Entries held, cancelled ones not yet dropped included."""
        with self._wake:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, _, entry = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0 and entry[0] is not None:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                callback = entry[0]
                if callback is None:
                    self._cancelled -= 1
                else:
                    entry[0] = None
            if callback is not None:
                with contextlib.suppress(OSError):  # the connection was already closed
                    callback()


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket) -> Callable[[], None]:
    def fire() -> None:
        sock.shutdown(socket.SHUT_RDWR)

    return fire


class DeadlineTransport:
    """An ``httpx``/``httpx2`` transport that bounds every request, body included, by ``total_s`` seconds.

    Args:
        inner: The transport that does the work (an ``HTTPTransport`` of ``http``).
        total_s: Seconds from the start of a request to the last byte of its answer.
        http: The HTTP library (``httpx`` or ``httpx2``) of ``inner`` and of the client it serves.
    """

    def __init__(self, inner: Any, total_s: float, *, http: ModuleType) -> None:
        self._inner = inner
        self._total_s = total_s
        self._http = http

    def handle_request(self, request: Any) -> Any:
        deadline = time.monotonic() + self._total_s
        timeouts = dict(request.extensions.get("timeout") or {})
        left = max(deadline - time.monotonic(), 1e-3)
        request.extensions["timeout"] = {
            name: left if timeouts.get(name) is None else min(timeouts[name], left)
            for name in ("connect", "read", "write", "pool")
        }
        response = self._inner.handle_request(request)
        network = response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        handle = _WATCHDOG.at(deadline, _shutdown(sock)) if sock is not None else None
        body = _body_class(self._http)
        response.stream = body(response.stream, request, deadline, self._total_s, handle, self._http)
        return response

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> DeadlineTransport:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)


class _DeadlineBody:
    """The answer's byte stream, failing with a read timeout once the request's deadline has passed.

    The client checks that a stream is a ``SyncByteStream`` of its own library, so the class used is this
    one combined with that base (:func:`_body_class`).
    """

    def __init__(
        self, inner: Any, request: Any, deadline: float, total_s: float, handle: list[Any] | None, http: ModuleType
    ) -> None:
        self._inner = inner
        self._request = request
        self._deadline = deadline
        self._total_s = total_s
        self._handle = handle
        self._http = http

    def _expired(self) -> Exception:
        return self._http.ReadTimeout(
            f"the answer did not arrive in full within timeout_s={self._total_s:g} s", request=self._request
        )

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                if time.monotonic() >= self._deadline:
                    raise self._expired()
                yield chunk
        except self._http.TransportError as error:
            # The watchdog shut the socket: the read saw a closed connection, but the cause is the deadline.
            if time.monotonic() >= self._deadline and not isinstance(error, self._http.TimeoutException):
                raise self._expired() from error
            raise
        finally:
            self._release()

    def _release(self) -> None:
        if self._handle is not None:
            _WATCHDOG.cancel(self._handle)
            self._handle = None

    def close(self) -> None:
        self._release()
        self._inner.close()


@functools.cache
def _body_class(http: ModuleType) -> type[_DeadlineBody]:
    return type("DeadlineBody", (_DeadlineBody, http.SyncByteStream), {})


def http_library(sdk: ModuleType) -> ModuleType:
    """The HTTP library (``httpx`` or ``httpx2``) that an SDK's default client is built on."""
    for cls in sdk.DefaultHttpxClient.__mro__:
        root = cls.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise TypeError(f"{sdk.__name__}.DefaultHttpxClient is built on neither httpx nor httpx2")


def deadline_http_client(sdk: ModuleType, total_s: float) -> Any:
    """An HTTP client for an SDK (``openai`` or ``anthropic``) whose requests end within ``total_s`` seconds.

    It is the SDK's own default client (its redirects and pool limits) on a :class:`DeadlineTransport`.
    """
    http = http_library(sdk)
    limits = http.Limits(**_SDK_LIMITS)
    transport = DeadlineTransport(http.HTTPTransport(limits=limits), total_s, http=http)
    return sdk.DefaultHttpxClient(transport=transport, timeout=total_s, limits=limits)
