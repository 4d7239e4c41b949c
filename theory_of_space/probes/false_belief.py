"""False-belief scores: belief correctness, belief inertia, unchanged objects, and the summary.

Pure and offline: everything here reads parsed maps and the phase's records, never a model.

After each false-belief turn that is not the phase's terminal turn, a ``global_fb`` map is asked. A
changed object is scored in the map of the turn in which an Observe first showed it again:

- **Belief correctness**: a moved object scores ``exp(-‖pred − new‖ / L)`` (L: the scene's map
  scale, :func:`~theory_of_space.probes.cogmap.cogmap_scale`), a rotated one 1 if its predicted
  facing is the new facing, else 0; an object missing from the map scores 0.
- **Orientation inertia**: the fraction of rotated objects whose predicted facing still equals the
  facing of the last exploration-phase global map. Undefined (skipped, counted) when that map had no
  facing for the object, or the object is missing from the ``global_fb`` map.
- **Position inertia**: with ``b_old`` the object's position in the last exploration map, ``b_new``
  its position in the ``global_fb`` map and ``g`` its new true position, ``v = b_old − g`` and
  ``e = b_new − g``; ``s = cos(e, v) · exp(−‖b_new − b_old‖² / (2σ² + 1e-9))``, where
  ``cos(e, v) = e·v / (‖e‖‖v‖ + 1e-9)``. σ is the RMS position error of the unchanged objects (doors
  excluded) in the map of their first re-observation, over the sample, floored at 1 cell (1 when
  there are none). Objects with ``‖v‖ ≈ 0`` are skipped, and so are those with ``‖e‖ ≈ 0`` (exactly
  correct) unless ``inertia_skip_exact=False``, which scores them 0. Objects missing from either map
  are skipped. The summary pools ``s`` over all objects of all samples.

**Revision over turns** (``revision_curve``): the same correctness and inertia (same formulas, same σ, same
objects left out), applied to the map of every probed turn t at or after the turn f in which the object was
first seen again, and pooled by k = t − f (turns since first seen again, counted in valid turns of the
phase). Point 0 holds the scores above; the later points show whether a kept belief is revised later.

Per turn the unchanged objects the agent knows (observed while exploring or seen again by then) are
scored too: **accuracy** = mean ``exp(-‖pred − true‖ / L)`` (missing = 0), and **retention** = the
fraction of those in the last exploration map whose ``global_fb`` entry kept the same cell and, where
the exploration map had one, the same facing. Invalid maps (no JSON) are left out and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.env.change_report import (
    ChangeReport,
    Identification,
    f1_score,
    identification_scores,
    parse_change_report,
)
from theory_of_space.probes.cogmap import CogMap, MapEntry, cogmap_scale, true_cogmap
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Scene, normalise_name

__all__ = [
    "ChangeReport",
    "ChangedObjectScores",
    "FalseBeliefMap",
    "FalseBeliefProbeScores",
    "Identification",
    "f1_score",
    "identification_scores",
    "parse_change_report",
    "position_inertia",
    "revision_curve",
    "score_false_belief_maps",
    "summarise_false_belief",
]

SIGMA_FLOOR = 1.0
"""σ never drops below one cell: positions are integers, so a zero σ would turn any partial update into inertia."""
_EPS = 1e-9
_EXACT = 1e-6


@dataclass(frozen=True)
class FalseBeliefMap:
    """The ``global_fb`` map asked after one false-belief turn (``entries`` None: the reply had no JSON)."""

    turn: int
    entries: CogMap | None


CHANGED_ITEM_KEYS = ("correctness_pos", "correctness_ori", "inertia_pos", "inertia_ori")
"""The per-object values scored for the changed objects, kept as lists so samples can be pooled."""


@dataclass
class ChangedObjectScores:
    """The changed objects' correctness and inertia values in one set of maps, and why some were left out."""

    correctness_pos: list[float] = field(default_factory=list)
    correctness_ori: list[float] = field(default_factory=list)
    inertia_pos: list[float] = field(default_factory=list)
    inertia_ori: list[float] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Why objects were left out of inertia: ``exact``, ``no_old_belief``, ``no_new_belief``, ``no_old_facing``,
    ``invalid_map``, ``not_probed``."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def items(self) -> dict[str, list[float]]:
        return {key: list(getattr(self, key)) for key in CHANGED_ITEM_KEYS}


