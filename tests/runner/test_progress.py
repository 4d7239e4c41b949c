"""Progress: plain lines when the output is not a terminal, a tqdm bar when it is, nothing when quiet."""

from __future__ import annotations

import io

from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.runner.progress import Progress
from theory_of_space.runner.roles import Meter


def _meter() -> Meter:
    meter = Meter()
    meter.start()
    meter.finish(AgentReply("x", CallRecord(model="m", input_tokens=90, output_tokens=10, cost_usd=0.25)))
    meter.start()
    meter.finish(AgentReply("", CallRecord(model="m", error="HTTP 500")))
    meter.start()  # one still in flight
    return meter


def test_plain_lines_carry_the_counters():
    stream = io.StringIO()
    progress = Progress(stream, live=False, interval=0.01)
    progress.start(4, _meter())
    progress.episode_done()
    progress.close()
    last = stream.getvalue().strip().splitlines()[-1]
    assert last.startswith("[tos run] 1/4 episodes, 1 in flight, 2 requests, 1 failed, 100 tokens, $0.2500")
    assert "\x1b[" not in stream.getvalue()


def test_a_live_bar_is_drawn_by_tqdm():
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    progress.start(2, _meter())
    progress.episode_done()
    progress.close()
    progress.close()
    text = stream.getvalue()
    assert "1/2" in text and "failed 1" in text and "$0.2500" in text
