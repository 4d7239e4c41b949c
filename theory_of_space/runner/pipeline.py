"""Run an :class:`~theory_of_space.runner.experiment.Experiment`: every episode through its phases, stored.

:func:`run_experiment` checks everything a person typed (phases, agents, scenes) before the first
request, locks the run folder, runs the episodes concurrently and returns a :class:`RunOutcome`;
:func:`plan_experiment` counts the requests and their estimated cost without sending any.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from theory_of_space import __version__
from theory_of_space.agents.base import Agent
from theory_of_space.agents.factory import check_agent_spec, is_scripted
from theory_of_space.runner.batch import BATCHED_PHASES, BatchPending, check_batch_provider
from theory_of_space.runner.experiment import PHASES, Experiment, SceneRef, parse_scene_spec, scene_folder
from theory_of_space.runner.false_belief_phase import FALSE_BELIEF_RECORD_FILE
from theory_of_space.runner.phases import (
    EXPLORATION_FILE,
    PHASE_FUNCTIONS,
    EpisodeState,
    PhaseFunction,
    RunCounters,
    episode_parts,
    episode_settings,
    evaluate_requests,
    run_phases,
)
from theory_of_space.runner.plugins import PROBE_RECORD_FILE, plugin_phases
from theory_of_space.runner.progress import Progress
from theory_of_space.runner.roles import (
    DEFAULT_AGENTS,
    AgentRoles,
    BudgetReached,
    Meter,
    build_roles,
    plays_false_belief,
)
from theory_of_space.runner.store import CorruptEntry, RunStore
from theory_of_space.world.scene import Scene


def available_phases() -> dict[str, PhaseFunction]:
    """The phases this installation provides, in pipeline order."""
    functions = {**PHASE_FUNCTIONS, **plugin_phases()}
    return {name: functions[name] for name in PHASES if name in functions}


def resolve_phases(asked: Sequence[str]) -> tuple[list[str], dict[str, PhaseFunction]]:
    """The phases to run in pipeline order (all available ones when none are asked for).

    Raises:
        ValueError: a phase is unknown, or needs a package this installation lacks.
    """
    functions = available_phases()
    if not asked:
        return [p for p in functions if p != "rescore"], functions
    unknown = [p for p in asked if p not in PHASES]
    if unknown:
        raise ValueError(f"unknown phase {', '.join(map(repr, unknown))}; expected {', '.join(PHASES)}")
    missing = [p for p in asked if p not in functions]
    if missing:
        raise ValueError(
            f"phase {', '.join(map(repr, missing))} needs the probes / false-belief modules, which this "
            f"installation lacks; available: {', '.join(functions)}"
        )
    return [p for p in functions if p in asked], functions


@dataclass
class RunOutcome:
    """What a run did: where, how many episodes finished, what was retried, found corrupt or spent."""

    root: Path
    episodes: int
    done: int
    meter: Meter
    counters: RunCounters
    stopped: bool = False
    """The cost limit stopped the run before every episode finished (rerun to resume)."""
    pending: int = 0
    """Episodes waiting for provider batch results (``batch=True``; rerun to collect them)."""
    batch: dict[str, Any] = field(default_factory=dict)
    """``batch=True``: batches collected and submitted this round, requests still waiting."""
    errors: list[str] = field(default_factory=list)
    """Episodes that ended with an unexpected error (their folder and the error); the others went on."""

    @property
    def corrupt(self) -> list[CorruptEntry]:
        return self.counters.corrupt


@dataclass(frozen=True)
class _Plan:
    phases: list[str]
    functions: dict[str, PhaseFunction]
    agents: tuple[str, ...]
    scenes: list[tuple[SceneRef, Scene]]


def _prepare(experiment: Experiment, *, custom_roles: bool = False) -> _Plan:
    """Check the phases, agents and scenes; make the scenes (an error names the bad one).

    With ``custom_roles`` the agents are labels whose roles the caller builds: they are not checked as specs.
    """
    phases, functions = resolve_phases(experiment.phases)
    agents = experiment.agents or DEFAULT_AGENTS
    if not custom_roles:
        for spec in agents:
            check_agent_spec(spec, config_path=experiment.model_config)
    if "false_belief" in experiment.phases and not custom_roles and not any(
        plays_false_belief(spec, is_model=not is_scripted(spec))
        for spec in agents
    ):
        raise ValueError(
            f"phase 'false_belief': no agent of {', '.join(agents)} plays it; add a model, updating or inertial"
        )
    if "false_belief" in experiment.phases and "active" not in experiment.settings:
        raise ValueError("phase 'false_belief' runs in the active setting only; add --setting active")
    scenes = []
    for ref in parse_scene_spec(experiment.scenes, rooms=experiment.rooms):
        try:
            scenes.append((ref, ref.load()))
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"scene {ref.spec!r}: {error}") from None
    return _Plan(phases, functions, agents, scenes)


def run_experiment(
    experiment: Experiment,
    *,
    progress: Progress | None = None,
    make_model: Callable[..., Agent] | None = None,
    batch: bool = False,
    executor: str = "local",
    address: str | None = None,
    make_roles: Callable[[str, Meter], AgentRoles] | None = None,
) -> RunOutcome:
    """Run every (agent, scene, world, setting) episode through the experiment's phases.

    Args:
        experiment: what to run and where to store it (``experiment.out``).
        progress: the display to update; ``None`` shows nothing.
        make_model: builds model agents (tests pass fakes); default :func:`make_model_agent`.
        batch: send the models' probe and question requests through the providers' batch APIs, one
            round per call (see :mod:`theory_of_space.runner.batch`).
        executor: ``local`` (threads in this process) or ``ray`` (one Ray task per episode, see
            :mod:`theory_of_space.runner.executors`); ``address``: the Ray cluster to join.
        make_roles: builds the roles of each entry of ``experiment.agents``, then labels rather than
            specs (the steering experiment's conditions: one model, steered in some roles); local
            executor only.

    Raises:
        ValueError: bad input, named, before any request; or a run folder that is in use or holds
            another configuration (:class:`~theory_of_space.runner.store.RunFolderError`).
    """
    if executor not in ("local", "ray"):
        raise ValueError(f"expected local or ray for `executor`, got {executor!r}")
    if executor == "ray" and batch:
        raise ValueError("--batch runs in one process; use it without --executor ray")
    if executor == "ray" and experiment.max_cost is not None:
        raise ValueError("--max-cost is counted in one process; run without --executor ray to use it")
    if make_roles is not None and (executor != "local" or batch):
        raise ValueError("`make_roles` runs in one process, without --batch")
    plan = _prepare(experiment, custom_roles=make_roles is not None)
    meter = Meter(max_cost=experiment.max_cost)
    counters = RunCounters()
    root = Path(experiment.out)
    roles: dict[str, AgentRoles] = {}
    try:
        for spec in plan.agents:
            if make_roles is not None:
                roles[spec] = make_roles(spec, meter)
                continue
            roles[spec] = build_roles(spec, meter=meter, query_enabled=experiment.query_enabled,
                                      config_path=experiment.model_config, make_model=make_model,
                                      overrides=dict(experiment.overrides) or None,
                                      scripted_answerer=experiment.answerer)
        book = None
        if batch:
            from theory_of_space.runner.batch import batch_answers

            book = batch_answers(root, roles, meter)
        with RunStore(root, experiment.result_config(), __version__) as store:
            store.register_scenes({scene_folder(ref, scene): scene.scene_id for ref, scene in plan.scenes})
            if executor == "ray":
                from theory_of_space.runner.executors import run_plan_on_ray

                episodes = [(spec, ref, scene, world, setting) for spec in plan.agents for ref, scene in plan.scenes
                            for world in experiment.worlds for setting in experiment.settings]
                return run_plan_on_ray(experiment, episodes, root=store.root, phases=plan.phases,
                                       outcome=RunOutcome(store.root, len(episodes), 0, meter, counters),
                                       address=address, make_model=make_model, progress=progress)
            if book is None:
                return _run(experiment, plan, store, roles, meter, counters, progress)
            book.save_experiment(experiment.to_dict())
            collected = book.collect()
            outcome = _run(experiment, plan, store, roles, meter, counters, progress)
            submitted = book.submit()
            outcome.batch = {**collected, "submitted": len(submitted), "waiting": len(book.in_flight())}
            return outcome
    finally:
        for role in roles.values():
            role.close()


def _run(
    experiment: Experiment,
    plan: _Plan,
    store: RunStore,
    roles: dict[str, AgentRoles],
    meter: Meter,
    counters: RunCounters,
    progress: Progress | None,
) -> RunOutcome:
    workers = experiment.in_flight
    states = []
    with ThreadPoolExecutor(workers, thread_name_prefix="tos-request") as requests:
        for spec in plan.agents:
            for ref, scene in plan.scenes:
                for world in experiment.worlds:
                    for setting in experiment.settings:
                        settings = episode_settings(experiment, world, setting)
                        parts = episode_parts(spec, ref, scene, settings)
                        states.append(EpisodeState(
                            spec, ref, scene, settings, roles[spec], store.episode(parts),
                            retry_failed=experiment.retry_failed, request_pool=requests, counters=counters,
                            max_false_belief_steps=experiment.max_false_belief_steps,
                        ))
        outcome = RunOutcome(store.root, len(states), 0, meter, counters)
        if progress is not None:
            progress.start(len(states), meter)
        # Scripted agents only use CPU: one thread avoids the GIL's switching for nothing.
        episode_workers = workers if any(r.is_model for r in roles.values()) else 1
        with ThreadPoolExecutor(episode_workers, thread_name_prefix="tos-episode") as pool:
            futures = {pool.submit(run_phases, state, plan.phases, plan.functions): state for state in states}
            for future in as_completed(futures):
                try:
                    future.result()
                    outcome.done += 1
                except BudgetReached:
                    outcome.stopped = True
                except BatchPending:
                    outcome.pending += 1
                except Exception as error:  # one broken episode must not end a long run
                    state = futures[future]
                    outcome.errors.append(f"{state.store.folder}: {type(error).__name__}: {error}")
                if progress is not None:
                    progress.episode_done()
        for state in states:
            counters.corrupt.extend(state.store.corrupt)
            state.store.corrupt.clear()
    if progress is not None:
        progress.close()
    return outcome


@dataclass(frozen=True)
class RequestPlan:
    """The requests a run would send and their estimated cost."""

    requests: dict[str, int]
    """Per phase, the requests still to send (upper bounds for exploration)."""
    cost_usd: float
    unpriced: list[str]
    """Model agents without a price in the price table."""
    details: list[str]
    batched: tuple[str, ...] = ()
    """``batch=True``: the phases priced at the batch price (sent through the provider batch APIs)."""
    no_batch_discount: list[str] = field(default_factory=list)
    """``batch=True``: priced model agents without a ``batch_discount`` (their batched requests at list
    price, as the run records them)."""


INPUT_TOKENS_PER_TURN = 400
"""Estimated growth of the conversation per exploration turn (reply plus the env's answer), in tokens."""
OUTPUT_TOKENS_ESTIMATE = 1500
"""Estimated output tokens per request (thinking included); a model's ``max_tokens`` bounds it."""


def plan_experiment(experiment: Experiment, *, batch: bool = False) -> RequestPlan:
    """Count the model requests of a run without sending any, and estimate their cost from the price table.

    Exploration counts its full budget per active episode (an upper bound); questions are counted
    exactly, with the map request of ``use_model_cogmap`` (one per episode, priced as a question, since
    it goes with the questions, through the batch API with ``batch``); probes three per exploration
    turn (an upper bound). Requests whose results are already stored are not counted, nor a finished
    phase's; stored failed results are, when the run retries failures. Input tokens are estimated as characters / 4
    of the prompt plus :data:`INPUT_TOKENS_PER_TURN` per earlier turn; output tokens as
    :data:`OUTPUT_TOKENS_ESTIMATE`.

    Args:
        experiment: the run to plan.
        batch: plan a ``--batch`` run: the requests of :data:`~theory_of_space.runner.batch.BATCHED_PHASES`
            are priced as the run records a batch result (the list price less the model's
            ``batch_discount``); the other phases stay at list price.

    Raises:
        ValueError: bad input, as :func:`run_experiment` names it; with ``batch``, a model whose provider
            has no batch API.
    """
    from theory_of_space.agents.config import resolve_model_config
    from theory_of_space.env.prompts import initial_message
    from theory_of_space.runner.store import EpisodeStore
    from theory_of_space.tasks import generate_questions

    plan = _prepare(experiment)
    counts = dict.fromkeys(plan.phases, 0)
    cost, unpriced, details, no_discount = 0.0, [], [], []
    batched = tuple(p for p in counts if p in BATCHED_PHASES) if batch else ()
    for spec in plan.agents:
        model = not is_scripted(spec)
        priced = None
        if model:
            config = resolve_model_config(spec, config_path=experiment.model_config)
            if batch:
                check_batch_provider(config)
            if config.input_price_per_mtok is None or config.output_price_per_mtok is None:
                unpriced.append(spec)
            else:
                priced = config
                if batch and not config.batch_discount:
                    no_discount.append(spec)
        agent_requests = 0
        for ref, scene in plan.scenes:
            questions = generate_questions(scene, n_per_task=experiment.n_per_task, tasks=experiment.tasks)
            for world in experiment.worlds:
                for setting in experiment.settings:
                    settings = episode_settings(experiment, world, setting)
                    stored = EpisodeStore(Path(experiment.out).joinpath(*episode_parts(spec, ref, scene, settings)),
                                          readonly=True)
                    base = len(initial_message(scene, settings.prompt_options)) // 4
                    steps = settings.max_exp_steps if setting == "active" else 0
                    done = {p: stored.results(p) if stored.path(p).is_file() else {} for p in counts}
                    retry = experiment.retry_failed
                    fb_bound = 2 * experiment.max_false_belief_steps + 1
                    per_phase = {
                        "explore": _remaining(steps, done.get("explore", {}), stored.folder / EXPLORATION_FILE, retry,
                                              consecutive=True),
                        "evaluate": evaluate_requests(questions.questions, done.get("evaluate", {}), settings.mode,
                                                      retry_failed=retry),
                        "probe": (_remaining(3 * steps, done.get("probe", {}), stored.folder / PROBE_RECORD_FILE, retry)
                                  if setting == "active" else 1),
                        "false_belief": (
                            _remaining(fb_bound, done.get("false_belief", {}),
                                       stored.folder / FALSE_BELIEF_RECORD_FILE, retry)
                            if setting == "active" and plays_false_belief(spec, is_model=model) else 0
                        ),
                    }
                    for phase in counts:
                        n = max(0, per_phase.get(phase, 0))
                        counts[phase] += n
                        agent_requests += n
                        if priced is not None and n:
                            context = base + INPUT_TOKENS_PER_TURN * (steps if phase != "explore" else steps / 2)
                            one = priced.cost_usd(context, OUTPUT_TOKENS_ESTIMATE, batch=phase in batched)
                            cost += n * (one or 0.0)
        details.append(f"{spec}: {agent_requests} requests" + ("" if model else " (scripted, free)"))
    return RequestPlan(counts, cost, unpriced, details, batched, no_discount)


def _remaining(
    bound: int, stored: dict[str, dict[str, Any]], finished: Path, retry_failed: bool, *, consecutive: bool = False
) -> int:
    """Requests of a phase a rerun may still send: none once the phase finished (its file is written) with
    nothing to retry, else ``bound`` less the stored results it keeps (the failed ones are asked again when
    retrying; with ``consecutive``, as exploration replays, only the turns before the first failure are kept)."""
    failed = [key for key, record in sorted(stored.items()) if record.get("error")]
    if finished.is_file() and not (retry_failed and failed):
        return 0
    if not retry_failed or not failed:
        kept = len(stored)
    elif consecutive:
        kept = sorted(stored).index(failed[0])
    else:
        kept = len(stored) - len(failed)
    return max(0, bound - kept)


def outcome_lines(outcome: RunOutcome) -> list[str]:
    """The plain-text account of a run: episodes, retries, corrupt data found, failures, cost."""
    meter = outcome.meter
    lines = [
        f"{outcome.done}/{outcome.episodes} episodes complete in {outcome.root}; {meter.requests} requests sent, "
        f"{meter.failures} failed, {meter.input_tokens + meter.output_tokens} tokens, ${meter.cost_usd:.4f}"
    ]
    if outcome.counters.retried:
        lines.append(f"retried {outcome.counters.retried} stored failed requests")
    for entry in outcome.corrupt:
        lines.append(f"corrupt stored data, recomputed: {entry}")
    for error in outcome.errors:
        lines.append(f"episode failed (rerun to retry it): {error}")
    if outcome.stopped:
        lines.append("stopped at the cost limit (--max-cost); run the same command again to resume")
    return lines

