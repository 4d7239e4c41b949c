"""The run store: keyed appends, compaction, cut lines, the folder lock, the recorded configuration."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_of_space.runner.store import EpisodeStore, RunFolderError, RunStore, write_atomic

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["key", "reply", "x"]),
                                                                                inner, max_size=3), max_leaves=6)


def test_results_are_appended_by_key_and_the_last_one_wins(tmp_path):
    store = EpisodeStore(tmp_path)
    store.put("evaluate", "evaluate/dir/dir_0", {"reply": "a"})
    store.put("evaluate", "evaluate/dir/dir_1", {"reply": "b"})
    store.put("evaluate", "evaluate/dir/dir_0", {"reply": "c"})
    assert len(store.path("evaluate").read_text().splitlines()) == 3
    fresh = EpisodeStore(tmp_path)
    assert fresh.get("evaluate", "evaluate/dir/dir_0")["reply"] == "c"
    fresh.compact("evaluate")
    lines = [json.loads(line) for line in store.path("evaluate").read_text().splitlines()]
    assert [(r["key"], r["reply"]) for r in lines] == [("evaluate/dir/dir_0", "c"), ("evaluate/dir/dir_1", "b")]


def test_storing_cost_is_linear_in_what_arrives(tmp_path):
    store = EpisodeStore(tmp_path)
    sizes = []
    for i in range(50):
        store.put("probe", f"probe/t{i:02d}/global", {"reply": "x" * 1000})
        sizes.append(store.path("probe").stat().st_size)
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    assert max(steps) < 1100  # each result adds its own line; nothing is rewritten


def test_a_line_cut_by_a_kill_is_reported_kept_aside_and_the_next_append_starts_a_new_line(tmp_path):
    store = EpisodeStore(tmp_path)
    store.put("explore", "explore/t01", {"reply": "ok"})
    with open(store.path("explore"), "ab") as handle:
        handle.write(b'{"key": "explore/t02", "rep')
    reopened = EpisodeStore(tmp_path)
    assert list(reopened.results("explore")) == ["explore/t01"]
    assert [(e.path, e.line) for e in reopened.corrupt] == [(store.path("explore"), 2)]
    reopened.put("explore", "explore/t02", {"reply": "again"})
    assert sorted(EpisodeStore(tmp_path).results("explore")) == ["explore/t01", "explore/t02"]
    assert (tmp_path / "explore.corrupt.jsonl").read_text() == '{"key": "explore/t02", "rep\n'


def test_a_second_process_is_told_the_folder_is_in_use(tmp_path):
    with RunStore(tmp_path / "run", {"a": 1}, "0.1.0"):
        script = (
            "import sys; from pathlib import Path; from theory_of_space.runner.store import RunStore, RunFolderError\n"
            f"try:\n    RunStore(Path({str(tmp_path / 'run')!r}), {{'a': 1}}, '0.1.0').open()\n"
            "except RunFolderError as e:\n    print(e); sys.exit(7)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 7, done.stderr
        assert "is in use by process" in done.stdout
    with RunStore(tmp_path / "run", {"a": 1}, "0.1.0"):  # released on close
        pass


def test_another_configuration_is_refused_naming_each_difference(tmp_path):
    with RunStore(tmp_path, {"think": True, "tasks": ["dir"]}, "0.1.0"):
        pass
    with pytest.raises(RunFolderError) as caught:
        RunStore(tmp_path, {"think": False, "tasks": ["dir"], "rooms": 4}, "0.1.0").open()
    message = str(caught.value)
    assert "think: stored True, now False" in message and "rooms: not set in the stored run, now 4" in message
    assert "tasks" not in message
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["config"] == {"think": True, "tasks": ["dir"]} and record["package_version"] == "0.1.0"


def test_a_scene_folder_that_now_holds_another_scene_is_refused(tmp_path):
    with RunStore(tmp_path, {}, "0.1.0") as store:
        store.register_scenes({"seed0000-aaaaaaaa": "aaaaaaaa00000000"})
    with RunStore(tmp_path, {}, "0.1.0") as store, pytest.raises(RunFolderError, match="seed0000-aaaaaaaa"):
        store.register_scenes({"seed0000-aaaaaaaa": "bbbbbbbb00000000"})


def test_concurrent_atomic_writes_never_share_a_temporary_file(tmp_path):
    target = tmp_path / "out.json"
    payloads = [json.dumps({"writer": i, "data": "x" * 20000}).encode() for i in range(8)]
    threads = [threading.Thread(target=lambda p=p: [write_atomic(target, p) for _ in range(20)]) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(st.one_of(st.binary(max_size=60), st.builds(lambda v: json.dumps(v).encode(), JSON)),
                        max_size=6))
def test_any_bytes_in_a_stored_file_never_raise_and_never_lose_good_results(tmp_path_factory, garbage):
    folder = tmp_path_factory.mktemp("fuzz")
    store = EpisodeStore(folder)
    store.put("evaluate", "evaluate/dir/dir_0", {"reply": "kept"})
    with open(store.path("evaluate"), "ab") as handle:
        for chunk in garbage:
            handle.write(chunk.replace(b"\n", b" ") + b"\n")
    expected = {"evaluate/dir/dir_0": {"key": "evaluate/dir/dir_0", "reply": "kept"}}
    for chunk in garbage:
        try:
            value = json.loads(chunk.replace(b"\n", b" "))
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("key"), str):
            expected[value["key"]] = value
    reopened = EpisodeStore(folder)
    assert reopened.results("evaluate") == expected
    reopened.put("evaluate", "evaluate/dir/dir_1", {"reply": "new"})
    assert EpisodeStore(folder).get("evaluate", "evaluate/dir/dir_1")["reply"] == "new"
