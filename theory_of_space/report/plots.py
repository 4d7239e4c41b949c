"""Figures of a report with matplotlib (the optional ``report`` extra), saved as SVG and PDF.

matplotlib is imported inside :func:`make_figures`; without it the report has its tables and no
figures, and says how to get them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from theory_of_space.report.summary import EpisodeData, mean_curve

INSTALL_HINT = 'pip install -e ".[report]" in your clone of theory_of_space'
REFERENCE_EXPLORERS = ("scout", "strategist")
REFERENCE_SCENES = 5
"""Scenes the reference explorers are played on when the run has no stored episode of theirs."""


def plotting_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _reference_curves(episodes: list[EpisodeData]) -> dict[str, list[float]]:
    """SCOUT's and STRATEGIST's mean information-gain curves on the run's scenes.

    Stored episodes of these scripted explorers are used as they are: their active episodes, or the
    passive episodes they explored; otherwise the explorer is played on the first
    :data:`REFERENCE_SCENES` scenes (deterministic and free, but STRATEGIST plans for a third of a
    second per scene, so a large run samples).
    """
    import gymnasium as gym

    from theory_of_space.agents.factory import make_agent
    from theory_of_space.runner.episode import run_episode
    from theory_of_space.world.scene import Scene

    curves: dict[str, list[float]] = {}
    scenes = list({e.scene_id: e.scene for e in episodes}.values())[:REFERENCE_SCENES]
    for name in REFERENCE_EXPLORERS:
        stored = [e.information_gain_curve() for e in episodes if e.turns and (
            (e.agent == name and e.settings["setting"] == "active")
            or (e.settings["setting"] == "passive" and e.settings.get("proxy") == name))]
        if stored:
            curves[name] = mean_curve(stored)
            continue
        played = []
        with gym.make("TheoryOfSpace/Explore-v0", reward="info_gain") as env:
            for data in scenes:
                scene = Scene.from_dict(data)
                result = run_episode(env, make_agent(name, scene=scene), options={"scene": scene})
                played.append([float(t.info.get("information_gain") or 0.0) for t in result.turns])
        curves[name] = mean_curve(played)
    return curves


def make_figures(summary: dict[str, Any], episodes: list[EpisodeData], folder: Path) -> list[Path]:
    """Write the report's figures to ``folder`` as SVG and PDF; returns the SVG paths (in report order).

    Figures: the mean information gain per turn of every active group against SCOUT and STRATEGIST;
    the probe metrics per group (when probes ran); belief inertia and correctness per group, and both
    against turns since each changed object was first seen again (when the false-belief phase ran).
    """
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    # SVG text as paths: the figure looks the same without the fonts, and hashes stay stable
    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "theory-of-space"})
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    figure = Figure(figsize=(6.4, 4.0))
    axis = figure.subplots()
    for name, curve in _reference_curves(episodes).items():
        axis.plot(range(1, len(curve) + 1), curve, linestyle="--", color="grey" if name == "scout" else "black",
                  label=f"{name.upper()} (scripted)")
    for label, group in summary["groups"].items():
        curve = group["information_gain_curve"]
        if group["setting"] == "active" and curve:
            axis.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=label)
    axis.set_xlabel("turn")
    axis.set_ylabel("information gain")
    axis.set_ylim(0, 1)
    axis.set_title("Information gain per turn")
    axis.legend(fontsize="small")
    written.append(_save(figure, folder / "information_gain"))

    probe_groups = {label: g["probes"] for label, g in summary["groups"].items() if g["probes"]}
    if probe_groups:
        from theory_of_space.report.summary import PROBE_COLUMNS

        figure = Figure(figsize=(8, 4.0))
        axis = figure.subplots()
        width = 0.8 / len(probe_groups)
        for i, (label, values) in enumerate(probe_groups.items()):
            xs = [j + i * width for j in range(len(PROBE_COLUMNS))]
            axis.bar(xs, [values.get(k) or 0.0 for _, k in PROBE_COLUMNS], width=width, label=label)
        axis.set_xticks([j + 0.4 - width / 2 for j in range(len(PROBE_COLUMNS))],
                        [c for c, _ in PROBE_COLUMNS], rotation=45, ha="right", fontsize="small")
        axis.set_ylim(0, 1)
        axis.set_title("Cognitive-map probes")
        axis.legend(fontsize="small")
        figure.tight_layout()
        written.append(_save(figure, folder / "probes"))

    false_belief = {label: g["false_belief"] for label, g in summary["groups"].items() if g.get("false_belief")}
    if false_belief:
        written.append(_inertia_figure(false_belief, folder))
        written.append(_revision_figure(false_belief, folder))
    return written


INERTIA_BARS = (("inertia_pos", "inertia pos"), ("inertia_ori", "inertia ori"),
                ("correctness_pos", "correctness pos"), ("correctness_ori", "correctness ori"))


def _inertia_figure(groups: dict[str, dict[str, Any]], folder: Path) -> Path:
    """Belief inertia (and correctness) of the changed objects, one bar group per agent; undefined values
    are not drawn, """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.0))
    axis = figure.subplots()
    width = 0.8 / len(INERTIA_BARS)
    labels = list(groups)
    for i, (key, name) in enumerate(INERTIA_BARS):
        xs = [j + i * width for j in range(len(labels)) if groups[labels[j]].get(key) is not None]
        ys = [groups[label][key] for label in labels if groups[label].get(key) is not None]
        axis.bar(xs, ys, width=width, label=name)
    axis.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels, rotation=20, ha="right",
                    fontsize="small")
    axis.set_ylim(-0.1, 1.05)
    axis.axhline(0, color="black", linewidth=0.5)
    axis.set_title("Belief inertia after the world changed (1: old belief kept, 0: revised)")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return _save(figure, folder / "inertia")


REVISION_PANELS = (("correctness", "correctness"), ("inertia", "inertia (1 kept, 0 revised)"),
                   ("n_correctness", "objects"))
"""The panels of the revision figure: key of a ``revision_curve`` point, axis label."""


def revision_series(points: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """Turns since first seen again and the values of ``key`` at each, an undefined value as NaN (a gap)."""
    return ([p["turns_since_seen"] for p in points],
            [math.nan if p.get(key) is None else float(p[key]) for p in points])


def _revision_figure(groups: dict[str, dict[str, Any]], folder: Path) -> Path:
    """Correctness and inertia of the changed objects against turns since each was first seen again, one line
    per agent, and the number of objects behind each point; an undefined point is not drawn."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 6.4))
    axes = figure.subplots(len(REVISION_PANELS), 1, sharex=True, height_ratios=[3, 3, 1.5])
    for label, figures in groups.items():
        points = figures.get("revision_curve") or []
        for axis, (key, _) in zip(axes, REVISION_PANELS):
            axis.plot(*revision_series(points, key), marker="o", markersize=3, label=label)
    for axis, (key, name) in zip(axes, REVISION_PANELS):
        axis.set_ylabel(name)
        if key != "n_correctness":
            axis.set_ylim(-0.1, 1.05)
            axis.axhline(0, color="black", linewidth=0.5)
    axes[-1].set_ylim(bottom=0)
    axes[-1].set_xlabel("turns since the changed object was first seen again")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title("Belief revision after a changed object was seen again")
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    return _save(figure, folder / "revision_curve")


def _save(figure: Any, stem: Path) -> Path:
    figure.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
    figure.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None})
    return stem.with_suffix(".svg")
