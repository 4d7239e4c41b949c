"""Answer parsing for the task scorers: total functions, never raising.

Every parser takes arbitrary model text and returns what it could read plus, when it could not, the
reason. The scorers in :mod:`theory_of_space.tasks.scoring` turn that into a :class:`Score`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from theory_of_space.env.actions import InvalidTurn, JumpTo, Rotate, parse_actions, split_reply
from theory_of_space.world.labels import LabelKind, resolve_label
from theory_of_space.world.scene import normalise_name

_WRAPPERS = "`*\"'"
_TRAILING = ".!;:,"
_PART_SEPARATORS = re.compile(r"[,;\n]")
_NUMBER = r"[-+−]?\s*(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_COORDINATE = re.compile(rf"[(\[]\s*({_NUMBER})\s*[,;]\s*({_NUMBER})\s*[)\]]")
# A pair written without brackets (`2, -5`): digits or a point must not touch either end.
_BARE_COORDINATE = re.compile(rf"(?<![\w.])({_NUMBER})\s*,\s*({_NUMBER})(?![\w.])")
_ENCLOSED = re.compile(r"^\((.*)\)$|^\[(.*)\]$", re.DOTALL)
_LIST_SEPARATORS = re.compile(r"\s*(?:,|;|\n|->|→|=>)\s*")
_ENUMERATOR = re.compile(r"^\s*(?:\d+\s*[.)]|[-•*])\s+")
_MOVE_NAME = re.compile(r"\b(jumpto|rotate)\s*\(", re.IGNORECASE)
_ROTATE_ARG = re.compile(r"Rotate\(([^()]*)\)")


def extract_answer(reply: str) -> str:
    """The answer part of a reply: after the last ``FINAL ANSWER:`` (as for exploration turns), trimmed."""
    return split_reply(reply)[1].strip()


def clean(text: str) -> str:
    """Strip whitespace, markdown emphasis, quotes and trailing punctuation around an answer."""
    text = text.strip().strip(_WRAPPERS).strip()
    return text.rstrip(_TRAILING).strip().strip(_WRAPPERS).strip()


@dataclass(frozen=True)
class DirectionDistance:
    """An answer read as (direction, distance); a part is ``None`` when it names no label."""

    direction: str | None
    distance: str | None
    swapped: bool = False
    """Whether the answer gave the distance first."""


def parse_direction_distance(answer: str, direction_kind: LabelKind) -> list[DirectionDistance]:
    """Every reading of ``<direction>, <distance>`` in the answer.

    The two parts are separated by a comma, a semicolon, a newline or whitespace; both orders are
    tried. The scorer keeps the reading that scores best, so the list holds every candidate split.
    Brackets around the whole answer are dropped (``(south east, near)``), and of three or more parts
    only the first two are read (``front-left, near, facing forward``), as the published scorer does.

    Args:
        answer: the extracted answer text.
        direction_kind: ``"ego"`` or ``"cardinal"``, the label set of the direction part.
    """
    text = clean(answer)
    if (enclosed := _ENCLOSED.match(text)) is not None:
        text = clean(enclosed.group(1) if enclosed.group(1) is not None else enclosed.group(2))
    pieces = [clean(p) for p in _PART_SEPARATORS.split(text) if clean(p)]
    splits: list[tuple[str, str]] = []
    if len(pieces) >= 2:
        splits.append((pieces[0], pieces[1]))
    elif len(pieces) == 1:
        words = pieces[0].split()
        splits.extend((" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words)))
    readings = []
    for first, second in splits:
        readings.append(DirectionDistance(resolve_label(first, direction_kind), resolve_label(second, "distance")))
        readings.append(
            DirectionDistance(resolve_label(second, direction_kind), resolve_label(first, "distance"), swapped=True)
        )
    return readings


@dataclass(frozen=True)
class Coordinates:
    """The ``(x, y)`` pairs read from an answer, or the reason none could be used."""

    points: tuple[tuple[float, float], ...]
    problem: str | None = None


def parse_coordinates(answer: str) -> Coordinates:
    """Read every ``(x, y)`` (or ``[x, y]``) pair in order; non-finite numbers make the answer unusable.

    An answer with no bracketed pair is read for bare pairs ``x, y`` instead (``2, -5``; several
    separated by ``;``), which the published scorer also accepts.
    """
    text = answer.replace("−", "-")
    matches = list(_COORDINATE.finditer(text)) or list(_BARE_COORDINATE.finditer(text))
    points = []
    for match in matches:
        try:
            x, y = (float(re.sub(r"\s+", "", value)) for value in match.groups())
        except ValueError:
            return Coordinates((), f"unreadable number in {match.group(0)!r}")
        if not (math.isfinite(x) and math.isfinite(y)):
            return Coordinates((), f"impossible coordinates {match.group(0)!r}")
        points.append((x, y))
    if not points:
        return Coordinates((), "no coordinates of the form (x, y) found")
    return Coordinates(tuple(points))


def parse_name_list(answer: str) -> list[str]:
    """A list of item names separated by commas, semicolons, newlines or arrows, normalised.

    Enumerators (``1.``, ``-``) and quotes around names are dropped; names are lower-cased with
    underscores read as spaces, as item names are matched everywhere else.
    """
    names = []
    for part in _LIST_SEPARATORS.split(clean(answer)):
        part = clean(_ENUMERATOR.sub("", part))
        if part:
            names.append(normalise_name(part))
    return names


@dataclass(frozen=True)
class MoveSequence:
    """The move actions of a view→action answer, or the reason the answer is not one."""

    moves: tuple[JumpTo | Rotate, ...]
    problem: str | None = None


def parse_moves(answer: str) -> MoveSequence:
    """Read ``JumpTo(x)`` / ``Rotate(d)`` tokens, case-insensitively, for view → action answers.

    The tokens go through the exploration grammar (:func:`parse_actions`) as the motions of one
    turn, so names and angles follow exactly the rules of exploration. Any other action token, or a
    malformed one, makes the whole answer unusable.
    """
    text = clean(answer)
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        text = text[start + 1 : end]
    text = _MOVE_NAME.sub(lambda m: "JumpTo(" if m.group(1).lower() == "jumpto" else "Rotate(", text)
    text = _ROTATE_ARG.sub(lambda m: "Rotate(" + re.sub(r"[\s°+]|deg(?:rees)?", "", m.group(1)) + ")", text)
    if not re.search(r"[A-Za-z]+\([^()]*\)", text):
        return MoveSequence((), "no move actions found")
    # The motions must be followed by a final action to form a turn; the Observe() we add is dropped again.
    turn = parse_actions(f"[{text}, Observe()]", query_enabled=False)
    if isinstance(turn, InvalidTurn):
        return MoveSequence((), f"not a sequence of move actions: {turn.detail}")
    moves = tuple(a for a in turn.actions[:-1] if isinstance(a, (JumpTo, Rotate)))
    return MoveSequence(moves)
