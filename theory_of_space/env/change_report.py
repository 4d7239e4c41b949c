"""The change report of the false-belief phase and its identification scores.

The phase ends with ``Term(changes="obj: type, ...")``. The report is read leniently, never raising:
entries are split on commas; an entry without ``:`` is ignored; the type is matched by keyword
(``position``, ``location``, ``moved``, ``pos`` for a move; ``orientation``, ``rotation``, ``rotated``,
``ori``, ``facing`` for a rotation), and a type with keywords of neither kind or of both kinds is
ignored; names match case-insensitively with ``_`` read as a space; duplicates merge. Names that are
not objects of the scene stay in the report (they count as wrong answers) and are listed.

Identification is scored by F1 over object names, separately for moved objects (``pos``) and rotated
objects (``ori``), and overall over (name, type) labels. A per-type F1 whose ground-truth set is empty
is undefined (``None``), not 0. An empty report, or a phase that ran out of budget, scores 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.world.perturb import ChangeType, SceneChange
from theory_of_space.world.scene import normalise_name

POSITION_KEYWORDS = frozenset({"position", "location", "moved", "pos"})
ORIENTATION_KEYWORDS = frozenset({"orientation", "rotation", "rotated", "ori", "facing"})
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class ChangeReport:
    """What an agent reported: (name, type) labels, and what was ignored or unknown."""

    labels: frozenset[tuple[str, ChangeType]] = frozenset()
    ignored: tuple[str, ...] = ()
    """Entries without ``:`` or with an unrecognised type, verbatim."""
    unknown_objects: tuple[str, ...] = ()
    """Reported names that are not objects of the scene (normalised)."""

    def names(self, kind: ChangeType) -> frozenset[str]:
        return frozenset(name for name, label in self.labels if label == kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": [list(label) for label in sorted(self.labels)],
            "ignored": list(self.ignored),
            "unknown_objects": list(self.unknown_objects),
        }


def change_type(text: str) -> ChangeType | None:
    """The change type a keyword names, or None when the text names neither kind or both."""
    words = set(_WORD.findall(text.lower()))
    position, orientation = bool(words & POSITION_KEYWORDS), bool(words & ORIENTATION_KEYWORDS)
    if position == orientation:
        return None
    return "position" if position else "orientation"


def parse_change_report(text: str | None, object_names: Iterable[str] = ()) -> ChangeReport:
    """Read the ``changes`` text of ``Term(changes="...")``; never raises.

    Args:
        text: the text between the quotes (None for no report).
        object_names: the scene's object names; reported names outside it are listed as unknown.
    """
    if not text:
        return ChangeReport()
    known = {normalise_name(name) for name in object_names}
    labels: set[tuple[str, ChangeType]] = set()
    ignored: list[str] = []
    unknown: list[str] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, colon, kind_text = entry.partition(":")
        kind = change_type(kind_text) if colon else None
        name = normalise_name(name.strip().strip("\"'"))
        if kind is None or not name:
            ignored.append(entry)
            continue
        labels.add((name, kind))
        if known and name not in known and name not in unknown:
            unknown.append(name)
    return ChangeReport(labels=frozenset(labels), ignored=tuple(ignored), unknown_objects=tuple(unknown))


@dataclass(frozen=True)
class Identification:
    """Identification scores of one false-belief phase; ``None`` marks an undefined F1."""

    f1_pos: float | None
    f1_ori: float | None
    f1_overall: float
    truncated: bool = False
    report: ChangeReport = field(default_factory=ChangeReport)

    def to_dict(self) -> dict[str, Any]:
        return {
            "f1_pos": self.f1_pos,
            "f1_ori": self.f1_ori,
            "f1_overall": self.f1_overall,
            "truncated": self.truncated,
            "report": self.report.to_dict(),
        }


def f1_score(predicted: Iterable[Any], truth: Iterable[Any]) -> float | None:
    """F1 between two sets; None when ``truth`` is empty (undefined), 0 when nothing is predicted."""
    predicted, truth = set(predicted), set(truth)
    if not truth:
        return None
    hits = len(predicted & truth)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(predicted), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


def identification_scores(report: ChangeReport, changes: Sequence[SceneChange], *, truncated: bool) -> Identification:
    """Score a change report against the true changes.

    Args:
        report: the parsed report (see :func:`parse_change_report`).
        changes: the true changes.
        truncated: whether the phase ran out of budget without a report; every defined F1 is then 0.
    """
    truth: set[tuple[str, ChangeType]] = {(normalise_name(c.name), c.type_label) for c in changes}
    moved = {name for name, kind in truth if kind == "position"}
    rotated = {name for name, kind in truth if kind == "orientation"}
    if truncated:
        empty: frozenset[str] = frozenset()
        return Identification(
            f1_pos=f1_score(empty, moved),
            f1_ori=f1_score(empty, rotated),
            f1_overall=0.0,
            truncated=True,
            report=report,
        )
    return Identification(
        f1_pos=f1_score(report.names("position"), moved),
        f1_ori=f1_score(report.names("orientation"), rotated),
        f1_overall=f1_score(report.labels, truth) or 0.0,
        report=report,
    )
