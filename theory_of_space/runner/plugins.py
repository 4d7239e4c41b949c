"""The ``probe`` and ``false_belief`` phases, built on :mod:`theory_of_space.probes` when this installation has it.

The probes package gives pure builders; this phase only stores. For an explored episode,
``build_probe_requests(episode)`` lists :class:`ProbeRequest` objects, each with a stable ``key``
(``probe/t03/global``); every request not yet stored is sent to the agent's map writer (fanned out
like the questions) and its reply is stored under that key the moment it arrives; then
``assemble_probe_record(episode, requests, answers)`` builds the record that the probe metrics read,
written as ``probe_record.json``. A phase whose package is missing is simply not offered, and asking
for it is an error that says so (see :func:`theory_of_space.runner.pipeline.resolve_phases`). The
``false_belief`` phase lives in :mod:`theory_of_space.runner.false_belief_phase`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from theory_of_space.agents.base import AgentReply
from theory_of_space.runner.phases import EpisodeState, PhaseFunction
from theory_of_space.runner.store import CorruptEntry, write_json

PROBE_RECORD_FILE = "probe_record.json"


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def probe_phase(state: EpisodeState) -> None:
    """Ask every probe of the explored episode not stored yet, store each reply by key, assemble the record."""
    from theory_of_space.probes.replay import replay_episode
    from theory_of_space.probes.requests import assemble_probe_record, build_probe_requests

    # the probes replay the conversation the questions see: the episode (active) or the history prompt
    episode = replay_episode(state.scene, state.conversation(), agent=state.agent,
                             query_enabled=state.settings.query_enabled)
    requests = build_probe_requests(episode)

    def ask_map(request: Any) -> AgentReply:
        # a model, or the scripted answerer, which writes maps as well
        return state.answerer().act(list(request.messages))

    answers = ask_maps(state, "probe", requests, ask_map, lambda request: {"phase": request.phase})
    record = assemble_probe_record(episode, requests, answers, answerer=state.roles.answerer_name)
    write_json(state.store.folder / PROBE_RECORD_FILE, record.to_dict())


def ask_maps(
    state: EpisodeState,
    phase: str,
    requests: Sequence[Any],
    ask_map: Callable[[Any], AgentReply],
    fields: Callable[[Any], dict[str, Any]],
) -> list[Any]:
    """Ask the map probes not stored yet (fanned out), store each reply under its key as it arrives, and
    return the answers stored for ``requests``; a stored answer that does not load is reported as corrupt.

    ``fields`` gives the extra fields stored with a request's answer (its phase tags).
    """
    from theory_of_space.probes.requests import ProbeAnswer

    stored = state.store.results(phase)
    todo = [r for r in requests if state.needs_retry(stored.get(r.key))]

    def ask(request: Any) -> None:
        reply = ask_map(request)
        answer = ProbeAnswer(request.key, request.kind, request.turn, reply.text, reply.record.error,
                             reply.record.to_dict())
        state.store.put(phase, request.key, {**fields(request), **answer.to_dict()})

    if todo:
        state.fan_out(todo, ask)
    stored = state.store.results(phase)
    answers = []
    for request in requests:
        record = stored.get(request.key)
        if record is None:
            continue
        try:
            answers.append(ProbeAnswer.from_dict(record))
        except (KeyError, TypeError, ValueError) as error:
            state.counters.corrupt.append(CorruptEntry(state.store.path(phase), None, f"{request.key}: {error}"))
    return answers


def plugin_phases() -> dict[str, PhaseFunction]:
    """The plug-in phases whose packages are importable here."""
    phases: dict[str, PhaseFunction] = {}
    probes = _module("theory_of_space.probes.requests")
    if probes is not None and all(hasattr(probes, n) for n in ("build_probe_requests", "assemble_probe_record")):
        phases["probe"] = probe_phase
    if _module("theory_of_space.probes.false_belief_requests") is not None:
        from theory_of_space.runner.false_belief_phase import false_belief_phase

        phases["false_belief"] = false_belief_phase
    return phases
