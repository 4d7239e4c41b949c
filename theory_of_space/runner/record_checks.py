"""Checks for stored evaluation records, so that a damaged or hand-edited file fails on load with the file and
the field named (``tasks.dir.dir_0.score.value``) instead of a ``KeyError`` or a ``TypeError`` deep in
re-scoring."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

__all__ = ["EvaluationRecordError", "relative_file", "score_value", "stored_field", "string_map"]


class EvaluationRecordError(ValueError):
    """A stored evaluation record that is malformed; the message names the file (when loaded from one) and
    the field."""


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "an object"}


def stored_field(
    data: Any,
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    *,
    optional: bool = False,
    default: Any = None,
    nullable: bool = False,
) -> Any:
    """``data[key]``, checked to be of ``kind``; a missing key gives ``default`` when ``optional``, and ``None``
    is accepted when ``nullable``.

    Raises:
        EvaluationRecordError: ``data`` is not an object, the key is missing, or the value is of another kind.
    """
    path = f"{where}.{key}" if where else key
    if not isinstance(data, dict):
        raise EvaluationRecordError(f"expected an object for `{where or 'the record'}`, got {type(data).__name__}")
    if key not in data:
        if optional:
            return default
        raise EvaluationRecordError(f"missing field `{path}`")
    value = data[key]
    if value is None and nullable:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wrong_bool = bool not in kinds and isinstance(value, bool)
    if not isinstance(value, kinds) or wrong_bool:
        expected = " or ".join(_KINDS.get(k, "a list") for k in kinds)
        raise EvaluationRecordError(f"expected {expected} for `{path}`, got {value!r:.80}")
    return value


def string_map(value: Any, where: str) -> dict[str, str]:
    """An object whose values are all strings (task id → reason)."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise EvaluationRecordError(f"expected an object of strings for `{where}`, got {value!r:.80}")
    return dict(value)


def score_value(value: Any, where: str) -> float:
    """A score: a finite number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 <= value <= 1):
        raise EvaluationRecordError(f"expected a number in [0, 1] for `{where}`, got {value!r:.80}")
    return float(value)


def relative_file(value: Any, where: str) -> str:
    """A picture's file name relative to the record's folder; never absolute, never reaching outside it."""
    path = PurePosixPath(value) if isinstance(value, str) and value else None
    if path is None or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise EvaluationRecordError(f"expected a file path inside the record's folder for `{where}`, got {value!r:.80}")
    return value
