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
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any, Literal

from theory_of_space.probes.cogmap import MapEntry, map_prompt
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import (
    FalseBeliefEpisode,
    FalseBeliefRecord,
    run_false_belief_probes,
)
from theory_of_space.probes.replay import strip_budget_and_footer
from theory_of_space.runner.replay import episode_from_dict, episode_to_dict, replay_false_belief_phase
from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    ObjectState,
    paired_differences,
    write_jsonl,
)

ApplyTo = Literal["probes", "fb_phase", "all"]
APPLY_TO = ("probes", "fb_phase", "all")
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
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """False-belief episodes answered by a local model unsteered and steered, scored and paired by scene.

    ``apply_to`` chooses what is steered:

    - ``"probes"``: only the ``global_fb`` map probes. Probes never feed back into exploration, so
      the stored transcripts serve every condition and the comparison is exactly paired.
    - ``"fb_phase"``: only the false-belief phase's turns. Each episode's exploration is replayed
      from its stored transcript, the model plays the phase again (steered), and the probes of the
      new transcript are asked unsteered.
    - ``"all"``: the replayed phase's turns and the probes.

    The exploration phase is never steered: every condition starts the false-belief phase from
    the same stored exploration. With ``"fb_phase"`` and ``"all"`` the unsteered condition plays
    the phase again too, so every condition went through the same steps. Each condition's answers
    are scored with the false-belief metrics (inertia and correctness, position and orientation;
    identification when the phase is played).

    A run is resumable: an episode whose ``episodes/<scene>/<condition>.json`` exists is read
    back, not asked again.

    Args:
        episodes: played false-belief episodes (one per scene).
        agent: a model agent on a local model (``make_model_agent("hf:PATH")``) without a
            response cache; its ``client.local`` generates in batches, with steering hooks entered
            around each batch.
        conditions: name → ``(steerer, layer)`` or ``{layer: steerer}``; ``"unsteered"`` is added.
        out: run folder: ``episodes/<scene>/<condition>.json`` (re-scorable false-belief records;
            with a replayed phase also ``<condition>.transcript.json``, the replayed episode), ``steered_requests.json``
            (requests generated with the steerer attached, summed over resumed runs),
            ``summary.json`` and ``summary.md``.
        apply_to: what is steered (above).
        in_flight: requests in flight (the local model batches them).
        seed: seed of the bootstrap.
        env_kwargs: settings of the false-belief env of the stored run (``max_exp_steps``,
            ``max_false_belief_steps``...), for the replay.

    Returns:
        The summary: per condition the pooled false-belief figures and the number of steered
        requests, and per steered condition the paired differences from unsteered per metric (mean
        over scenes, 95 % bootstrap interval).

    Raises:
        ValueError: for another ``apply_to``, a condition named ``"unsteered"``, an agent without
            a local model, or one with a response cache (steered replies would come from it).
    """
    if apply_to not in APPLY_TO:
        raise ValueError(f"`apply_to`: expected one of {APPLY_TO}, got {apply_to!r}")
    local = getattr(getattr(agent, "client", None), "local", None)
    if local is None:
        raise ValueError("`agent`: expected a model agent on a local model (make_model_agent('hf:PATH'))")
    if getattr(agent, "cache", None) is not None:
        raise ValueError("`agent`: has a response cache, which would answer steered requests with stored replies")
    if UNSTEERED in conditions:
        raise ValueError(f"`conditions`: {UNSTEERED!r} is added by the experiment; rename that condition")
    root = Path(out)
    all_conditions: dict[str, Any] = {UNSTEERED: None, **conditions}
    per_scene: dict[str, dict[str, dict[str, Any]]] = {}
    summary: dict[str, Any] = {"apply_to": apply_to, "conditions": {}, "paired": {}, "steered_requests": {}}
    counts_file = root / "steered_requests.json"
    counts = json.loads(counts_file.read_text()) if counts_file.is_file() else {}
    for name, condition in all_conditions.items():
        counter = _Counter(_wrapper(condition), int(counts.get(name, 0)))
        steer_phase = counter if apply_to in ("fb_phase", "all") and condition is not None else None
        steer_probes = counter if apply_to in ("probes", "all") and condition is not None else None
        folders = {e.scene.scene_id: root / "episodes" / e.scene.scene_id for e in episodes}
        records: dict[str, FalseBeliefRecord] = {}
        todo = []
        for episode in episodes:
            path = folders[episode.scene.scene_id] / f"{name}.json"
            if path.is_file():
                records[episode.scene.scene_id] = FalseBeliefRecord.from_dict(json.loads(path.read_text()))
            else:
                todo.append(episode)
        if apply_to != "probes" and todo:
            with _wrapped(local, steer_phase):
                todo = _parallel(
                    partial(_replay, agent=agent, folders=folders, name=name, env_kwargs=env_kwargs), todo, in_flight
                )
        with _wrapped(local, steer_probes):
            for episode in todo:
                record = run_false_belief_probes(episode, agent, in_flight=in_flight)
                folder = folders[episode.scene.scene_id]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name}.json").write_text(json.dumps(record.to_dict()) + "\n")
                records[episode.scene.scene_id] = record
        samples = []
        for scene_id, record in sorted(records.items()):
            scores = record.score()
            per_scene.setdefault(scene_id, {})[name] = scores
            samples.append({"identification": record.identification, "probes": scores})
        summary["conditions"][name] = summarise_false_belief(samples)
        summary["steered_requests"][name] = counts[name] = counter.calls
        root.mkdir(parents=True, exist_ok=True)
        counts_file.write_text(json.dumps(counts) + "\n")
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


