"""Belief maps read from activations at every probe turn, next to the JSON maps of the same turns.

A map probe asks the model to write JSON; a read-out asks its residual stream. For each probe of a
false-belief episode (the last exploration ``global`` map and each ``global_fb`` map) and each
object the agent has observed by then, the probe's conversation is followed by the start of that
object's JSON entry (``{"lamp": {"position": [``) and the activation at its last token is read:
the point where the model is about to write the object's position. Per layer, a linear read-out
(:class:`~theory_of_space.steering.readout.LinearReadout`) maps it to the object's position
``(x, y)`` in the start frame (origin at the start cell, north up) and to its facing, fitted on
some scenes and scored on the others.

The target of each object is its state when the agent last saw it: at the exploration probe the
scene as explored; at a false-belief probe the changed scene for objects seen again by then, the
explored scene for the others. The JSON map is scored against the same targets on the same rows,
so the two accuracies are comparable. For a changed object at the probe of the turn where it was
first seen again, whose JSON entry still shows the old state (belief inertia), the report also
says which state the read-out is nearer: ``new`` (inertia is in the report only), ``old`` (it is
in the representation too) or ``neither``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theory_of_space.probes.cogmap import MapEntry, cogmap_scale, compare_cogmaps, parse_cogmap, true_cogmap
from theory_of_space.probes.false_belief_requests import (
    FalseBeliefEpisode,
    FalseBeliefRecord,
    build_false_belief_requests,
)
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import normalise_name

ENTRY_PREFIX = '{{"{name}": {{"position": ['
"""The start of an object's JSON entry, after which the activation is read."""


@dataclass(frozen=True)
class ObjectRow:
    """One object at one probe: where it is read, what the agent last saw, what the JSON map says.

    ``old``/``new`` are set for a changed object at the probe of the turn where it was first seen again.
    """

    scene: str
    key: str
    kind: str
    name: str
    messages: tuple[dict[str, str], ...]
    target: MapEntry
    reported: MapEntry | None
    old: MapEntry | None = None
    new: MapEntry | None = None

    @property
    def inertia(self) -> bool:
        """Whether the JSON map keeps the old state of a changed object (position or facing)."""
        if self.old is None or self.new is None or self.reported is None:
            return False
        if self.old.facing != self.new.facing:
            return self.reported.facing == self.old.facing
        return _cell(self.reported.position) == _cell(self.old.position)


def map_readout_rows(episode: FalseBeliefEpisode, record: FalseBeliefRecord) -> list[ObjectRow]:
    """The object rows of one episode's probes, with the JSON answers of ``record``.

    Raises:
        ValueError: when ``record`` is not the probes of ``episode`` (other request keys).
    """
    requests = build_false_belief_requests(episode)
    if {r.key for r in requests} != {r["key"] for r in record.requests}:
        raise ValueError(f"scene {episode.scene.scene_id}: the record holds other probes than the episode's")
    changes = {normalise_name(c.name): c for c in episode.changes}
    rows = []
    for request in requests:
        answer = record.answers.get(request.key)
        parsed = parse_cogmap(answer.reply if answer and not answer.error else None, request.kind)  # type: ignore[arg-type]
        explored = [normalise_name(n) for n in request.context.get("explored", [])]
        seen = {normalise_name(n) for n in request.context.get("seen_again", [])}
        old_map = true_cogmap(episode.scene, "global", names=explored)
        new_map = true_cogmap(episode.changed, "global", names=[*explored, *seen])
        messages = tuple({"role": m.role, "content": m.content} for m in request.messages)
        for name in sorted({*explored, *seen}):
            target = new_map.get(name) if name in seen else old_map.get(name)
            if target is None:
                continue
            change = changes.get(name)
            first = change is not None and request.kind == "global_fb" and episode.first_seen.get(name) == request.turn
            rows.append(
                ObjectRow(
                    scene=episode.scene.scene_id,
                    key=request.key,
                    kind=request.kind,
                    name=name,
                    messages=messages,
                    target=target,
                    reported=parsed.entries.get(name) if parsed.valid else None,
                    old=old_map.get(name) if first else None,
                    new=new_map.get(name) if first else None,
                )
            )
    return rows


