"""A response cache on disk, keyed by the full request.

The key is a SHA-256 of the request as the provider would receive it (model, messages with their image
bytes, every setting), plus the provider and server. A repeated or resumed run replays the calls that
finished, at no cost and exactly, and an offline re-run needs no network. Only successful calls are
stored; a failed call is tried again next time.

Each entry is one small JSON file, ``ROOT/ab/abcdef....json``, written atomically: a run killed mid-write
leaves no half entry. Entries hold the reply and its call record, never the request's credentials (the
request body carries none: keys travel in HTTP headers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from theory_of_space.agents.base import CallRecord

__all__ = ["CACHE_VERSION", "ResponseCache", "request_key"]

CACHE_VERSION = 1
"""Bumped when the key or entry layout changes; older entries then miss instead of misleading."""

_logger = logging.getLogger(__name__)
_RECORD_FIELDS = {f.name for f in fields(CallRecord)}


def request_key(request: dict[str, Any]) -> str:
    """Hex SHA-256 of a request's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps({"cache_version": CACHE_VERSION, "request": request}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedReply:
    """A stored reply and the record of the call that produced it."""

    text: str
    record: CallRecord


class ResponseCache:
    """Replies stored under a folder, one JSON file per request key.

    Args:
        root: The cache folder (created on first write).

    Example:
        >>> cache = ResponseCache("runs/cache")  # doctest: +SKIP
        >>> hit = cache.get(request_key(body))  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        """The stored reply for ``key``, or ``None``; an unreadable entry counts as a miss (and is logged)."""
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            _logger.warning("ignoring unreadable response cache entry %s: %s", path, error)
            return None
        if data.get("version") != CACHE_VERSION or data.get("key") != key:
            return None
        record = CallRecord(**{k: v for k, v in data["record"].items() if k in _RECORD_FIELDS})
        return CachedReply(data["text"], record)

    def put(self, key: str, text: str, record: CallRecord) -> None:
        """Store a reply atomically (write a temporary file, then rename it into place)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(
            {"version": CACHE_VERSION, "key": key, "text": text, "record": record.to_dict()},
            ensure_ascii=False,
            indent=1,
        )
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        """Number of stored entries."""
        return sum(1 for _ in self.root.glob("??/*.json")) if self.root.is_dir() else 0
