"""Read stored runs and aggregate them into the published tables (exploration, accuracy, probes, correlation).

Every number comes from the stored results of :mod:`theory_of_space.runner.store`, so a report needs
no model and no rerun. Episodes are grouped by (agent, world, setting, think, passive explorer).

Metrics (per group, means over episodes unless said otherwise):

- node coverage, edge coverage, final information gain, steps and action cost: the exploration's
  final values (the passive explorer's in the passive setting);
- failed calls: exploration turns, probes, questions, the map request of ``use_model_cogmap`` and
  false-belief requests whose request failed after its retries (counted, never hidden: a failed answer
  scores 0 and is listed here; a question not sent because its map request failed is one too);
- accuracy per task: the mean score of its questions; route / survey / overall: the mean over the
  questions of the route tasks, survey tasks, or all tasks;
- information-gain curve: per turn, the mean over episodes, an episode that ended earlier carried
  forward at its last value;
- correlation: Pearson r over episodes between the final cognitive map's overall correctness and the
  episode's evaluation accuracy (when the probe phase ran);
- false belief (when the false_belief phase ran): the stored ``false_belief_record.json`` of every
  episode scored again and pooled by :func:`~theory_of_space.probes.false_belief.summarise_false_belief`
  (identification F1, steps and redundancy are means over episodes; correctness and inertia pool every
  scored object), with the objects left out of inertia counted by reason, and ``revision_curve``: the
  same correctness and inertia in the maps of the later turns, pooled by turns since each changed object
  was first seen again, with the number of values behind each point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from theory_of_space.runner.phases import COGMAP_KEY
from theory_of_space.runner.store import RUN_FILE, EpisodeStore
from theory_of_space.tasks import TASK_IDS, TASKS, aggregate

SUMMARY_VERSION = 1
FALSE_BELIEF_RECORD_FILE = "false_belief_record.json"
EXPLORATION_KEYS = ("node_coverage", "edge_coverage", "information_gain", "steps", "action_cost")


@dataclass
class EpisodeData:
    """One stored episode as the report reads it."""

    folder: Path
    agent: str
    scene_id: str
    scene: dict[str, Any]
    settings: dict[str, Any]
    turns: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    metrics: dict[str, Any]
    probe_record: dict[str, Any] | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    """The stored probe replies (for failed calls and the per-turn maps)."""
    problems: list[str] = field(default_factory=list)
    false_belief_record: dict[str, Any] | None = None
    false_belief: list[dict[str, Any]] = field(default_factory=list)
    """The stored false-belief turns and map replies (for failed calls and the episode page)."""
    cogmap_requests: list[dict[str, Any]] = field(default_factory=list)
    """The stored map of a map evaluation mode (``evaluate/cogmap``), with its request in
    ``use_model_cogmap`` (for failed calls and cost)."""

    @property
    def group(self) -> str:
        s = self.settings
        label = f"{self.agent} | {s['world']} | {s['setting']}"
        label += "" if s.get("think", True) else " | nothink"
        return label + (f" | {s['proxy']} log" if s["setting"] == "passive" else "")

    @property
    def accuracy(self) -> float | None:
        values = [a["score"]["value"] for a in self.answers]
        return sum(values) / len(values) if values else None

    @property
    def failed_calls(self) -> int:
        return len(self.failures())

    def failures(self) -> list[tuple[str, str]]:
        """(key, reason) of every failed call: exploration turns, probes, questions, map requests and
        false-belief requests."""
        records = (*self.turns, *self.cogmap_requests, *self.probes, *self.answers, *self.false_belief)
        return [(r["key"], str(r["error"])) for r in records if r.get("error")]

    def information_gain_curve(self) -> list[float]:
        curve: list[float] = []
        for turn in self.turns:
            value = turn.get("metrics", {}).get("information_gain")
            curve.append(float(value) if value is not None else (curve[-1] if curve else 0.0))
        return curve


def find_episode_folders(root: Path) -> list[Path]:
    """The episode folders (holding ``scene.json``) under a run folder, sorted."""
    return sorted(p.parent for p in Path(root).rglob("scene.json"))


def load_episode(folder: Path) -> EpisodeData:
    """Read one episode folder; a bad file is reported in ``problems`` (with its path), not raised."""
    folder = Path(folder)
    head = json.loads((folder / "scene.json").read_text())
    store = EpisodeStore(folder, readonly=True)
    turns = sorted(store.results("explore").values(), key=lambda r: int(r.get("turn", 0)))
    evaluated = store.results("evaluate")
    answers = [r for r in evaluated.values()
               if isinstance(r.get("score"), dict) and isinstance(r["score"].get("value"), (int, float))
               and r.get("task") in TASKS]
    probes = list(store.results("probe").values())
    problems = [str(entry) for entry in store.corrupt]
    metrics: dict[str, Any] = {}
    metrics_path = folder / "metrics.json"
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except ValueError as error:
            problems.append(f"{metrics_path}: {error}")
    records: dict[str, dict[str, Any] | None] = {}
    for name in ("probe_record.json", FALSE_BELIEF_RECORD_FILE):
        path = folder / name
        records[name] = None
        if path.is_file():
            try:
                records[name] = json.loads(path.read_text())
            except ValueError as error:
                problems.append(f"{path}: {error}")
    false_belief = list(store.results("false_belief").values())
    cogmap_requests = [evaluated[COGMAP_KEY]] if COGMAP_KEY in evaluated else []
    return EpisodeData(folder, head["agent"], head["scene_id"], head["scene"], head["settings"], turns, answers,
                       metrics, records["probe_record.json"], probes, problems,
                       records[FALSE_BELIEF_RECORD_FILE], false_belief, cogmap_requests)


def load_runs(roots: Iterable[Path]) -> list[EpisodeData]:
    """Every episode of the given run folders.

    Raises:
        FileNotFoundError: a folder is not a run folder (no ``run.json``).
    """
    episodes = []
    for root in roots:
        root = Path(root)
        if not (root / RUN_FILE).is_file():
            raise FileNotFoundError(f"{root}: not a run folder (no {RUN_FILE}); give the --out folder of `tos run`")
        episodes.extend(load_episode(folder) for folder in find_episode_folders(root))
    return episodes


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Per-turn mean of curves, each carried forward at its last value past its end."""
    length = max((len(c) for c in curves), default=0)
    padded = [list(c) + [c[-1]] * (length - len(c)) for c in curves if c]
    return [sum(c[i] for c in padded) / len(padded) for i in range(length)] if padded else []


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; ``None`` for fewer than 3 pairs or a constant series."""
    if len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def _probe_metrics(episode: EpisodeData) -> dict[str, Any] | None:
    if episode.probe_record is None:
        return None
    try:
        from theory_of_space.probes.metrics import probe_metrics
        from theory_of_space.probes.requests import ProbeRecord
    except ImportError:
        return None
    flat: dict[str, Any] = {}
    for family, value in probe_metrics(ProbeRecord.from_dict(episode.probe_record)).items():
        if isinstance(value, dict):
            flat.update({f"{family}_{k}": v for k, v in value.items() if isinstance(v, (int, float))})
        elif isinstance(value, (int, float)):
            flat[family] = value
    return flat


def false_belief_sample(record: dict[str, Any], *, inertia_skip_exact: bool = True) -> dict[str, Any] | None:
    """One stored false-belief record scored again: ``identification`` and ``probes``, as pooled by
    :func:`~theory_of_space.probes.false_belief.summarise_false_belief`; ``None`` without the probes package."""
    try:
        from theory_of_space.probes.false_belief_requests import FalseBeliefRecord
    except ImportError:
        return None
    stored = FalseBeliefRecord.from_dict(record)
    return {"identification": stored.identification, "probes": stored.score(inertia_skip_exact=inertia_skip_exact)}


def _false_belief_summary(episodes: Sequence[EpisodeData]) -> dict[str, Any] | None:
    samples = [s for s in (false_belief_sample(e.false_belief_record) for e in episodes
                           if e.false_belief_record is not None) if s is not None]
    if not samples:
        return None
    from theory_of_space.probes.false_belief import summarise_false_belief

    summary = summarise_false_belief(samples)
    summary["failed_calls"] = sum(1 for e in episodes for r in e.false_belief if r.get("error"))
    return summary


def summarise_group(episodes: Sequence[EpisodeData]) -> dict[str, Any]:
    """The metrics of one group of episodes (see the module docstring)."""
    first = episodes[0]
    exploration = {key: _mean([e.metrics.get("exploration", {}).get(key) for e in episodes])
                   for key in EXPLORATION_KEYS}
    exploration["cost_usd"] = sum(
        float((r.get("call") or {}).get("cost_usd") or 0.0)
        for e in episodes
        for r in (*e.turns, *e.cogmap_requests, *e.probes, *e.answers, *e.false_belief)
    )
    exploration["failed_calls"] = sum(e.failed_calls for e in episodes)
    accuracy = aggregate((a["task"], float(a["score"]["value"])) for e in episodes for a in e.answers)
    probes = [m for m in (_probe_metrics(e) for e in episodes) if m is not None]
    probe_summary: dict[str, Any] = {}
    for key in sorted({k for m in probes for k, v in m.items() if isinstance(v, (int, float))}):
        probe_summary[key] = _mean([m.get(key) for m in probes])
    pairs = [(m.get("correctness_overall"), e.accuracy) for m, e in zip(probes, episodes)]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    return {
        "agent": first.agent,
        "world": first.settings["world"],
        "setting": first.settings["setting"],
        "think": first.settings.get("think", True),
        "proxy": first.settings.get("proxy") if first.settings["setting"] == "passive" else None,
        "episodes": len(episodes),
        "questions": sum(len(e.answers) for e in episodes),
        "exploration": exploration,
        "information_gain_curve": mean_curve([e.information_gain_curve() for e in episodes]),
        "accuracy": accuracy,
        "probes": probe_summary,
        "correlation": pearson([p[0] for p in pairs], [p[1] for p in pairs]),
        "false_belief": _false_belief_summary(episodes),
    }


def summarise(episodes: Sequence[EpisodeData], roots: Sequence[Path] = ()) -> dict[str, Any]:
    """The ``summary.json`` of episodes: one entry per group, in a stable order."""
    groups: dict[str, list[EpisodeData]] = {}
    for episode in sorted(episodes, key=lambda e: (e.group, str(e.folder))):
        groups.setdefault(episode.group, []).append(episode)
    return {
        "version": SUMMARY_VERSION,
        "runs": [str(r) for r in roots],
        "groups": {name: summarise_group(members) for name, members in groups.items()},
        "problems": [p for e in episodes for p in e.problems],
    }


# ==== text tables ====


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def exploration_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["Agent", "World", "Setting", "Episodes", "Node cov.", "Edge cov.", "Info gain", "Steps", "Action cost",
              "Cost $", "Failed calls"]
    rows = []
    for g in summary["groups"].values():
        x = g["exploration"]
        rows.append([g["agent"], g["world"], _setting(g), str(g["episodes"]), _pct(x["node_coverage"]),
                     _pct(x["edge_coverage"]), _pct(x["information_gain"]), _num(x["steps"]),
                     _num(x["action_cost"]), f"{x['cost_usd']:.4f}", str(x["failed_calls"])])
    return header, rows


def accuracy_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["Agent", "World", "Setting", "Avg step", *(TASKS[t].column for t in TASK_IDS), "Route", "Survey", "Avg"]
    rows = []
    for g in summary["groups"].values():
        a = g["accuracy"]
        step = g["exploration"]["steps"] if g["setting"] == "active" else None
        rows.append([g["agent"], g["world"], _setting(g), _num(step), *(_pct(a.get(t)) for t in TASK_IDS),
                     _pct(a.get("route")), _pct(a.get("survey")), _pct(a.get("overall"))])
    return header, rows


def gap_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Overall accuracy, active beside passive and text beside vision, per agent (the active–passive gap)."""
    cells: dict[str, dict[tuple[str, str], float | None]] = {}
    for g in summary["groups"].values():
        cells.setdefault(g["agent"], {})[(g["world"], g["setting"])] = g["accuracy"].get("overall")
    header = ["Agent"]
    for world in ("text", "vision"):
        header += [f"{world} active", f"{world} passive", f"{world} gap"]
    rows = []
    for agent, values in cells.items():
        row = [agent]
        for world in ("text", "vision"):
            active, passive = values.get((world, "active")), values.get((world, "passive"))
            gap = None if active is None or passive is None else active - passive
            row += [_pct(active), _pct(passive), _pct(gap)]
        rows.append(row)
    return header, rows


