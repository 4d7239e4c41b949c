"""The belief-inertia experiment: false-belief episodes of a local model, unsteered and steered, as a benchmark run.

Each condition (``unsteered``, and one per steerer) is an agent of one pipeline run
(:func:`~theory_of_space.runner.pipeline.run_experiment`), stored in the run layout under its own
name, so a steered run resumes request by request, ``tos rescore`` re-scores it and ``tos report``
shows one row per condition. The conditions share what ``apply_to`` leaves unsteered: the base
episodes (played by the model unsteered, or by a scripted player) are run first, and each condition
starts from a copy of their stored turns.

The module also turns stored false-belief episodes into the plain
:class:`~theory_of_space.steering.inertia.InertiaEpisode` records the pair builder reads: changed
objects in the start frame, and for each probed false-belief turn the conversation its
``global_fb`` probe sees (the env message's budget line and footer removed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from theory_of_space.agents.base import Agent
from theory_of_space.probes.cogmap import MapEntry, map_prompt, parse_cogmap
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import FalseBeliefEpisode, FalseBeliefRecord
from theory_of_space.probes.replay import strip_budget_and_footer
from theory_of_space.runner.evaluate import EvaluationSettings
from theory_of_space.runner.experiment import Experiment, safe_name
from theory_of_space.runner.false_belief_phase import (
    FALSE_BELIEF_RECORD_FILE,
    is_false_belief_turn_key,
    stored_false_belief_episode,
)
from theory_of_space.runner.progress import Progress
from theory_of_space.runner.roles import AgentRoles, Meter, MeteredAgent, build_roles
from theory_of_space.runner.store import RUN_FILE, EpisodeStore, write_json
from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    ObjectState,
    paired_differences,
    write_jsonl,
)
from theory_of_space.world.scene import Scene, scene_seed

ApplyTo = Literal["probes", "fb_phase", "all"]
APPLY_TO = ("probes", "fb_phase", "all")
PLAYERS = ("model", "updating", "inertial")
UNSTEERED = "unsteered"
PAIRED_METRICS = ("inertia_pos", "inertia_ori", "correctness_pos", "correctness_ori")
STEERING_FILE = "steering.json"
PAIRS_FILE = "steering_pairs.json"
SUMMARY_FILE = "steering_summary.json"
SUMMARY_MD_FILE = "steering_summary.md"

Condition = tuple[Any, int] | Mapping[int, Any]
"""A steered condition: ``(steerer, layer)``, or ``{layer: steerer}`` to act on several blocks at once."""


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
    """Write episodes as JSON lines, a file ``tos steer pairs --runs`` reads.

    Returns:
        The file written.
    """
    out = Path(path)
    if out.suffix != ".jsonl":
        out = out / "inertia_episodes.jsonl"
    write_jsonl(out, (e.to_dict() for e in episodes))
    return out


# ==== reading stored runs ====


def stored_episode_folders(root: str | Path, agent: str | None = None) -> list[Path]:
    """The episode folders of a run that hold a finished false-belief phase, sorted (of one agent if given)."""
    base = Path(root) if agent is None else Path(root) / safe_name(agent)
    return sorted(p.parent for p in base.rglob(FALSE_BELIEF_RECORD_FILE))


def read_stored_episode(
    folder: str | Path, max_false_belief_steps: int
) -> tuple[FalseBeliefEpisode, FalseBeliefRecord]:
    """One stored false-belief episode of a run (rebuilt from its turns) and its probe record.

    Raises:
        ValueError: naming the file of a record that cannot be read, or a folder whose turns are incomplete.
    """
    folder = Path(folder)
    try:
        head = json.loads((folder / "scene.json").read_text())
        scene = Scene.from_dict(head["scene"])
        settings = EvaluationSettings.from_dict(head["settings"], where=f"{folder / 'scene.json'}: settings")
        record = FalseBeliefRecord.from_dict(json.loads((folder / FALSE_BELIEF_RECORD_FILE).read_text()))
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{folder}: cannot read the stored false-belief episode ({error})") from error
    store = EpisodeStore(folder, readonly=True)
    return stored_false_belief_episode(store, scene, settings, max_false_belief_steps), record


def run_false_belief_steps(root: str | Path) -> int:
    """The false-belief budget a run folder was made with (from its ``run.json``).

    Raises:
        FileNotFoundError: when ``root`` is not a run folder.
    """
    path = Path(root) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{root}: not a run folder (no {RUN_FILE})")
    return int(json.loads(path.read_text())["config"]["max_false_belief_steps"])


def read_run_inertia_episodes(root: str | Path, agent: str | None = None) -> list[InertiaEpisode]:
    """The pair builder's episodes of every finished false-belief episode of a run (``tos run`` or ``tos steer eval``).

    The negative of ``old_source="model"`` pairs is read from each episode's last exploration map.
    """
    steps = run_false_belief_steps(root)
    out = []
    for folder in stored_episode_folders(root, agent):
        episode, record = read_stored_episode(folder, steps)
        global_requests = [r for r in record.requests if r["kind"] == "global"]
        exploration_map = None
        if global_requests:
            answer = record.answers.get(global_requests[-1]["key"])
            parsed = parse_cogmap(answer.reply if answer is not None and not answer.error else None, "global")
            exploration_map = parsed.entries if parsed.valid else None
        out.append(inertia_episode(episode, seed=scene_seed(episode.scene), exploration_map=exploration_map))
    return out


# ==== the experiment ====


def steered_agent(agent: Any, steerers: Mapping[int, Any]) -> Any:
    """A copy of a local model agent whose every request is generated with ``steerers`` (block → steerer) attached.

    The copy shares the loaded weights and the request limit; requests of the copy and of the
    original are never batched together.
    """
    from theory_of_space.agents.clients.hf_local import HFLocalClient
    from theory_of_space.agents.model_agent import ModelAgent
    from theory_of_space.steering.hooks import attach

    layers = dict(steerers)
    client = HFLocalClient(agent.config, agent.client.local, wrapper=lambda call: attach(call.model, layers))
    return ModelAgent(agent.config, client)


def _layers(condition: Condition) -> dict[int, Any]:
    if isinstance(condition, Mapping):
        return {int(layer): steerer for layer, steerer in condition.items()}
    steerer, layer = condition
    return {int(layer): steerer}


def _describe(condition: Condition) -> dict[str, Any]:
    return {
        str(layer): {
            "method": type(steerer).__name__,
            "T": getattr(steerer, "T", None),
            "fingerprint": steerer.fingerprint(),
        }
        for layer, steerer in sorted(_layers(condition).items())
    }


def _check_steering_file(root: Path, settings: dict[str, Any], conditions: dict[str, Any]) -> None:
    """Write ``steering.json``, or check that a resumed run has the same settings and no changed condition."""
    path = root / STEERING_FILE
    if path.is_file():
        stored = json.loads(path.read_text())
        lines = [f"{k}: stored {stored['settings'].get(k)!r}, now {v!r}"
                 for k, v in settings.items() if stored["settings"].get(k) != v]
        lines += [f"condition {name!r}: stored {stored['conditions'][name]}, now {c}"
                  for name, c in conditions.items() if name in stored["conditions"] and stored["conditions"][name] != c]
        if lines:
            problems = "\n  ".join(lines)
            raise ValueError(f"{path}: the run folder holds another experiment; use another folder\n  {problems}")
        conditions = {**stored["conditions"], **conditions}
    write_json(path, {"settings": settings, "conditions": conditions})


def _base_label(player: str) -> str:
    """The agent folder of the base episodes: ``unsteered`` when the model plays them, else the player's name."""
    return UNSTEERED if player == "model" else player


