"""The watchdog behind the whole-request deadline: callbacks fire at their deadline, cancelled ones never, and
the entries of answers that arrived in time do not pile up."""

from __future__ import annotations

import threading
import time

import pytest

from theory_of_space.agents.clients.deadline import _Watchdog, deadline_http_client, http_library


def test_a_callback_fires_at_its_deadline_and_a_cancelled_one_never() -> None:
    watchdog = _Watchdog()
    fired: list[str] = []
    done = threading.Event()
    cancelled = watchdog.at(time.monotonic() + 0.01, lambda: fired.append("cancelled"))
    watchdog.cancel(cancelled)
    watchdog.at(time.monotonic() + 0.05, lambda: (fired.append("due"), done.set()))
    assert done.wait(10)
    assert fired == ["due"] and len(watchdog) == 0


def test_cancelled_entries_do_not_pile_up() -> None:
    watchdog = _Watchdog()
    in_flight = [watchdog.at(time.monotonic() + 600, lambda: None) for _ in range(8)]
    for _ in range(10_000):
        watchdog.cancel(watchdog.at(time.monotonic() + 600, lambda: None))
    assert len(watchdog) <= 2 * len(in_flight)
    for entry in in_flight:
        watchdog.cancel(entry)
        watchdog.cancel(entry)  # a second cancel does nothing
    assert len(watchdog) <= 1


@pytest.mark.parametrize("sdk_name", ["openai", "anthropic"])
def test_the_client_is_the_sdks_own_on_its_http_library(sdk_name: str) -> None:
    sdk = pytest.importorskip(sdk_name)
    client = deadline_http_client(sdk, 5.0)
    try:
        assert isinstance(client, sdk.DefaultHttpxClient)
        assert isinstance(client, http_library(sdk).Client)
    finally:
        client.close()
