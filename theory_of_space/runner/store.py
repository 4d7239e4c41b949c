"""Resumable storage of a run: append-only, keyed request results under a locked run folder.

A run folder holds ``run.json`` (the configuration that shapes results, the package version and the
scene ids) and one folder per episode, ``{model}/{scene}/{text|vision}/{active|passive}/{think|nothink}
[/{proxy}]``. In an episode folder every request result is one JSON line of ``{phase}.jsonl``, keyed by
``phase/turn/kind`` or ``phase/task/question`` and appended the moment it arrives, so storing costs
time linear in what arrives and ``kill -9`` loses at most the requests in flight. :meth:`EpisodeStore.compact`
rewrites a phase file once the phase is done (one line per key, last one wins).

Whole files (``run.json``, ``scene.json``, pictures, compacted phases) are written to a unique
temporary name and renamed over the target, so a reader never sees half a file and two writers
never share a temporary name. A lock on the run folder (``fcntl.flock``, released by the kernel
when the process dies) keeps a second process out instead of letting it send every request twice.

Bad stored data is never trusted: a line that is not a JSON object with a ``key`` (a line cut by a
kill, or a file edited by hand) is reported with its file and line number and its request is made
again; the bad lines are kept aside in ``{phase}.corrupt.jsonl``, never over good results.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STORE_VERSION = 1
RUN_FILE = "run.json"
LOCK_FILE = ".lock"
CORRUPT_SUFFIX = ".corrupt.jsonl"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: in use, made with another configuration, or unreadable."""


@dataclass(frozen=True)
class CorruptEntry:
    """A stored line or file that could not be read; its request is made again."""

    path: Path
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.reason}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file in the same folder, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`write_atomic`), on one line: an indented dump goes through
    Python's slow pure-Python encoder, which made writing the episode files cost a third of a run."""
    write_atomic(path, json.dumps(data).encode())


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 HxWx3 picture as PNG atomically."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())