Wrapper = Callable[[Any], AbstractContextManager[Any]]


class _Counter:
    """A generation wrapper that counts the requests (batch rows) it steers; ``None`` steers nothing."""

    def __init__(self, wrapper: Wrapper | None, calls: int = 0) -> None:
        self.wrapper = wrapper
        self.calls = calls

    def __call__(self, call: Any) -> AbstractContextManager[Any]:
        assert self.wrapper is not None
        self.calls += int(call.inputs["input_ids"].shape[0])
        return self.wrapper(call)


def _wrapper(condition: Any) -> Wrapper | None:
    from theory_of_space.steering.hooks import attach

    if condition is None:
        return None
    if isinstance(condition, Mapping):
        return lambda call, c=dict(condition): attach(call.model, c)
    return lambda call, c=condition: attach(call.model, c[0], c[1])


def _wrapped(local: Any, counter: _Counter | None) -> AbstractContextManager[Any]:
    if counter is None or counter.wrapper is None:
        return nullcontext()
    return local.wrapped(counter)


def _parallel(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """``fn`` over ``items`` on threads (so a local model batches their requests), results in order."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(fn, items))


def _replay(
    episode: FalseBeliefEpisode,
    *,
    agent: Any,
    folders: Mapping[str, Path],
    name: str,
    env_kwargs: Mapping[str, Any] | None,
) -> FalseBeliefEpisode:
    played, _ = replay_false_belief_phase(episode, agent, env_kwargs=env_kwargs)
    folder = folders[episode.scene.scene_id]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.transcript.json").write_text(json.dumps(episode_to_dict(played), default=str) + "\n")
    return played


def stored_condition(
    episodes: Sequence[FalseBeliefEpisode], out: str | Path, name: str = UNSTEERED
) -> tuple[list[FalseBeliefEpisode], list[FalseBeliefRecord]]:
    """One condition of a stored experiment: the episodes its probes saw and its records, in scene order.

    The episodes are the replayed ones where the run replayed the phase, else ``episodes``.

    Raises:
        FileNotFoundError: naming the first missing record.
    """
    played, records = [], []
    for episode in episodes:
        folder = Path(out) / "episodes" / episode.scene.scene_id
        record_file, transcript = folder / f"{name}.json", folder / f"{name}.transcript.json"
        if not record_file.is_file():
            raise FileNotFoundError(f"no stored record {record_file}")
        records.append(FalseBeliefRecord.from_dict(json.loads(record_file.read_text())))
        played.append(episode_from_dict(json.loads(transcript.read_text())) if transcript.is_file() else episode)
    return played, records


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _markdown(summary: Mapping[str, Any]) -> str:
    lines = [
        f"# False-belief probes, steering applied to: {summary['apply_to']}",
        "",
        "| condition | inertia pos | inertia ori | correctness pos | correctness ori | invalid maps | steered requests"
        " |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["conditions"].items():
        cells = [_cell(s[k]) for k in PAIRED_METRICS]
        lines.append(f"| {name} | {' | '.join(cells)} | {s['invalid_maps']} | {summary['steered_requests'][name]} |")
    for name, paired in summary["paired"].items():
        lines += ["", f"{name} minus unsteered (mean over scenes, 95 % bootstrap interval):", ""]
        for key, d in paired.items():
            lines.append(
                f"- {key}: {_cell(d['mean'])} [{_cell(d['low'])}, {_cell(d['high'])}] ({d['n_scenes']} scenes)"
            )
    return "\n".join([*lines, ""])