def _explores_again(apply_to: str, player: str) -> bool:
    """Whether the steered conditions play their own exploration: ``all`` with the model as the player."""
    return apply_to == "all" and player == "model"


def _copied(phase: str, key: str, apply_to: str, player: str) -> bool:
    """Whether a condition other than the base one starts with the base episode's stored result under ``key``."""
    if phase == "explore":
        return not _explores_again(apply_to, player)
    return phase == "false_belief" and apply_to == "probes" and is_false_belief_turn_key(key)


def _steered(phase: str, key: str, apply_to: str, player: str) -> bool:
    """Whether a steered condition's stored result under ``key`` was generated with its steerers attached."""
    if phase == "explore":
        return _explores_again(apply_to, player)
    is_turn = is_false_belief_turn_key(key)
    return apply_to == "all" or (is_turn if apply_to == "fb_phase" else not is_turn)


def _seed_condition(root: Path, base: str, label: str, apply_to: str, player: str) -> None:
    """Copy the base episodes' results that ``label`` shares with them (never failed ones, never over its own)."""
    base_root = root / safe_name(base)
    for folder in stored_episode_folders(root, base):
        source = EpisodeStore(folder, readonly=True)
        target = EpisodeStore(root / safe_name(label) / folder.relative_to(base_root))
        for phase in ("explore", "false_belief"):
            for key, record in source.results(phase).items():
                shared = _copied(phase, key, apply_to, player) and not record.get("error")
                if shared and target.get(phase, key) is None:
                    target.put(phase, key, record)


