"""The answer-kind scorers shared by the task families: pure functions → :class:`Score`.

Each takes the extracted answer text and the ground truth and returns a record with the value in
[0, 1], the answer and the reason. Nothing a model writes can make them raise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

from theory_of_space.tasks.base import Score
from theory_of_space.tasks.parsing import parse_coordinates, parse_direction_distance, parse_name_list
from theory_of_space.world.geometry import cardinal_of_offset
from theory_of_space.world.labels import LabelKind


def _empty(answer: str) -> Score | None:
    if not answer.strip():
        return Score(0.0, answer, "empty answer")
    return None


def _verdict(part: str, read: str | None, expected: str) -> str:
    return f"{part} {read or 'unreadable'} ({'right' if read == expected else f'expected {expected}'})"


def score_direction_distance(answer: str, direction: str, dist: str, kind: LabelKind) -> Score:
    """0.5·[direction matches] + 0.5·[distance matches], the better of both orders.

    Args:
        answer: the extracted answer, e.g. ``"south east, mid distance"``.
        direction: the ground-truth direction label.
        dist: the ground-truth distance label.
        kind: ``"ego"`` or ``"cardinal"``, the label set of the direction.
    """
    if (empty := _empty(answer)) is not None:
        return empty
    readings = parse_direction_distance(answer, kind)
    if not readings:
        return Score(0.0, answer, "expected `<direction>, <distance>`: found no two-part answer")
    best = max(readings, key=lambda r: (r.direction == direction) + (r.distance == dist) - 0.1 * r.swapped)
    value = 0.5 * (best.direction == direction) + 0.5 * (best.distance == dist)
    parts = [_verdict("direction", best.direction, direction), _verdict("distance", best.distance, dist)]
    if best.swapped:
        parts.append("parts given in the other order")
    return Score(value, answer, "; ".join(parts))


def score_order(answer: str, order: Sequence[str]) -> Score:
    """1 when the comma-separated names equal ``order`` exactly (case and spacing ignored), else 0."""
    if (empty := _empty(answer)) is not None:
        return empty
    names = parse_name_list(answer)
    expected = [parse_name_list(name)[0] for name in order]
    if names == expected:
        return Score(1.0, answer, "exact order")
    if sorted(names) == sorted(expected):
        return Score(0.0, answer, f"right objects in the wrong order; expected {', '.join(expected)}")
    return Score(0.0, answer, f"read {names}; expected {', '.join(expected)}")


def score_location(answer: str, truth: tuple[int, int]) -> Score:
    """exp(−‖pred − gt‖ / ‖gt‖); with gt = (0, 0), 1 for the exact answer and 0 otherwise.

    When the answer holds several coordinates the first one is scored, as the published scorer does.
    """
    if (empty := _empty(answer)) is not None:
        return empty
    parsed = parse_coordinates(answer)
    if parsed.problem is not None:
        return Score(0.0, answer, parsed.problem)
    (x, y), norm = parsed.points[0], math.hypot(*truth)
    error = math.hypot(x - truth[0], y - truth[1])
    # gt = (0, 0) has no scale: only the exact answer counts
    value = math.exp(-error / norm) if norm > 0 else float(error == 0)
    extra = f" (first of {len(parsed.points)} coordinates)" if len(parsed.points) > 1 else ""
    return Score(value, answer, f"read ({x:g}, {y:g}){extra}; truth ({truth[0]}, {truth[1]}); error {error:.3g}")


def _pair_bins(points: Sequence[tuple[float, float]]) -> list[str]:
    # A zero offset has bearing 0, hence `north` (the published rule). `+ 0.0` turns a -0.0 (from an
    # answer's "-0") into 0.0, whose bearing would otherwise come out as 180 (atan2 of signed zeros).
    return [cardinal_of_offset((b[0] - a[0] + 0.0, b[1] - a[1] + 0.0)) for a, b in combinations(points, 2)]


def allocentric_similarity(predicted: Sequence[tuple[float, float]], truth: Sequence[tuple[int, int]]) -> float:
    """(pos_sim + dir_sim) / 2 for k predicted and k true coordinates (``alloc``).

    pos_sim = exp(−RMSE / L), L the RMS norm of the true coordinates (coverage is 1: all k are
    given); dir_sim = the fraction of pairs over the k objects plus the origin whose north-up 8-way
    cardinal bins agree; two points on one cell (a zero offset) are `north` of each other.
    """
    k = len(truth)
    # squared with `*`, not `**`: float ** 2 raises OverflowError for huge answers, `*` gives inf
    errors = [math.hypot(p[0] - t[0], p[1] - t[1]) for p, t in zip(predicted, truth)]
    rmse = math.sqrt(sum(e * e for e in errors) / k)
    scale = math.sqrt(sum(t[0] * t[0] + t[1] * t[1] for t in truth) / k)
    pos_sim = math.exp(-rmse / scale) if scale > 0 else float(rmse == 0)
    predicted_bins = _pair_bins([(0.0, 0.0), *predicted])
    true_bins = _pair_bins([(0, 0), *truth])
    dir_sim = sum(p == t for p, t in zip(predicted_bins, true_bins)) / len(true_bins)
    return (pos_sim + dir_sim) / 2


def score_allocentric(answer: str, truth: Sequence[tuple[int, int]]) -> Score:
    """Exactly k coordinates ``(x0, y0); (x1, y1); …`` scored by :func:`allocentric_similarity`."""
    if (empty := _empty(answer)) is not None:
        return empty
    parsed = parse_coordinates(answer)
    if parsed.problem is not None:
        return Score(0.0, answer, parsed.problem)
    if len(parsed.points) != len(truth):
        return Score(0.0, answer, f"expected exactly {len(truth)} coordinates, found {len(parsed.points)}")
    value = min(1.0, max(0.0, allocentric_similarity(parsed.points, truth)))
    return Score(value, answer, f"read {list(parsed.points)}; truth {[tuple(t) for t in truth]}")