def map_readout_report(
    model: Any,
    tokenizer: Any,
    episodes: Sequence[FalseBeliefEpisode],
    records: Sequence[FalseBeliefRecord],
    layers: Sequence[int],
    out: str | Path | None = None,
    *,
    alpha: float = 1.0,
    n_folds: int = 2,
    seed: int = 0,
    batch_size: int = 16,
    **collect_kwargs: Any,
) -> dict[str, Any]:
    """Per layer, the read-out's accuracy next to the JSON map's on the same objects and probes.

    Args:
        model, tokenizer: the local model that answered the probes.
        episodes: the false-belief episodes (one per scene).
        records: their probe records (same order), e.g. from ``run_inertia_experiment``.
        layers: blocks to read.
        out: folder for ``map_readout.json`` and ``readouts/L<layer>/`` (read-outs fitted on every
            row, saved like steerers); nothing is written when ``None``.
        alpha: ridge strength of the read-outs.
        n_folds: scene folds of the cross-fitting.
        seed: seed of the folds.
        batch_size: rows per forward.
        collect_kwargs: more options of ``collect_activations`` (``template``, ``layers_path``...).

    Returns:
        The report: ``json`` (exact-cell position accuracy, facing accuracy and the mean map
        ``pos`` similarity of :func:`~theory_of_space.probes.cogmap.compare_cogmaps`), ``layers``
        (the same three for the read-out, plus its RMSE and, on the inertia rows, the share encoding
        the new, old or neither state), and the row counts.

    Raises:
        ValueError: for mismatched lists or rows from fewer than ``n_folds`` scenes.
    """
    import torch

    from theory_of_space.steering.collect import collect_activations
    from theory_of_space.steering.inertia import scene_folds
    from theory_of_space.steering.readout import LinearReadout, cross_fit_readouts, encoded_state

    if len(episodes) != len(records):
        raise ValueError(f"expected one record per episode, got {len(records)} for {len(episodes)}")
    rows = [row for e, r in zip(episodes, records, strict=True) for row in map_readout_rows(e, r)]
    scales = {e.scene.scene_id: cogmap_scale(e.scene) for e in episodes}
    items = [(list(r.messages), ENTRY_PREFIX.format(name=r.name)) for r in rows]
    opts = {"read": "completion_last", **collect_kwargs}  # the entry's last token, not a closing chat marker
    acts = collect_activations(model, tokenizer, items, list(layers), batch_size=batch_size, **opts)
    assert isinstance(acts, dict)
    if next(iter(acts.values())).shape[0] != len(rows):
        raise ValueError("some probe prompts are longer than the model's context; their rows cannot be read")
    target = torch.tensor([r.target.position for r in rows], dtype=torch.float64)
    facings = [None if r.target.facing is None else r.target.facing.label for r in rows]
    folds = scene_folds([r.scene for r in rows], n_folds, seed=seed)
    scores = cross_fit_readouts(acts, target, facings, [folds[r.scene] for r in rows], alpha=alpha)
    stuck = [i for i, r in enumerate(rows) if r.inertia]
    report: dict[str, Any] = {
        "n_rows": len(rows),
        "n_probes": len({(r.scene, r.key) for r in rows}),
        "n_inertia_rows": len(stuck),
        "json": {
            "position_exact": _mean(
                [r.reported is not None and _cell(r.reported.position) == _cell(r.target.position) for r in rows]
            ),
            "facing_accuracy": _mean(
                [r.reported is not None and r.reported.facing == r.target.facing for r in rows if r.target.facing]
            ),
            "map_pos": _map_pos(rows, [r.reported for r in rows], scales),
        },
        "layers": {},
    }
    for layer in layers:
        s = scores[layer]
        predicted = [
            MapEntry((float(p[0]), float(p[1])), None if f is None else Facing.from_label(f))
            for p, f in zip(s.predictions.tolist(), s.facing_predictions, strict=True)
        ]
        entry: dict[str, Any] = {**s.to_dict(), "map_pos": _map_pos(rows, predicted, scales)}
        if stuck:
            states = []
            for i in stuck:
                old, new = rows[i].old, rows[i].new
                assert old is not None and new is not None
                if old.facing != new.facing:
                    f = predicted[i].facing
                    states.append("new" if f == new.facing else "old" if f == old.facing else "neither")
                else:
                    p = s.predictions[i : i + 1]
                    old_t = torch.tensor([old.position], dtype=torch.float64)
                    new_t = torch.tensor([new.position], dtype=torch.float64)
                    states += encoded_state(p, old_t, new_t)
            entry["inertia_encoding"] = {k: states.count(k) / len(states) for k in ("new", "old", "neither")}
        report["layers"][str(layer)] = entry
        if out is not None:
            readout = LinearReadout(layer=layer, alpha=alpha).fit(acts[layer], target, facings)
            readout.provenance = {"rows": len(rows), "scenes": sorted(folds), "target": "last observed state"}
            readout.save(Path(out) / "readouts" / f"L{layer}")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "map_readout.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def run_map_readout(
    model: Any, tokenizer: Any, run: str | Path, layers: Sequence[int], out: str | Path | None = None,
    *, agent: str | None = None, **options: Any,
) -> dict[str, Any]:
    """:func:`map_readout_report` on the finished false-belief episodes of a stored run.

    Args:
        run: a run folder of ``tos run`` or ``tos steer eval``.
        agent: read only this agent's (or condition's) episodes; every episode of the run when ``None``.
        options: those of :func:`map_readout_report`.

    Raises:
        ValueError: when the run (or the agent) has no finished false-belief episode.
    """
    from theory_of_space.runner.inertia import read_stored_episode, run_false_belief_steps, stored_episode_folders

    steps = run_false_belief_steps(run)
    stored = [read_stored_episode(folder, steps) for folder in stored_episode_folders(run, agent)]
    if not stored:
        who = f" of agent {agent!r}" if agent else ""
        raise ValueError(f"{run}: no finished false-belief episode{who} to read")
    return map_readout_report(model, tokenizer, [e for e, _ in stored], [r for _, r in stored], layers, out, **options)


