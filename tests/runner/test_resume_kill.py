"""A real ``tos run`` process killed with SIGKILL mid-run resumes to the results of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARGS = ["run", "--agent", "strategist,inertial", "--scenes", "0:4", "--setting", "active,passive",
        "--phases", "explore,probe,evaluate,false_belief", "--quiet", "--no-report"]


def _tos(out: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "theory_of_space.cli", *ARGS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _stored(root: Path) -> dict[str, dict[str, dict]]:
    records = {}
    for path in sorted(root.rglob("*.jsonl")):
        if path.name.endswith(".corrupt.jsonl"):
            continue
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        records[str(path.relative_to(root))] = {r["key"]: r for r in lines}
    return records


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    process = _tos(killed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(killed.rglob("evaluate.jsonl"))) < 2:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    finished = len(list(killed.rglob("evaluation_turn_logs.json")))
    assert finished < 16, "the run ended before it was killed; nothing was interrupted"

    resumed = _tos(killed)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "16/16 episodes complete" in out

    whole = _tos(tmp_path / "whole")
    out, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    assert _stored(killed) == _stored(tmp_path / "whole")