PROBE_COLUMNS = (
    ("Correctness ori", "correctness_facing"), ("Correctness pos", "correctness_pos"),
    ("Correctness overall", "correctness_overall"), ("Perception ori", "perception_facing"),
    ("Perception pos", "perception_pos"), ("L↔G ori", "local_global_facing"), ("L↔G pos", "local_global_pos"),
    ("Stability ori", "stability_facing"), ("Stability pos", "stability_pos"),
    ("Self-tracking ori", "self_tracking_facing"), ("Self-tracking pos", "self_tracking_pos"),
    ("Uncertainty", "uncertainty"),
)
"""The six probe families in the published column order, and the keys of ``probe_metrics`` they read."""


def probe_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    groups = [g for g in summary["groups"].values() if g["probes"]]
    if not groups:
        return None
    header = ["Agent", "World", "Setting", *(c for c, _ in PROBE_COLUMNS), "r (map, accuracy)"]
    rows = [[g["agent"], g["world"], _setting(g), *(_pct(g["probes"].get(k)) for _, k in PROBE_COLUMNS),
             _num(g["correlation"], 3)] for g in groups]
    return header, rows


FALSE_BELIEF_COLUMNS = (
    ("Ident. F1 pos", "f1_pos", "pct"), ("Ident. F1 ori", "f1_ori", "pct"), ("Ident. F1 overall", "f1_overall", "pct"),
    ("Steps", "steps", "num"), ("Redundancy", "redundancy", "num"), ("Correctness", "correctness", "pct"),
    ("Inertia pos", "inertia_pos", "pct"), ("Inertia ori", "inertia_ori", "pct"),
    ("Unchanged acc.", "unchanged_accuracy", "pct"), ("Retention", "unchanged_retention", "pct"),
)
"""The false-belief figures in table order (label, key of ``summarise_false_belief``, format)."""