def run_inertia_experiment(
    agent: Any,
    scenes: str,
    conditions: Mapping[str, Condition],
    out: str | Path,
    *,
    apply_to: ApplyTo = "probes",
    player: str = "model",
    max_exp_steps: int = 20,
    max_false_belief_steps: int = 15,
    think: bool = True,
    in_flight: int = 8,
    seed: int = 0,
    pair_diagnostics: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """False-belief episodes answered by a local model unsteered and steered, stored as one benchmark run.

    The base episodes are played first: by the model itself, unsteered (``player="model"``; they
    are then the ``unsteered`` condition), or by a scripted player (``"updating"``, ``"inertial"``;
    stored under its name). ``apply_to`` chooses which requests each steered condition generates
    with its steerers attached; everything else it copies from the base episodes:

    - ``"probes"``: the false-belief map probes (the last exploration map and a map after each
      probed phase turn). The exploration and the phase's turns are the base episode's, so every
      condition answers the same prompts and the comparison is exactly paired.
    - ``"fb_phase"``: the false-belief phase's turns; the exploration is the base episode's and the
      maps are asked unsteered.
    - ``"all"``: every request: with ``player="model"`` the condition explores again, steered;
      with a scripted player the exploration is the player's (nothing of it can be steered).

    With a scripted player, ``unsteered`` is the model in the same role as each steered condition
    (answering the maps, or playing the phase too), with no steerer.

    Everything is stored under ``out`` in the layout of ``tos run`` (one agent folder per
    condition, every request's result under its key as it arrives), with ``steering.json`` (the
    settings and each condition's steerers), ``steering_summary.json`` and ``steering_summary.md``.
    A rerun asks only what is missing or failed; a folder holding other settings, or another
    steerer under a condition's name, is refused; new conditions may be added.

    Args:
        agent: a model agent on a local model (``make_model_agent("hf:PATH")``) without a response
            cache (steered requests would be answered from it).
        scenes: the scenes, as ``tos run --scenes`` writes them (``0:8``, ``3,5,tos:run00``).
        conditions: name → ``(steerer, layer)`` or ``{layer: steerer}``; ``unsteered`` is added.
        out: the run folder.
        apply_to: what is steered (above).
        player: who plays the base episodes: ``model``, ``updating`` or ``inertial``.
        max_exp_steps, max_false_belief_steps, think: the episodes' budgets and thinking setting.
        in_flight: episodes and requests in flight (the local model batches them).
        seed: seed of the bootstrap intervals.
        pair_diagnostics: also build the contrastive pairs of the base episodes and report each
            condition's preference margin and ``h`` before and after on them
            (:func:`~theory_of_space.steering.inertia_run.condition_diagnostics`), written to
            ``steering_pairs.json``.
        progress: the display to update; ``None`` shows nothing.

    Returns:
        The summary: per condition the pooled false-belief figures, failed requests, the number of
        requests steered and the decode rate of the requests it generated, and per steered
        condition the paired differences from unsteered per metric (mean over scenes, 95 %
        bootstrap interval); with ``pair_diagnostics``, ``pairs``.

    Raises:
        ValueError: for another ``apply_to`` or ``player``, a condition named ``unsteered`` or after
            the player, an agent without a local model or with a response cache, or a run folder of
            another experiment.
    """
    from theory_of_space import __version__
    from theory_of_space.runner.pipeline import run_experiment

    if apply_to not in APPLY_TO:
        raise ValueError(f"`apply_to`: expected one of {APPLY_TO}, got {apply_to!r}")
    if player not in PLAYERS:
        raise ValueError(f"`player`: expected one of {PLAYERS}, got {player!r}")
    if getattr(getattr(agent, "client", None), "local", None) is None:
        raise ValueError("`agent`: expected a model agent on a local model (make_model_agent('hf:PATH'))")
    if getattr(agent, "cache", None) is not None:
        raise ValueError("`agent`: has a response cache, which would answer steered requests with stored replies")
    for name in conditions:
        if name in (UNSTEERED, player):
            raise ValueError(f"`conditions`: {name!r} is a name the experiment uses itself; rename that condition")
        if safe_name(name) != name:
            raise ValueError(f"`conditions`: {name!r} is not a folder name (use letters, digits, '.', '_' and '-')")
    root = Path(out)
    config = agent.config
    settings = {
        "model": config.model,
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "apply_to": apply_to,
        "player": player,
        "package_version": __version__,
    }
    root.mkdir(parents=True, exist_ok=True)
    _check_steering_file(root, settings, {name: _describe(c) for name, c in conditions.items()})
    steered = {name: steered_agent(agent, _layers(c)) for name, c in conditions.items()}

    def roles(label: str, meter: Meter) -> AgentRoles:
        if label == player:
            return build_roles(player, meter=meter)
        plain = MeteredAgent(agent, meter)
        if label == UNSTEERED:
            return AgentRoles(spec=label, meter=meter, model=plain)
        copy: Agent = MeteredAgent(steered[label], meter)
        if apply_to == "probes":
            return AgentRoles(spec=label, meter=meter, model=plain, map_writer=copy)
        if apply_to == "fb_phase":
            return AgentRoles(spec=label, meter=meter, model=plain, phase_player=copy)
        return AgentRoles(spec=label, meter=meter, model=copy)

    base = _base_label(player)
    others = [name for name in (UNSTEERED, *conditions) if name != base]
    experiment = Experiment(
        agents=(base,),
        scenes=scenes,
        phases=("explore", "false_belief"),
        out=str(root),
        think=think,
        max_exp_steps=max_exp_steps,
        max_false_belief_steps=max_false_belief_steps,
        in_flight=in_flight,
    )
    outcomes = [run_experiment(experiment, progress=progress, make_roles=roles)]
    for label in others:
        _seed_condition(root, base, label, apply_to, player)
    if others:
        outcomes.append(run_experiment(replace(experiment, agents=tuple(others)), progress=progress, make_roles=roles))
    if pair_diagnostics and conditions:
        _write_pair_diagnostics(root, agent, base, {name: _layers(c) for name, c in conditions.items()}, seed)
    summary = summarise_inertia_run(root, seed=seed)
    summary["errors"] = [error for outcome in outcomes for error in outcome.errors]
    write_json(root / SUMMARY_FILE, summary)
    (root / SUMMARY_MD_FILE).write_text(_markdown(summary))
    return summary


def _write_pair_diagnostics(
    root: Path, agent: Any, base: str, conditions: dict[str, dict[int, Any]], seed: int
) -> None:
    """Margins and ``h`` of every condition on the pairs of the base episodes, to ``steering_pairs.json``."""
    from theory_of_space.steering.inertia import pairs_from_episodes
    from theory_of_space.steering.inertia_run import condition_diagnostics

    local = agent.client.local
    pairs = pairs_from_episodes(read_run_inertia_episodes(root, base), seed=seed)
    write_json(root / PAIRS_FILE, condition_diagnostics(local.model, local.tokenizer, pairs, conditions, seed=seed))


def summarise_inertia_run(root: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """The experiment's figures, read from a stored run folder (so a stored run re-scores offline).

    Per condition: the pooled false-belief figures, failed requests, the requests generated with
    steering attached; per steered condition: paired differences from ``unsteered`` over the scenes
    both finished.
    """
    root = Path(root)
    stored = json.loads((root / STEERING_FILE).read_text())
    apply_to, player = stored["settings"]["apply_to"], stored["settings"]["player"]
    per_scene: dict[str, dict[str, dict[str, Any]]] = {}
    summary: dict[str, Any] = {"apply_to": apply_to, "player": player, "conditions": {}, "paired": {}}
    base = _base_label(player)
    for label in dict.fromkeys([base, UNSTEERED, *stored["conditions"]]):
        samples, failed, steered, tokens, seconds = [], 0, 0, 0, 0.0
        is_steered = label in stored["conditions"]
        for folder in stored_episode_folders(root, label):
            record = FalseBeliefRecord.from_dict(json.loads((folder / FALSE_BELIEF_RECORD_FILE).read_text()))
            scores = record.score()
            scene_id = json.loads((folder / "scene.json").read_text())["scene_id"]
            per_scene.setdefault(scene_id, {})[label] = scores
            samples.append({"identification": record.identification, "probes": scores})
            store = EpisodeStore(folder, readonly=True)
            for phase in ("explore", "false_belief"):
                for key, result in store.results(phase).items():
                    failed += bool(result.get("error"))
                    steered += is_steered and _steered(phase, key, apply_to, player)
                    # what the condition generated itself: the model's base episodes, or what it did not copy
                    generated = player == "model" if label == base else not _copied(phase, key, apply_to, player)
                    call = result.get("call") or {}
                    if generated and not result.get("error"):
                        tokens += int(call.get("output_tokens") or 0)
                        seconds += float(call.get("latency_s") or 0.0)
        summary["conditions"][label] = {
            **summarise_false_belief(samples),
            "failed_requests": failed,
            "steered_requests": steered,
            "tokens_per_s": tokens / seconds if seconds > 0 else None,
        }
    rate = summary["conditions"].get(UNSTEERED, {}).get("tokens_per_s")
    for label in stored["conditions"]:
        own = summary["conditions"].get(label, {}).get("tokens_per_s")
        summary["conditions"][label]["time_ratio"] = rate / own if rate and own else None
    if (root / PAIRS_FILE).is_file():
        summary["pairs"] = json.loads((root / PAIRS_FILE).read_text())
    for name in stored["conditions"]:
        scenes = sorted(s for s, by in per_scene.items() if name in by and UNSTEERED in by)
        summary["paired"][name] = {
            key: paired_differences(
                scenes,
                [_nan(per_scene[s][name][key]) for s in scenes],
                [_nan(per_scene[s][UNSTEERED][key]) for s in scenes],
                seed=seed,
            )
            for key in PAIRED_METRICS
        }
    return summary


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _markdown(summary: Mapping[str, Any]) -> str:
    lines = [
        f"# Belief inertia, steering applied to: {summary['apply_to']} (base episodes: {summary['player']})",
        "",
        "| condition | episodes | inertia pos | inertia ori | correctness pos | correctness ori | invalid maps "
        "| failed requests | steered requests | decode tok/s | time / unsteered |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["conditions"].items():
        cells = [_cell(s[k]) for k in PAIRED_METRICS]
        rate = "–" if s["tokens_per_s"] is None else f"{s['tokens_per_s']:.1f}"
        lines.append(
            f"| {name} | {s['n_samples']} | {' | '.join(cells)} | {s['invalid_maps']} | {s['failed_requests']} "
            f"| {s['steered_requests']} | {rate} | {_cell(s.get('time_ratio'))} |"
        )
    for name, paired in summary["paired"].items():
        lines += ["", f"{name} minus unsteered (mean over scenes, 95 % bootstrap interval):", ""]
        for key, d in paired.items():
            lines.append(
                f"- {key}: {_cell(d['mean'])} [{_cell(d['low'])}, {_cell(d['high'])}] ({d['n_scenes']} scenes)"
            )
    pairs = summary.get("pairs")
    if pairs and pairs["n_pairs"]:
        base = pairs["unsteered"]
        lines += [
            "",
            f"On the {pairs['n_pairs']} contrastive pairs of the base episodes (teacher-forced; h of a sketch "
            "barrier fitted on the same pairs):",
            "",
            f"- unsteered: margin {_cell(base['margin'])}, "
            f"forced-choice inertia {_cell(base['forced_choice_inertia'])}",
        ]
        for name, c in pairs["conditions"].items():
            d = c["margin_delta"]
            h = ", ".join(f"L{layer} {_cell(v['h_before'])} → {_cell(v['h_after'])}" for layer, v in c["h"].items())
            lines.append(
                f"- {name}: margin {_cell(c['margin'])} "
                f"(Δ {_cell(d['mean'])} [{_cell(d['low'])}, {_cell(d['high'])}]), "
                f"forced-choice inertia {_cell(c['forced_choice_inertia'])}, mean h {h}"
            )
    for error in summary.get("errors", []):
        lines.append(f"\nepisode failed (rerun to retry it): {error}")
    return "\n".join([*lines, ""])
