"""The six probe diagnostics, per turn and per episode, from a :class:`~theory_of_space.probes.requests.ProbeRecord`.

Everything is read from the record (snapshots and stored replies), so a sweep re-scores offline after a
scoring option changes. Definitions (L is the scene's scale, :func:`~theory_of_space.probes.cogmap.cogmap_scale`):

- **Correctness**: the last turn's global map against the full truth (every object and door, and the
  agent at its final pose); ``correctness_scope="observed"`` keeps only the observed items and the agent.
- **Perception**: each local map against the true local map of the items newly observed at that turn
  (``perception_scope="visible"``: of every visible item); turns without such items are skipped.
- **Local ↔ Global**: the turn's global map, re-expressed in the frame of its own ``agent`` entry, against
  the turn's local map on their common names (an empty local map scores 1, no common name 0); a global map
  without ``agent`` leaves the turn out.
- **Stability**: over consecutive turns, position keeps or lowers its error for items whose candidate count
  changed by at most 1; facing: becoming right scores 1, becoming wrong 0, otherwise 1 if unchanged.
- **Self-tracking**: the ``agent`` entry against the true pose: pos = exp(−distance / L) (0 when absent),
  facing = exact match.
- **Uncertainty**: F1 of the fog replies.

Global maps keep only observed items, doors and the agent; local maps keep only the items in view. A reply
with no JSON is an invalid map: left out (``invalid_maps="skip"``, default) or scored as an empty map
(``"empty"``). Failed requests are always left out and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from theory_of_space.probes.cogmap import (
    AGENT,
    MapEntry,
    compare_cogmaps,
    global_in_agent_frame,
    in_agent_frame,
    parse_cogmap,
    true_cogmap,
)
from theory_of_space.probes.fog import parse_fog, score_fog
from theory_of_space.probes.replay import TurnSnapshot
from theory_of_space.probes.requests import ProbeRecord
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import normalise_name

InvalidMaps = Literal["skip", "empty"]
CorrectnessScope = Literal["full", "observed"]
PerceptionScope = Literal["new", "visible"]
FAMILIES: tuple[str, ...] = ("correctness", "perception", "local_global", "stability", "self_tracking", "uncertainty")
STABLE_COUNT_CHANGE = 1
"""Stability's position part only looks at items whose candidate count changed by at most this much."""

Scores = dict[str, float]


def probe_metrics(
    record: ProbeRecord,
    *,
    invalid_maps: InvalidMaps = "skip",
    correctness_scope: CorrectnessScope = "full",
    perception_scope: PerceptionScope = "new",
) -> dict[str, Any]:
    """The six diagnostics of one episode, averaged over its turns, with the per-turn values.

    Args:
        record: the episode's probe record.
        invalid_maps: ``skip`` leaves maps without JSON out of every average; ``empty`` scores them as ``{}``.
        correctness_scope: ``full`` or ``observed`` (see the module docstring).
        perception_scope: ``new`` or ``visible``.

    Returns:
        ``correctness`` (dir, facing, pos, overall), ``perception``, ``local_global``, ``stability``,
        ``self_tracking`` (facing, pos), ``uncertainty`` (a number), each ``None`` when nothing could be
        scored; ``valid_rate`` and ``failed`` per probe kind; ``turns``: the per-turn values.
    """
    for name, value, allowed in (
        ("invalid_maps", invalid_maps, ("skip", "empty")),
        ("correctness_scope", correctness_scope, ("full", "observed")),
        ("perception_scope", perception_scope, ("new", "visible")),
    ):
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)} for `{name}`, got {value!r}")
    reader = _Reader(record, invalid_maps)
    per_turn: list[dict[str, Any]] = []
    previous: tuple[TurnSnapshot, dict[str, MapEntry]] | None = None
    for snapshot in record.turns:
        global_map = reader.global_map(snapshot)
        local_map = reader.local_map(snapshot)
        row: dict[str, Any] = {"turn": snapshot.turn}
        row["perception"] = _perception(record, snapshot, local_map, perception_scope)
        row["local_global"] = _local_global(global_map, local_map, record.scale)
        row["self_tracking"] = _self_tracking(record, snapshot, global_map)
        row["stability"] = None
        if global_map is not None and previous is not None and previous[0].turn == snapshot.turn - 1:
            row["stability"] = _stability(record, previous[0], previous[1], snapshot, global_map)
        row["uncertainty"] = reader.fog(snapshot)
        per_turn.append(row)
        previous = None if global_map is None else (snapshot, global_map)

    result: dict[str, Any] = {"correctness": None}
    if record.turns:
        last = record.turns[-1]
        final_map = reader.global_map(last)
        if final_map is not None:
            names = None if correctness_scope == "full" else last.observed
            truth = true_cogmap(record.scene, "global", pose=last.pose, names=names)
            result["correctness"] = compare_cogmaps(final_map, truth, record.scale).to_dict()
    for family in ("perception", "local_global", "stability", "self_tracking"):
        result[family] = _mean_scores(row[family] for row in per_turn)
    fog = [row["uncertainty"] for row in per_turn if row["uncertainty"] is not None]
    result["uncertainty"] = sum(fog) / len(fog) if fog else None
    result["valid_rate"] = reader.valid_rates()
    result["failed"] = reader.failures()
    result["turns"] = per_turn
    return result