def config_differences(stored: Any, current: Any, prefix: str = "") -> list[str]:
    """Human-readable differences between two JSON values, one line per differing leaf."""
    if isinstance(stored, dict) and isinstance(current, dict):
        lines = []
        for key in sorted(set(stored) | set(current)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored:
                lines.append(f"{name}: not set in the stored run, now {current[key]!r}")
            elif key not in current:
                lines.append(f"{name}: stored {stored[key]!r}, now not set")
            else:
                lines.extend(config_differences(stored[key], current[key], name))
        return lines
    return [] if stored == current else [f"{prefix}: stored {stored!r}, now {current!r}"]


class RunStore:
    """A locked run folder: its record of configuration and scenes, and its episode stores.

    Args:
        root: the run folder (created if missing).
        config: what shapes the results (never a key); a rerun with another one is refused.
        package_version: recorded beside the configuration.

    Example:
        >>> with RunStore(Path("runs/demo"), {"max_exp_steps": 20}, "0.1.0") as store:  # doctest: +SKIP
        ...     episode = store.episode(("scout", "seed0000-1a2b3c4d", "text", "active", "think"))
    """

    def __init__(self, root: Path, config: Mapping[str, Any], package_version: str) -> None:
        self.root = Path(root)
        self.config = json.loads(json.dumps(dict(config)))
        self.package_version = package_version
        self._lock_handle: Any = None
        self._scenes: dict[str, str] = {}
        self._episodes: dict[Path, EpisodeStore] = {}
        self._guard = threading.Lock()

    def __enter__(self) -> RunStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Lock the folder and check (or record) its configuration.

        Raises:
            RunFolderError: another process holds the folder, or it was made with another configuration.
        """
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderError(
                f"{self.root} is in use by {holder}; wait for it to finish or use another --out folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        self._lock_handle = handle
        try:
            self._check_record()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the lock; a second call does nothing."""
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _check_record(self) -> None:
        path = self.root / RUN_FILE
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
                stored_config = stored["config"]
                self._scenes = dict(stored.get("scenes", {}))
            except (ValueError, KeyError, TypeError) as error:
                raise RunFolderError(f"{path}: unreadable run record ({error}); move it away to start over") from None
            differences = config_differences(stored_config, self.config)
            if differences:
                raise RunFolderError(
                    f"{self.root} holds a run made with another configuration:\n  "
                    + "\n  ".join(differences)
                    + "\nuse another --out folder, or the stored configuration"
                )
        self._write_record()

    def _write_record(self) -> None:
        write_json(
            self.root / RUN_FILE,
            {
                "version": STORE_VERSION,
                "package_version": self.package_version,
                "config": self.config,
                "scenes": dict(sorted(self._scenes.items())),
            },
        )

    def register_scenes(self, scenes: Mapping[str, str]) -> None:
        """Record scene folder names and their ids; a folder name that now means another scene is refused.

        Raises:
            RunFolderError: a stored scene folder holds another scene than the one generated now.
        """
        changed = [f"{name}: stored {self._scenes[name]}, now {sid}" for name, sid in scenes.items()
                   if name in self._scenes and self._scenes[name] != sid]
        if changed:
            raise RunFolderError(
                f"{self.root}: scenes differ from the stored run (another package version?):\n  " + "\n  ".join(changed)
            )
        if any(name not in self._scenes for name in scenes):
            self._scenes.update(scenes)
            self._write_record()

    def episode(self, parts: tuple[str, ...]) -> EpisodeStore:
        """The store of one episode folder, ``root/part/part/...``; one object per folder."""
        folder = self.root.joinpath(*parts)
        with self._guard:
            if folder not in self._episodes:
                self._episodes[folder] = EpisodeStore(folder)
            return self._episodes[folder]


@dataclass
class EpisodeStore:
    """The keyed results of one episode folder, one append-only JSONL file per phase."""

    folder: Path
    readonly: bool = False
    """Read without repairing (for dry runs and reports, which may read a folder a run is writing)."""
    corrupt: list[CorruptEntry] = field(default_factory=list)
    """Bad lines met while loading; their requests count as missing."""
    _phases: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _lines: dict[str, int] = field(default_factory=dict)
    """Lines in each phase file, to know whether compaction has anything to drop."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self, phase: str) -> Path:
        return self.folder / f"{phase}.jsonl"

    def results(self, phase: str) -> dict[str, dict[str, Any]]:
        """The stored results of ``phase`` by key (a copy); bad lines are reported in :attr:`corrupt`."""
        with self._lock:
            return dict(self._load(phase))

    def get(self, phase: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._load(phase).get(key)

    def _load(self, phase: str) -> dict[str, dict[str, Any]]:
        if phase in self._phases:
            return self._phases[phase]
        records: dict[str, dict[str, Any]] = {}
        path = self.path(phase)
        bad: list[str] = []
        lines_read = 0
        if path.is_file():
            raw = path.read_bytes()
            lines = raw.split(b"\n")
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                lines_read += 1
                reason = None
                try:
                    record = json.loads(line)
                except ValueError as error:
                    reason = f"not JSON ({error.__class__.__name__}: {error})"
                else:
                    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
                        reason = "not a JSON object with a string `key`"
                if reason is not None:
                    self.corrupt.append(CorruptEntry(path, number, reason))
                    bad.append(line.decode(errors="replace"))
                    continue
                records[record["key"]] = record
            if raw and not raw.endswith(b"\n") and not self.readonly:
                # a line cut by a kill: the next append must start on a line of its own
                with open(path, "ab") as handle:
                    handle.write(b"\n")
        if bad and not self.readonly:
            with open(self.folder / f"{phase}{CORRUPT_SUFFIX}", "a") as handle:
                handle.writelines(line + "\n" for line in bad)
            # keep only the good lines, so the bad ones are reported once and never read again
            write_atomic(path, b"".join(json.dumps(r).encode() + b"\n" for r in records.values()))
            lines_read = len(records)
        self._phases[phase] = records
        self._lines[phase] = lines_read
        return records

    def put(self, phase: str, key: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append one result under ``key`` (a later result for the same key replaces the earlier one)."""
        entry = {"key": key, **{k: v for k, v in record.items() if k != "key"}}
        line = (json.dumps(entry) + "\n").encode()
        with self._lock:
            self._load(phase)
            self.folder.mkdir(parents=True, exist_ok=True)
            # one write call per line: with O_APPEND it lands whole or, if killed mid-way, as a cut line
            fd = os.open(self.path(phase), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self._phases[phase][key] = entry
            self._lines[phase] += 1
        return entry

    def compact(self, phase: str) -> None:
        """Rewrite the phase file with one line per key (the last result of each), when it has more lines."""
        with self._lock:
            records = self._load(phase)
            if records and self._lines[phase] > len(records):
                write_atomic(self.path(phase), b"".join(json.dumps(r).encode() + b"\n" for r in records.values()))
                self._lines[phase] = len(records)

    def drop(self, phase: str, keys: list[str]) -> None:
        """Remove results (turns of an earlier attempt past the end of the episode that replaced it)."""
        with self._lock:
            records = self._load(phase)
            for key in keys:
                records.pop(key, None)
            write_atomic(self.path(phase), b"".join(json.dumps(r).encode() + b"\n" for r in records.values()))
            self._lines[phase] = len(records)

    def failed(self, phase: str) -> list[str]:
        """Keys of the stored results that record a failed call."""
        return [key for key, record in self.results(phase).items() if record.get("error")]

    def iter_phases(self) -> Iterator[str]:
        """The phases with a results file in this folder."""
        for path in sorted(self.folder.glob("*.jsonl")):
            if not path.name.endswith(CORRUPT_SUFFIX):
                yield path.name[: -len(".jsonl")]
