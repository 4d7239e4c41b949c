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

The module imports ``httpx2`` (the SDKs' HTTP library): the clients import it only when they are built.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import httpx2

__all__ = ["DeadlineTransport", "deadline_http_client"]

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


class DeadlineTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport that bounds every request, body included, by ``total_s`` seconds.

    Args:
        inner: The transport that does the work (an ``httpx2.HTTPTransport``).
        total_s: Seconds from the start of a request to the last byte of its answer.
    """

    def __init__(self, inner: httpx2.BaseTransport, total_s: float) -> None:
        self._inner = inner
        self._total_s = total_s

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
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
        response.stream = _DeadlineBody(response.stream, request, deadline, self._total_s, handle)
        return response

    def close(self) -> None:
        self._inner.close()


class _DeadlineBody(httpx2.SyncByteStream):
    """The answer's byte stream, failing with a read timeout once the request's deadline has passed."""

    def __init__(
        self, inner: Any, request: httpx2.Request, deadline: float, total_s: float, handle: list[Any] | None
    ) -> None:
        self._inner = inner
        self._request = request
        self._deadline = deadline
        self._total_s = total_s
        self._handle = handle

    def _expired(self) -> httpx2.ReadTimeout:
        return httpx2.ReadTimeout(
            f"the answer did not arrive in full within timeout_s={self._total_s:g} s", request=self._request
        )

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                if time.monotonic() >= self._deadline:
                    raise self._expired()
                yield chunk
        except httpx2.TransportError as error:
            # The watchdog shut the socket: the read saw a closed connection, but the cause is the deadline.
            if time.monotonic() >= self._deadline and not isinstance(error, httpx2.TimeoutException):
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


def deadline_http_client(sdk: ModuleType, total_s: float) -> Any:
    """An HTTP client for an SDK (``openai`` or ``anthropic``) whose requests end within ``total_s`` seconds.

    It is the SDK's own default client (its redirects and pool limits) on a :class:`DeadlineTransport`.
    """
    limits = httpx2.Limits(**_SDK_LIMITS)
    transport = DeadlineTransport(httpx2.HTTPTransport(limits=limits), total_s)
    return sdk.DefaultHttpxClient(transport=transport, timeout=total_s, limits=limits)