@dataclass
class FalseBeliefProbeScores(ChangedObjectScores):
    """One sample's probe scores: the changed objects in the map of the turn each was first seen again, the
    same objects in every later probed map (``revision_curve``), and the unchanged objects per turn."""

    sigma: float = SIGMA_FLOOR
    unchanged_accuracy: dict[int, float] = field(default_factory=dict)
    unchanged_retention: dict[int, float] = field(default_factory=dict)
    invalid_maps: int = 0
    revision_curve: dict[int, ChangedObjectScores] = field(default_factory=dict)
    """Turns since first seen again (0: the turn it was seen again) → the changed objects scored in the map of
    that many turns later. A map without JSON leaves its objects out of the point, counted as ``invalid_map``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "correctness_pos": _mean(self.correctness_pos),
            "correctness_ori": _mean(self.correctness_ori),
            "correctness": _mean(self.correctness_pos + self.correctness_ori),
            "inertia_pos": _mean(self.inertia_pos),
            "inertia_ori": _mean(self.inertia_ori),
            "sigma": self.sigma,
            "skipped": dict(self.skipped),
            "unchanged_accuracy": {str(t): v for t, v in self.unchanged_accuracy.items()},
            "unchanged_retention": {str(t): v for t, v in self.unchanged_retention.items()},
            "invalid_maps": self.invalid_maps,
            "items": self.items(),
            "revision_curve": {
                str(k): {"items": point.items(), "skipped": dict(point.skipped)}
                for k, point in sorted(self.revision_curve.items())
            },
        }


def position_inertia(
    b_old: tuple[float, float],
    b_new: tuple[float, float],
    truth: tuple[float, float],
    sigma: float,
    *,
    skip_exact: bool = True,
) -> float | None:
    """The inertia ``s`` of one moved object, or None when it is skipped (see the module docstring)."""
    v = (b_old[0] - truth[0], b_old[1] - truth[1])
    e = (b_new[0] - truth[0], b_new[1] - truth[1])
    norm_v, norm_e = math.hypot(*v), math.hypot(*e)
    if norm_v < _EXACT:
        return None
    if norm_e < _EXACT:
        return None if skip_exact else 0.0
    cos = (e[0] * v[0] + e[1] * v[1]) / (norm_e * norm_v + _EPS)
    shift_sq = (b_new[0] - b_old[0]) ** 2 + (b_new[1] - b_old[1]) ** 2
    return cos * math.exp(-shift_sq / (2 * sigma**2 + _EPS))


def score_false_belief_maps(
    scene: Scene,
    changed: Scene,
    changes: Sequence[SceneChange],
    *,
    exploration_map: CogMap | None,
    maps: Sequence[FalseBeliefMap],
    first_seen: Mapping[str, int],
    known_before: Iterable[str] = (),
    inertia_skip_exact: bool = True,
) -> FalseBeliefProbeScores:
    """Score one sample's ``global_fb`` maps.

    Args:
        scene: the scene as explored (its map scale L is used throughout).
        changed: the changed scene.
        changes: the true changes.
        exploration_map: the last exploration-phase global map (None when it was invalid).
        maps: the ``global_fb`` maps in turn order.
        first_seen: object name → the false-belief turn in which an Observe first showed it again.
        known_before: the items observed while exploring.
        inertia_skip_exact: skip exactly correct moved objects in position inertia (default, as published)
            instead of scoring them 0.
    """
    scores = FalseBeliefProbeScores()
    scale = cogmap_scale(scene)
    truth = true_cogmap(changed, "global_fb")
    old = {} if exploration_map is None else dict(exploration_map)
    by_turn = {m.turn: m for m in maps}
    scores.invalid_maps = sum(m.entries is None for m in maps)
    changed_names = {normalise_name(c.name) for c in changes}
    seen = {normalise_name(name): turn for name, turn in first_seen.items()}
    unchanged = [normalise_name(o.name) for o in changed.objects if normalise_name(o.name) not in changed_names]
    scores.sigma = _sigma(unchanged, seen, by_turn, truth)
    for change in changes:
        name = normalise_name(change.name)
        first = seen.get(name)
        if first not in by_turn:
            scores.skip("not_probed")
        for turn, probe in sorted(by_turn.items()):
            if first is None or turn < first:
                continue
            point = scores.revision_curve.setdefault(turn - first, ChangedObjectScores())
            for target in (scores, point) if turn == first else (point,):
                _score_change(target, change.kind, probe, name, old.get(name), truth[name], scale, scores.sigma,
                              inertia_skip_exact)
    known = {normalise_name(n) for n in known_before}
    for probe in maps:
        if probe.entries is not None:
            _score_unchanged(scores, probe, unchanged, known, seen, old, truth, scale)
    return scores


def _score_change(
    scores: ChangedObjectScores,
    kind: str,
    probe: FalseBeliefMap,
    name: str,
    old: MapEntry | None,
    truth: MapEntry,
    scale: float,
    sigma: float,
    skip_exact: bool,
) -> None:
    """Score one changed object in one map: correctness, and inertia unless it is left out (counted)."""
    if probe.entries is None:
        scores.skip("invalid_map")
    elif kind == "move":
        _score_move(scores, probe.entries.get(name), old, truth, scale, sigma, skip_exact)
    else:
        _score_rotation(scores, probe.entries.get(name), old, truth)


def _score_move(
    scores: ChangedObjectScores,
    predicted: MapEntry | None,
    old: MapEntry | None,
    truth: MapEntry,
    scale: float,
    sigma: float,
    skip_exact: bool,
) -> None:
    if predicted is None:
        scores.correctness_pos.append(0.0)
        scores.skip("no_new_belief")
        return
    scores.correctness_pos.append(math.exp(-_distance(predicted.position, truth.position) / scale))
    if old is None:
        scores.skip("no_old_belief")
        return
    value = position_inertia(old.position, predicted.position, truth.position, sigma, skip_exact=skip_exact)
    if value is None:
        scores.skip("exact")
    else:
        scores.inertia_pos.append(value)


def _score_rotation(
    scores: ChangedObjectScores, predicted: MapEntry | None, old: MapEntry | None, truth: MapEntry
) -> None:
    scores.correctness_ori.append(float(predicted is not None and predicted.facing == truth.facing))
    if predicted is None:
        scores.skip("no_new_belief")
    elif old is None or old.facing is None:
        scores.skip("no_old_facing")
    else:
        scores.inertia_ori.append(float(predicted.facing == old.facing))


def _sigma(
    unchanged: Sequence[str], seen: Mapping[str, int], by_turn: Mapping[int, FalseBeliefMap], truth: CogMap
) -> float:
    errors = []
    for name in unchanged:
        probe = by_turn.get(seen.get(name, -1))
        entry = None if probe is None or probe.entries is None else probe.entries.get(name)
        if entry is not None:
            errors.append(_distance(entry.position, truth[name].position) ** 2)
    if not errors:
        return SIGMA_FLOOR
    return max(SIGMA_FLOOR, math.sqrt(sum(errors) / len(errors)))


def _score_unchanged(
    scores: FalseBeliefProbeScores,
    probe: FalseBeliefMap,
    unchanged: Sequence[str],
    known: set[str],
    seen: Mapping[str, int],
    old: Mapping[str, MapEntry],
    truth: CogMap,
    scale: float,
) -> None:
    assert probe.entries is not None
    names = [n for n in unchanged if n in known or seen.get(n, math.inf) <= probe.turn]
    if names:
        scores.unchanged_accuracy[probe.turn] = _mean(
            [
                0.0
                if n not in probe.entries
                else math.exp(-_distance(probe.entries[n].position, truth[n].position) / scale)
                for n in names
            ]
        )
    remembered = [n for n in names if n in old]
    if remembered:
        scores.unchanged_retention[probe.turn] = _mean([float(_kept(old[n], probe.entries.get(n))) for n in remembered])


def _kept(old: MapEntry, new: MapEntry | None) -> bool:
    if new is None or _distance(old.position, new.position) >= 0.5:
        return False
    return old.facing is None or new.facing == old.facing


def summarise_false_belief(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pool per-sample false-belief results into the figures of the report.

    Args:
        samples: one mapping per sample with ``identification`` (the env's ``false_belief`` summary) and,
            when probed, ``probes`` (:meth:`FalseBeliefProbeScores.to_dict`).

    Identification F1, steps and redundancy are means over samples (an undefined value is left out);
    correctness and inertia pool every scored object of every sample; ``revision_curve`` pools them per
    number of turns since first seen again (:func:`revision_curve`).
    """
    identification = [s["identification"] for s in samples if s.get("identification")]
    probes = [s["probes"] for s in samples if s.get("probes")]
    summary: dict[str, Any] = {"n_samples": len(samples)}
    for key in ("f1_pos", "f1_ori", "f1_overall", "steps", "redundancy", "action_cost"):
        summary[key] = _mean([i[key] for i in identification if i.get(key) is not None])
    for key in ("correctness_pos", "correctness_ori", "inertia_pos", "inertia_ori"):
        summary[key] = _mean([value for p in probes for value in p["items"][key]])
    summary["correctness"] = _mean(
        [v for p in probes for key in ("correctness_pos", "correctness_ori") for v in p["items"][key]]
    )
    skipped: dict[str, int] = {}
    for p in probes:
        for reason, count in p["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + count
    summary["skipped"] = skipped
    summary["unchanged_accuracy"] = _mean([v for p in probes for v in p["unchanged_accuracy"].values()])
    summary["unchanged_retention"] = _mean([v for p in probes for v in p["unchanged_retention"].values()])
    summary["invalid_maps"] = sum(p["invalid_maps"] for p in probes)
    summary["revision_curve"] = revision_curve(probes)
    return summary


def revision_curve(probes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pool the samples' ``revision_curve`` points by turns since first seen again.

    Args:
        probes: per-sample :meth:`FalseBeliefProbeScores.to_dict` results.

    Returns:
        One point per number of turns since first seen again, in order: ``turns_since_seen``; correctness
        (``correctness_pos``, ``correctness_ori``, and ``correctness`` over both) and inertia (``inertia_pos``,
        ``inertia_ori``, and ``inertia`` over both), each pooling every object of every sample (None when
        nothing was scored); ``n_`` + each of these keys, the number of values behind it; and ``skipped``,
        the objects of the point left out of inertia by reason.
    """
    pooled: dict[int, dict[str, list[float]]] = {}
    skipped: dict[int, dict[str, int]] = {}
    for p in probes:
        for key, point in p.get("revision_curve", {}).items():
            values = pooled.setdefault(int(key), {item: [] for item in CHANGED_ITEM_KEYS})
            for item in CHANGED_ITEM_KEYS:
                values[item].extend(point["items"][item])
            reasons = skipped.setdefault(int(key), {})
            for reason, count in point["skipped"].items():
                reasons[reason] = reasons.get(reason, 0) + count
    curve = []
    for k, values in sorted(pooled.items()):
        values = {
            **values,
            "correctness": values["correctness_pos"] + values["correctness_ori"],
            "inertia": values["inertia_pos"] + values["inertia_ori"],
        }
        point: dict[str, Any] = {"turns_since_seen": k}
        point.update({key: _mean(v) for key, v in values.items()})
        point.update({f"n_{key}": len(v) for key, v in values.items()})
        point["skipped"] = skipped[k]
        curve.append(point)
    return curve


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
