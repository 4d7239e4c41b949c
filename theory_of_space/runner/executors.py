"""Episodes as Ray tasks: ``tos run --executor ray [--address ...]``.

Each (agent, scene, world, setting) episode is one Ray task that runs the ordinary phases
(:func:`~theory_of_space.runner.phases.run_phases`) and writes the ordinary episode folder, so a run
made on Ray and one made in one process store the same results and either can resume the other. The
driver keeps the run folder's lock and its record; the workers write episode folders, so on a cluster of
several machines the run folder must be on a file system they all see, and every node needs this package
(and the model SDKs) installed.

A model's limit on requests in flight (``max_concurrent``) must hold for the whole cluster, not per
process: one Ray actor per model holds a semaphore, and every request of every worker takes a slot from
it (:class:`RaySlots`). A run's cost limit (``--max-cost``) is counted in one process and is refused here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theory_of_space.agents.base import Agent
from theory_of_space.agents.clients import require
from theory_of_space.runner.experiment import Experiment, SceneRef
from theory_of_space.runner.store import CorruptEntry, EpisodeStore
from theory_of_space.world.scene import Scene

EXECUTORS: tuple[str, ...] = ("local", "ray")


class _Limiter:
    """The actor behind :class:`RaySlots`: an asyncio semaphore (an async actor serves many waiters at once)."""

    def __init__(self, limit: int) -> None:
        self._semaphore = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        await self._semaphore.acquire()

    async def release(self) -> None:
        self._semaphore.release()


class RaySlots:
    """A model's limit on requests in flight across a Ray cluster, as a context manager around one request.

    Args:
        limiter: the handle of the model's limiter actor (made by :func:`make_limiters`).
    """

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter

    def __enter__(self) -> RaySlots:
        import ray

        ray.get(self.limiter.acquire.remote())
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        ray.get(self.limiter.release.remote())


def make_limiters(experiment: Experiment) -> dict[str, Any]:
    """One limiter actor per model agent of the experiment, sized by its ``max_concurrent``."""
    ray = require("ray", extra="ray")
    from theory_of_space.agents.config import resolve_model_config
    from theory_of_space.agents.factory import is_scripted

    actor = ray.remote(num_cpus=0)(_Limiter)
    limiters = {}
    for spec in experiment.agents:
        if is_scripted(spec):
            continue
        config = resolve_model_config(spec, config_path=experiment.model_config,
                                      overrides=dict(experiment.overrides) or None)
        limiters[spec] = actor.remote(config.max_concurrent)
    return limiters


@dataclass(frozen=True)
class EpisodeJob:
    """What one Ray task needs: the experiment and one episode's agent, scene, world and setting."""

    experiment: Experiment
    agent: str
    ref: SceneRef
    scene: Scene
    world: str
    setting: str


@dataclass
class EpisodeReport:
    """What a task sends back: how the episode ended and what it counted."""

    status: str
    """``done``, ``stopped`` or ``error: ...``."""
    folder: str
    retried: int
    corrupt: list[tuple[str, int | None, str]]
    requests: int
    failures: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def run_episode_job(
    job: EpisodeJob,
    root: str,
    phases: Sequence[str],
    limiters: dict[str, Any],
    make_model: Callable[..., Agent] | None = None,
) -> EpisodeReport:
    """Run one episode's phases in this process (a Ray worker) and store it under ``root``."""
    from theory_of_space.runner.phases import EpisodeState, RunCounters, episode_parts, episode_settings, run_phases
    from theory_of_space.runner.pipeline import available_phases
    from theory_of_space.runner.roles import BudgetReached, Meter, build_roles

    experiment = job.experiment
    limiter = limiters.get(job.agent)

    def model_factory(spec: str, **kwargs: Any) -> Agent:
        if make_model is not None:
            return make_model(spec, **kwargs)
        from theory_of_space.agents.config import resolve_model_config
        from theory_of_space.agents.model_agent import ModelAgent, build_client

        config = resolve_model_config(spec, config_path=kwargs.get("config_path"), overrides=kwargs.get("overrides"))
        return ModelAgent(config, build_client(config), slots=RaySlots(limiter) if limiter is not None else None)

    meter = Meter()
    roles = build_roles(job.agent, meter=meter, query_enabled=experiment.query_enabled,
                        config_path=experiment.model_config, make_model=model_factory,
                        overrides=dict(experiment.overrides) or None, scripted_answerer=experiment.answerer)
    settings = episode_settings(experiment, job.world, job.setting)
    store = EpisodeStore(Path(root).joinpath(*episode_parts(job.agent, job.ref, job.scene, settings)))
    counters = RunCounters()
    status = "done"
    try:
        with ThreadPoolExecutor(experiment.in_flight, thread_name_prefix="tos-request") as requests:
            state = EpisodeState(job.agent, job.ref, job.scene, settings, roles, store,
                                 retry_failed=experiment.retry_failed, request_pool=requests, counters=counters)
            run_phases(state, phases, available_phases())
    except BudgetReached:
        status = "stopped"
    except Exception as error:  # one broken episode must not end a long run
        status = f"error: {type(error).__name__}: {error}"
    finally:
        roles.close()
    corrupt = [(str(e.path), e.line, e.reason) for e in [*counters.corrupt, *store.corrupt]]
    return EpisodeReport(status, str(store.folder), counters.retried, corrupt, meter.requests, meter.failures,
                         meter.input_tokens, meter.output_tokens, meter.cost_usd)