def map_readout_lines(report: dict[str, Any]) -> list[str]:
    """The report in a few lines: the JSON maps' accuracy, then each layer's read-out."""
    json_acc = report["json"]
    lines = [
        f"map read-out on {report['n_rows']} objects at {report['n_probes']} probes:",
        f"  JSON map: position exact {json_acc['position_exact']:.3f}, facing {json_acc['facing_accuracy']:.3f}",
    ]
    for layer, row in report["layers"].items():
        line = f"  layer {layer}: position exact {row['position_exact']:.3f}, facing {row['facing_accuracy']:.3f}"
        if "inertia_encoding" in row:
            line += f", new state held on {row['inertia_encoding']['new']:.3f} of the objects the map keeps old"
        lines.append(line)
    return lines


def _cell(position: tuple[float, float]) -> tuple[int, int]:
    return round(position[0]), round(position[1])


def _mean(values: Sequence[bool | float]) -> float:
    return sum(float(v) for v in values) / len(values) if values else math.nan


def _map_pos(rows: Sequence[ObjectRow], entries: Sequence[MapEntry | None], scales: dict[str, float]) -> float:
    """Mean ``pos`` similarity (compare_cogmaps) per probe, the map built from ``entries`` of its rows."""
    maps: dict[tuple[str, str], tuple[dict[str, MapEntry], dict[str, MapEntry]]] = {}
    for row, entry in zip(rows, entries, strict=True):
        pred, truth = maps.setdefault((row.scene, row.key), ({}, {}))
        truth[row.name] = row.target
        if entry is not None:
            pred[row.name] = entry
    return _mean([compare_cogmaps(p, t, scales[scene]).pos for (scene, _), (p, t) in maps.items()])
