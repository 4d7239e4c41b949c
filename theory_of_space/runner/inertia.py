"""False-belief episodes as the plain records the belief-inertia pipeline reads.

The steering pipeline builds contrastive pairs from :class:`~theory_of_space.steering.inertia.InertiaEpisode`
records, which know nothing of scenes or the env. This module turns a played false-belief episode
into one: changed objects in the start frame (origin at the start cell, north up), and for each
probed false-belief turn the conversation its ``global_fb`` probe sees (the env message's budget
line and footer removed) and that probe's prompt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

from theory_of_space.probes.cogmap import MapEntry, map_prompt
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import FalseBeliefEpisode, run_false_belief_probes
from theory_of_space.probes.replay import strip_budget_and_footer
from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    ObjectState,
    paired_differences,
    write_jsonl,
)

ApplyTo = Literal["probes"]
UNSTEERED = "unsteered"
PAIRED_METRICS = ("inertia_pos", "inertia_ori", "correctness_pos", "correctness_ori")


def inertia_episode(
    episode: FalseBeliefEpisode, *, seed: int = 0, exploration_map: Mapping[str, MapEntry] | None = None
) -> InertiaEpisode:
    """The pair builder's view of a false-belief episode.

    Args:
        episode: a played episode (``false_belief_episode(result, changed)``).
        seed: the episode seed, kept with every pair.
        exploration_map: the model's last exploration-phase global map (parsed), for pairs whose
            negative repeats the model's own old belief.

    Returns:
        An :class:`InertiaEpisode` whose turns are the probed false-belief turns.
    """
    scene = episode.scene
    changes = tuple(
        ChangedObject(
            name=c.name,
            kind=c.kind,
            old=ObjectState(scene.allocentric(c.cell_from), None if c.facing_from is None else c.facing_from.label),
            new=ObjectState(scene.allocentric(c.cell_to), None if c.facing_to is None else c.facing_to.label),
        )
        for c in episode.changes
    )
    changed_names = {c.name for c in episode.changes}
    turns = []
    for turn in episode.turns:
        messages = list(episode.messages[: turn.message_index + 1])
        context = [{"role": m.role, "content": m.content} for m in messages]
        context[-1]["content"] = strip_budget_and_footer(context[-1]["content"])
        first = tuple(sorted(n for n, t in episode.first_seen.items() if t == turn.turn and n in changed_names))
        turns.append(FalseBeliefTurn(turn.turn, tuple(context), first, global_fb_prompt=map_prompt("global_fb")))
    model_map = None
    if exploration_map is not None:
        model_map = {name: entry.to_dict() for name, entry in exploration_map.items()}
    return InertiaEpisode(scene.scene_id, seed, changes, tuple(turns), model_map)


def write_inertia_episodes(episodes: Iterable[InertiaEpisode], path: str | Path) -> Path:
    """Write episodes as JSON lines, the file ``tos steer pairs --runs`` reads.

    Returns:
        The file written.
    """
    out = Path(path)
    if out.suffix != ".jsonl":
        out = out / "inertia_episodes.jsonl"
    write_jsonl(out, (e.to_dict() for e in episodes))
    return out


def run_inertia_experiment(
    episodes: Sequence[FalseBeliefEpisode],
    agent: Any,
    conditions: Mapping[str, tuple[Any, int] | Mapping[int, Any]],
    out: str | Path,
    *,
    apply_to: ApplyTo = "probes",
    in_flight: int = 8,
    seed: int = 0,
) -> dict[str, Any]:
    """The false-belief map probes of stored episodes, answered by a local model unsteered and steered.

    With ``apply_to="probes"`` only the probes are steered: probes never feed back into
    exploration, so the same transcripts serve every condition and the comparison is exactly
    paired. Each condition's answers are scored with the false-belief metrics (inertia and
    correctness, position and orientation).

    Args:
        episodes: played false-belief episodes (one per scene).
        agent: a model agent on a local model (``make_model_agent("hf:PATH")``); its
            ``client.local`` generates in batches, with steering hooks entered around each batch.
        conditions: name → ``(steerer, layer)`` or ``{layer: steerer}``; ``"unsteered"`` is added.
        out: run folder: ``episodes/<scene>/<condition>.json`` (re-scorable false-belief records),
            ``summary.json`` and ``summary.md``.
        apply_to: what is steered; only ``"probes"`` is implemented.
        in_flight: probe requests in flight (the local model batches them).
        seed: seed of the bootstrap.

    Returns:
        The summary: per condition the pooled false-belief figures, and per steered condition the
        paired differences from unsteered per metric (mean over scenes, 95 % bootstrap interval).

    Raises:
        ValueError: for another ``apply_to`` or an agent without a local model.
    """
    from theory_of_space.steering.hooks import attach

    if apply_to != "probes":
        raise ValueError(f"`apply_to`: only 'probes' is implemented, got {apply_to!r}")
    local = getattr(getattr(agent, "client", None), "local", None)
    if local is None:
        raise ValueError("`agent`: expected a model agent on a local model (make_model_agent('hf:PATH'))")
    root = Path(out)
    all_conditions: dict[str, Any] = {UNSTEERED: None, **conditions}
    per_scene: dict[str, dict[str, dict[str, Any]]] = {}
    summary: dict[str, Any] = {"apply_to": apply_to, "conditions": {}, "paired": {}}
    for name, condition in all_conditions.items():
        if condition is None:
            wrapper = None
        elif isinstance(condition, Mapping):
            wrapper = lambda call, c=dict(condition): attach(call.model, c)  # noqa: E731
        else:
            wrapper = lambda call, c=condition: attach(call.model, c[0], c[1])  # noqa: E731
        samples = []
        with local.wrapped(wrapper) if wrapper is not None else nullcontext():
            for episode in episodes:
                record = run_false_belief_probes(episode, agent, in_flight=in_flight)
                folder = root / "episodes" / episode.scene.scene_id
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name}.json").write_text(json.dumps(record.to_dict()) + "\n")
                scores = record.score()
                per_scene.setdefault(episode.scene.scene_id, {})[name] = scores
                samples.append({"identification": record.identification, "probes": scores})
        summary["conditions"][name] = summarise_false_belief(samples)
    scenes = sorted(per_scene)
    for name in conditions:
        summary["paired"][name] = {
            key: paired_differences(
                scenes,
                [_nan(per_scene[s][name][key]) for s in scenes],
                [_nan(per_scene[s][UNSTEERED][key]) for s in scenes],
                seed=seed,
            )
            for key in PAIRED_METRICS
        }
    (root / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (root / "summary.md").write_text(_markdown(summary))
    return summary


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _markdown(summary: Mapping[str, Any]) -> str:
    lines = [
        f"# False-belief probes, steering applied to: {summary['apply_to']}",
        "",
        "| condition | inertia pos | inertia ori | correctness pos | correctness ori | invalid maps |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary["conditions"].items():
        cells = [_cell(s[k]) for k in PAIRED_METRICS]
        lines.append(f"| {name} | {' | '.join(cells)} | {s['invalid_maps']} |")
    for name, paired in summary["paired"].items():
        lines += ["", f"{name} minus unsteered (mean over scenes, 95 % bootstrap interval):", ""]
        for key, d in paired.items():
            lines.append(
                f"- {key}: {_cell(d['mean'])} [{_cell(d['low'])}, {_cell(d['high'])}] ({d['n_scenes']} scenes)"
            )
    return "\n".join([*lines, ""])