def false_belief_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """One row per group that played the false-belief phase; the objects left out of inertia, by reason."""
    groups = [g for g in summary["groups"].values() if g.get("false_belief")]
    if not groups:
        return None
    header = ["Agent", "World", "Episodes", *(c for c, _, _ in FALSE_BELIEF_COLUMNS), "Left out of inertia",
              "Invalid maps", "Failed calls"]
    rows = [[g["agent"], g["world"], str(g["false_belief"]["n_samples"]), *false_belief_cells(g["false_belief"]),
             str(g["false_belief"]["failed_calls"])] for g in groups]
    return header, rows


def false_belief_cells(figures: dict[str, Any]) -> list[str]:
    """The cells of :data:`FALSE_BELIEF_COLUMNS`, then the objects left out of inertia by reason and the
    invalid maps, of pooled figures (:func:`~theory_of_space.probes.false_belief.summarise_false_belief`)."""
    cells = [_pct(figures.get(k)) if kind == "pct" else _num(figures.get(k), 2) for _, k, kind in FALSE_BELIEF_COLUMNS]
    skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(figures["skipped"].items())) or "none"
    return [*cells, skipped, str(figures["invalid_maps"])]


def _setting(group: dict[str, Any]) -> str:
    return group["setting"] + (f" ({group['proxy']} log)" if group.get("proxy") else "")


def summary_tables(summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The tables in the published order: (title, header, rows)."""
    tables = [("Exploration", *exploration_table(summary)), ("Accuracy per task", *accuracy_table(summary)),
              ("Overall accuracy: active vs passive, text vs vision", *gap_table(summary))]
    probes = probe_table(summary)
    if probes is not None:
        tables.append(("Cognitive-map probes", *probes))
    false_belief = false_belief_table(summary)
    if false_belief is not None:
        tables.append(("False belief", *false_belief))
    return tables


def format_summary(summary: dict[str, Any]) -> str:
    """The tables as Markdown text, for the terminal."""
    parts = [f"## {title}\n\n{_table(header, rows)}" for title, header, rows in summary_tables(summary)]
    if summary["problems"]:
        parts.append("## Problems found in stored files\n\n" + "\n".join(f"- {p}" for p in summary["problems"]))
    return "\n\n".join(parts)