class _Reader:
    """Parses each stored reply once and applies the map filters of the turn."""

    def __init__(self, record: ProbeRecord, invalid_maps: InvalidMaps) -> None:
        self.record = record
        self.invalid_maps = invalid_maps
        self.doors = {normalise_name(d.name) for d in record.scene.doors}
        self.asked: dict[str, int] = {}
        self.valid: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self._cache: dict[tuple[str, int], dict[str, MapEntry] | None] = {}
        for request in record.requests:
            kind = request["kind"]
            self.asked[kind] = self.asked.get(kind, 0) + 1
            answer = record.answers.get(request["key"])
            if answer is None or answer.error is not None:
                self.failed[kind] = self.failed.get(kind, 0) + 1

    def _parsed(self, kind: str, turn: int) -> dict[str, MapEntry] | None:
        if (kind, turn) not in self._cache:
            self._cache[(kind, turn)] = self._parse(kind, turn)
        return self._cache[(kind, turn)]

    def _parse(self, kind: str, turn: int) -> dict[str, MapEntry] | None:
        answer = self.record.answer(kind, turn)
        if answer is None or answer.error is not None:
            return None
        parsed = parse_cogmap(answer.reply, kind)  # type: ignore[arg-type]
        if parsed.valid:
            self.valid[kind] = self.valid.get(kind, 0) + 1
            return parsed.entries
        return {} if self.invalid_maps == "empty" else None

    def global_map(self, snapshot: TurnSnapshot) -> dict[str, MapEntry] | None:
        entries = self._parsed("global", snapshot.turn)
        if entries is None:
            return None
        keep = {normalise_name(n) for n in snapshot.observed} | self.doors | {AGENT}
        return {name: entry for name, entry in entries.items() if name in keep}

    def local_map(self, snapshot: TurnSnapshot) -> dict[str, MapEntry] | None:
        entries = self._parsed("local", snapshot.turn)
        if entries is None:
            return None
        keep = {normalise_name(n) for n in snapshot.visible}
        return {name: entry for name, entry in entries.items() if name in keep}

    def fog(self, snapshot: TurnSnapshot) -> float | None:
        answer = self.record.answer("fog", snapshot.turn)
        if answer is None or answer.error is not None or snapshot.fog is None:
            return None
        letters = parse_fog(answer.reply)
        if letters is not None:
            self.valid["fog"] = self.valid.get("fog", 0) + 1
        return score_fog(letters or frozenset(), snapshot.fog.letters, snapshot.fog.unexplored)

    def valid_rates(self) -> dict[str, float | None]:
        rates: dict[str, float | None] = {}
        for kind, asked in self.asked.items():
            rates[kind] = self.valid.get(kind, 0) / asked if asked else None
        return rates

    def failures(self) -> dict[str, int]:
        return {kind: self.failed.get(kind, 0) for kind in self.asked}


def _perception(
    record: ProbeRecord, snapshot: TurnSnapshot, local_map: dict[str, MapEntry] | None, scope: PerceptionScope
) -> Scores | None:
    if local_map is None:
        return None
    names = snapshot.newly_observed if scope == "new" else snapshot.visible
    if not names:
        return None
    truth = true_cogmap(record.scene, "local", pose=snapshot.pose, names=names)
    pred = in_agent_frame(local_map, snapshot.pose.facing)
    scores = compare_cogmaps(pred, truth, record.scale)
    return {"facing": scores.facing, "pos": scores.pos}


def _local_global(
    global_map: dict[str, MapEntry] | None, local_map: dict[str, MapEntry] | None, scale: float
) -> Scores | None:
    if global_map is None or local_map is None:
        return None
    seen_from_agent = global_in_agent_frame(global_map)
    if seen_from_agent is None:
        return None
    if not local_map:
        return {"facing": 1.0, "pos": 1.0}
    agent = global_map[AGENT]
    local = in_agent_frame(local_map, agent.facing if agent.facing is not None else Facing.NORTH)
    common = [name for name in local if name in seen_from_agent]
    if not common:
        return {"facing": 0.0, "pos": 0.0}
    scores = compare_cogmaps({n: seen_from_agent[n] for n in common}, {n: local[n] for n in common}, scale)
    return {"facing": scores.facing, "pos": scores.pos}


