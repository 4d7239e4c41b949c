"""The run's progress: a live tqdm bar on a terminal, plain periodic lines otherwise, nothing with ``--quiet``.

Shown: episodes done / total, requests in flight, failed requests, tokens and dollars so far, and
(tqdm's) elapsed time and ETA.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from theory_of_space.runner.roles import Meter

PLAIN_INTERVAL_S = 10.0
"""Seconds between two plain progress lines when the output is not a terminal."""


class Progress:
    """Progress display for :func:`~theory_of_space.runner.pipeline.run_experiment`.

    Args:
        stream: where to write (default standard error).
        live: a live bar (default: when ``stream`` is a terminal); otherwise a line every ``interval`` s.
        interval: seconds between plain lines.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 interval: float = PLAIN_INTERVAL_S) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.total = 0
        self.done = 0
        self.meter: Meter | None = None
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def start(self, total: int, meter: Meter) -> None:
        self.total, self.meter, self._started = total, meter, time.monotonic()
        if self.live:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="episode", file=self.stream, dynamic_ncols=True)
            self._thread = threading.Thread(target=self._tick, args=(0.5, self._refresh), daemon=True)
        else:
            self._thread = threading.Thread(target=self._tick, args=(self.interval, self._line), daemon=True)
        self._thread.start()

    def status(self) -> str:
        """The counters as one line (without the bar)."""
        m = self.meter or Meter()
        return (f"{self.done}/{self.total} episodes, {m.in_flight} in flight, {m.requests} requests, "
                f"{m.failures} failed, {m.input_tokens + m.output_tokens} tokens, ${m.cost_usd:.4f}")

    def _postfix(self) -> str:
        m = self.meter or Meter()
        return f"in flight {m.in_flight}, failed {m.failures}, tokens {m.input_tokens + m.output_tokens}, " \
               f"${m.cost_usd:.4f}"

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(), refresh=True)

    def _line(self) -> None:
        elapsed = time.monotonic() - self._started
        eta = ""
        if 0 < self.done < self.total:
            eta = f", ETA {elapsed / self.done * (self.total - self.done):.0f} s"
        print(f"[tos run] {self.status()}, {elapsed:.0f} s elapsed{eta}", file=self.stream, flush=True)

    def _tick(self, every: float, show: Any) -> None:
        while not self._stop.wait(every):
            show()

    def episode_done(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            self._refresh()

    def close(self) -> None:
        """Stop the display (a final line in plain mode); a second call does nothing."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._bar is not None:
            self._refresh()
            self._bar.close()
            self._bar = None
        else:
            self._line()