def run_jobs_on_ray(
    jobs: Sequence[EpisodeJob],
    *,
    root: Path,
    phases: Sequence[str],
    address: str | None = None,
    make_model: Callable[..., Agent] | None = None,
    on_done: Callable[[EpisodeReport], None] | None = None,
) -> list[EpisodeReport]:
    """Run every job as a Ray task (connecting to ``address``, or starting Ray here when none is running).

    Raises:
        MissingDependencyError: Ray is not installed.
        ValueError: the experiment sets a cost limit, which cannot be kept across processes.
    """
    ray = require("ray", extra="ray")
    if not jobs:
        return []
    experiment = jobs[0].experiment
    if experiment.max_cost is not None:  # each worker would count its own spending only
        raise ValueError("--max-cost is counted in one process; run without --executor ray to use it")
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    limiters = make_limiters(experiment)
    task = ray.remote(num_cpus=1)(run_episode_job)
    pending = [task.remote(job, str(root), list(phases), limiters, make_model) for job in jobs]
    reports = []
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            report = ray.get(ready[0])
            reports.append(report)
            if on_done is not None:
                on_done(report)
    finally:
        for actor in limiters.values():
            ray.kill(actor)
    return reports


def corrupt_entries(report: EpisodeReport) -> list[CorruptEntry]:
    return [CorruptEntry(Path(path), line, reason) for path, line, reason in report.corrupt]


def run_plan_on_ray(
    experiment: Experiment,
    episodes: Sequence[tuple[str, SceneRef, Scene, str, str]],
    *,
    root: Path,
    phases: Sequence[str],
    outcome: Any,
    address: str | None = None,
    make_model: Callable[..., Agent] | None = None,
    progress: Any = None,
) -> Any:
    """Run a planned run's episodes ``(agent, ref, scene, world, setting)`` on Ray and fold the task
    reports into ``outcome`` (a :class:`~theory_of_space.runner.pipeline.RunOutcome`, whose meter and
    counters are the driver's)."""
    jobs = [EpisodeJob(experiment, agent, ref, scene, world, setting) for agent, ref, scene, world, setting in episodes]
    meter, counters = outcome.meter, outcome.counters
    if progress is not None:
        progress.start(len(jobs), meter)

    def on_done(report: EpisodeReport) -> None:  # called in the driver's thread, one report at a time
        meter.requests += report.requests
        meter.failures += report.failures
        meter.input_tokens += report.input_tokens
        meter.output_tokens += report.output_tokens
        meter.cost_usd += report.cost_usd
        counters.retried += report.retried
        counters.corrupt.extend(corrupt_entries(report))
        if report.status == "done":
            outcome.done += 1
        elif report.status == "stopped":
            outcome.stopped = True
        else:
            outcome.errors.append(f"{report.folder}: {report.status.removeprefix('error: ')}")
        if progress is not None:
            progress.episode_done()

    run_jobs_on_ray(jobs, root=root, phases=phases, address=address, make_model=make_model, on_done=on_done)
    if progress is not None:
        progress.close()
    return outcome