def _self_tracking(
    record: ProbeRecord, snapshot: TurnSnapshot, global_map: dict[str, MapEntry] | None
) -> Scores | None:
    if global_map is None:
        return None
    agent = global_map.get(AGENT)
    if agent is None:
        return {"facing": 0.0, "pos": 0.0}
    x, y = record.scene.allocentric(snapshot.pose.cell)
    dist = math.hypot(agent.position[0] - x, agent.position[1] - y)
    return {"facing": float(agent.facing == snapshot.pose.facing), "pos": math.exp(-dist / record.scale)}


def _stability(
    record: ProbeRecord,
    before: TurnSnapshot,
    before_map: Mapping[str, MapEntry],
    now: TurnSnapshot,
    now_map: Mapping[str, MapEntry],
) -> Scores | None:
    scene = record.scene
    positions: list[float] = []
    facings: list[float] = []
    for name in before.observed:
        key = normalise_name(name)
        item = scene.item(name)
        if item is None or key not in before_map or key not in now_map:
            continue
        count_change = abs(now.candidate_counts.get(item.name, 0) - before.candidate_counts.get(item.name, 0))
        if count_change <= STABLE_COUNT_CHANGE:
            tx, ty = scene.allocentric(item.cell)
            error_before = math.hypot(before_map[key].position[0] - tx, before_map[key].position[1] - ty)
            error_now = math.hypot(now_map[key].position[0] - tx, now_map[key].position[1] - ty)
            positions.append(float(error_now <= error_before))
        if item.facing is not None and not item.is_door:
            right_before = before_map[key].facing == item.facing
            right_now = now_map[key].facing == item.facing
            if right_now != right_before:
                facings.append(float(right_now))
            else:
                facings.append(float(before_map[key].facing == now_map[key].facing))
    if not positions and not facings:
        return None
    scores: Scores = {}
    if positions:
        scores["pos"] = sum(positions) / len(positions)
    if facings:
        scores["facing"] = sum(facings) / len(facings)
    return scores


def _mean_scores(rows: Iterable[Scores | None]) -> Scores | None:
    """Per key, the mean over the rows that have it."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        if row is None:
            continue
        for key, value in row.items():
            sums[key] = sums.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
    return {key: sums[key] / counts[key] for key in sums} if sums else None


def aggregate_probe_metrics(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean over episodes of each per-episode value (episodes where it is ``None`` are left out).

    Returns the families as :func:`probe_metrics` names them, ``valid_rate`` per kind, ``failed`` per kind
    (summed) and ``episodes`` (how many were given).
    """
    result: dict[str, Any] = {"episodes": len(episodes)}
    for family in FAMILIES:
        if family == "uncertainty":
            values = [e[family] for e in episodes if e.get(family) is not None]
            result[family] = sum(values) / len(values) if values else None
        else:
            result[family] = _mean_scores(e.get(family) for e in episodes)
    rates = _mean_scores({k: v for k, v in e.get("valid_rate", {}).items() if v is not None} or None for e in episodes)
    result["valid_rate"] = rates or {}
    failed: dict[str, int] = {}
    for episode in episodes:
        for kind, count in episode.get("failed", {}).items():
            failed[kind] = failed.get(kind, 0) + count
    result["failed"] = failed
    return result


_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("Correct. ori", "correctness", "facing"),
    ("Correct. pos", "correctness", "pos"),
    ("Correct. overall", "correctness", "overall"),
    ("Percep. ori", "perception", "facing"),
    ("Percep. pos", "perception", "pos"),
    ("L↔G ori", "local_global", "facing"),
    ("L↔G pos", "local_global", "pos"),
    ("Stab. ori", "stability", "facing"),
    ("Stab. pos", "stability", "pos"),
    ("Self ori", "self_tracking", "facing"),
    ("Self pos", "self_tracking", "pos"),
    ("Uncert.", "uncertainty", None),
)


def format_probe_table(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A Markdown table of aggregated probe metrics in percent (the published column order), then valid rates."""
    header = ["Agent", *(c[0] for c in _COLUMNS), "Valid maps (global/local/fog)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, values in rows:
        cells = [label]
        for _, family, key in _COLUMNS:
            value = values.get(family)
            if key is not None:
                value = None if value is None else value.get(key)
            cells.append("-" if value is None else f"{100 * value:.1f}")
        rates = values.get("valid_rate", {})
        cells.append(
            "/".join("-" if rates.get(k) is None else f"{100 * rates[k]:.0f}" for k in ("global", "local", "fog"))
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
