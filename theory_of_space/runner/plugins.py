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
from typing import Any

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
    from theory_of_space.probes.requests import ProbeAnswer, assemble_probe_record, build_probe_requests

    # the probes replay the conversation the questions see: the episode (active) or the history prompt
    episode = replay_episode(state.scene, state.conversation(), agent=state.agent,
                             query_enabled=state.settings.query_enabled)
    requests = build_probe_requests(episode)
    stored = state.store.results("probe")
    todo = [r for r in requests if state.needs_retry(stored.get(r.key))]
    if todo:
        writer = state.answerer()  # a model, or the scripted answerer, which writes maps as well

        def ask(request: Any) -> None:
            reply = writer.act(list(request.messages))
            answer = ProbeAnswer(request.key, request.kind, request.turn, reply.text, reply.record.error,
                                 reply.record.to_dict())
            state.store.put("probe", request.key, {"phase": request.phase, **answer.to_dict()})

        state.fan_out(todo, ask)
    stored = state.store.results("probe")
    answers = []
    for request in requests:
        record = stored.get(request.key)
        if record is None:
            continue
        try:
            answers.append(ProbeAnswer.from_dict(record))
        except (KeyError, TypeError, ValueError) as error:
            state.counters.corrupt.append(CorruptEntry(state.store.path("probe"), None, f"{request.key}: {error}"))
    record = assemble_probe_record(episode, requests, answers, answerer=state.roles.answerer_name)
    write_json(state.store.folder / PROBE_RECORD_FILE, record.to_dict())


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
