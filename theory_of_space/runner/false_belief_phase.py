"""The ``false_belief`` phase: the episode continues after its exploration, the world changes, the agent looks again.

The false-belief episode *is* the exploration episode, continued. Its env (``Explore-FalseBelief-v0``,
or ``Explore-Vision-FalseBelief-v0`` in the vision world) replays the stored exploration turns (no
model call: the stored replies are given back), so the conversation up to the end of exploration is
the one the ``explore`` phase stored; then the second phase runs. Each second-phase turn is stored as
soon as the env answers it, under ``false_belief/tNN`` (NN counts the phase's own turns from 1), so a
rerun replays the stored turns and goes on from the first missing or failed one. Then the map probes
of :func:`~theory_of_space.probes.false_belief_requests.build_false_belief_requests` (the last
exploration ``global`` map and a ``global_fb`` map per probed turn) are fanned out, each answer stored
under its request key (``probe/tNN/global``, ``fb_probe/tNN/global_fb``) in the same phase file, and
the :class:`~theory_of_space.probes.false_belief_requests.FalseBeliefRecord` is written as
``false_belief_record.json``; the report scores it.

Who plays the phase: a model plays it itself and answers its probes (the steering experiment hands
the turns or the maps to a steered copy: ``AgentRoles.phase_player`` and ``map_writer``); the
scripted ``updating`` and ``inertial`` agents play it with their plans and write their maps. Other
scripted agents (SCOUT, STRATEGIST, ...) have no false-belief behaviour, and passive episodes have
no agent exploring: the phase skips those episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

from theory_of_space.agents.base import Agent, AgentReply, CallRecord
from theory_of_space.agents.false_belief import FalseBeliefAgent
from theory_of_space.probes.false_belief_requests import (
    FalseBeliefEpisode,
    assemble_false_belief_record,
    build_false_belief_requests,
    false_belief_episode,
)
from theory_of_space.probes.requests import ProbeRequest
from theory_of_space.runner.episode import TurnRecord, run_episode
from theory_of_space.runner.evaluate import EvaluationSettings
from theory_of_space.runner.phases import (
    EpisodeState,
    ReplayAgent,
    agent_action_format,
    explore_turn_key,
    turn_record,
)
from theory_of_space.runner.plugins import ask_maps
from theory_of_space.runner.roles import MeteredAgent, plays_false_belief
from theory_of_space.runner.store import CorruptEntry, EpisodeStore, write_json
from theory_of_space.world.scene import Scene

PHASE = "false_belief"
FALSE_BELIEF_RECORD_FILE = "false_belief_record.json"
FALSE_BELIEF_ENV_IDS: dict[str, str] = {
    "text": "TheoryOfSpace/Explore-FalseBelief-v0",
    "vision": "TheoryOfSpace/Explore-Vision-FalseBelief-v0",
}
_TURN_PREFIX = "false_belief/t"


def false_belief_turn_key(step: int) -> str:
    """``false_belief/t03``: the key of the phase's third turn."""
    return f"{_TURN_PREFIX}{step:02d}"


def is_false_belief_turn_key(key: str) -> bool:
    """Whether a stored key of the phase is one of its turns (not one of its map probes)."""
    return key.startswith(_TURN_PREFIX)


def false_belief_env(
    settings: EvaluationSettings, max_false_belief_steps: int, *, action_format: str = "text"
) -> gym.Env:
    """The env of an active episode with the false-belief phase, in the settings' world and the agent's
    ``action_format`` (``"tools"``: the actions, and the phase's ``Term(changes)``, are tool calls)."""
    vision = {"image_size": settings.image_size} if settings.world == "vision" else {}
    return gym.make(
        FALSE_BELIEF_ENV_IDS[settings.world],
        max_exp_steps=settings.max_exp_steps,
        max_false_belief_steps=max_false_belief_steps,
        query_enabled=settings.query_enabled,
        think=settings.think,
        reward="none",
        action_format=action_format,
        **vision,
    )


class _ScriptedMapWriter:
    """A scripted false-belief agent answering its map probes as an agent would (a reply with a call record)."""

    def __init__(self, agent: FalseBeliefAgent) -> None:
        self.agent = agent
        self.name = agent.name

    def answer(self, request: ProbeRequest) -> AgentReply:
        return AgentReply(text=self.agent.answer_probe(request), record=CallRecord(model=self.name))


def _stored_phase_turns(state: EpisodeState) -> list[dict[str, Any]]:
    """The stored phase turns to replay: consecutive from ``t01``, up to the first one to request again."""
    stored = state.store.results(PHASE)
    turns: list[dict[str, Any]] = []
    while (record := stored.get(false_belief_turn_key(len(turns) + 1))) is not None:
        key = false_belief_turn_key(len(turns) + 1)
        if not (isinstance(record.get("reply"), str) and isinstance(record.get("call"), dict)):
            problem = f"{key}: expected `reply` and `call`"
            state.counters.corrupt.append(CorruptEntry(state.store.path(PHASE), None, problem))
            break
        if state.needs_retry(record):
            break
        turns.append(record)
    return turns


def false_belief_phase(state: EpisodeState) -> None:
    """Play the second phase after the stored exploration, store each turn, then ask and store its map probes."""
    if state.settings.setting != "active" or not plays_false_belief(state.agent, is_model=state.roles.is_model):
        return
    explored = state.explored()
    exploration = [state.store.get("explore", explore_turn_key(t.index)) for t in explored.turns]
    if any(record is None for record in exploration):
        raise ValueError(f"{state.store.path('explore')}: the stored exploration has gaps; rerun the explore phase")
    replay = _stored_phase_turns(state)
    offset = len(exploration)
    new_turns = False

    def on_turn(turn: TurnRecord) -> None:
        nonlocal new_turns
        if turn.index > offset + len(replay):
            new_turns = True
            step = turn.index - offset
            record = {**turn_record(turn), "phase": PHASE, "turn": step, "episode_turn": turn.index}
            state.store.put(PHASE, false_belief_turn_key(step), record)

    player = state.roles.phase_player or state.roles.model  # a model's; None: a scripted agent plays
    action_format = "text" if player is None else agent_action_format(player)
    with false_belief_env(state.settings, state.max_false_belief_steps, action_format=action_format) as env:
        env.reset(options={"scene": state.scene})
        changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
        scripted: FalseBeliefAgent | None = None
        if player is not None:
            agent: Agent = player
        else:
            scripted = FalseBeliefAgent(
                state.agent.lower(),  # type: ignore[arg-type]
                state.scene,
                changed,
                changes,
                query_enabled=state.settings.query_enabled,
                max_false_belief_steps=state.max_false_belief_steps,
            )
            agent = MeteredAgent(scripted, state.roles.meter)
        wrapped = ReplayAgent(agent, [*exploration, *replay], advance=False)
        result = run_episode(env, wrapped, options={"scene": state.scene}, on_turn=on_turn)
    replayed = sum(1 for t in result.turns if t.info.get("phase") == "exploration")
    if replayed != offset:
        raise ValueError(
            f"{state.store.path('explore')}: replaying the {offset} stored exploration turns in the false-belief env "
            f"gave {replayed} exploration turns"
        )
    steps = {false_belief_turn_key(t.index - offset) for t in result.turns if t.index > offset}
    stored = state.store.results(PHASE)
    stale = [k for k in stored if is_false_belief_turn_key(k) and k not in steps]
    if new_turns or stale:
        # the phase went on differently: its probe answers were asked of another conversation
        stale += [k for k in stored if not is_false_belief_turn_key(k)]
    if stale:
        state.store.drop(PHASE, stale)

    episode = false_belief_episode(result, changed)
    requests = build_false_belief_requests(episode)
    answers = ask_maps(
        state, PHASE, requests, _map_asker(state, scripted), lambda r: {"phase": PHASE, "probe_phase": r.phase}
    )
    # the false-belief agent or the model writes its own maps
    record = assemble_false_belief_record(episode, requests, answers, answerer=state.agent)
    write_json(state.store.folder / FALSE_BELIEF_RECORD_FILE, record.to_dict())


def _map_asker(state: EpisodeState, scripted: FalseBeliefAgent | None) -> Any:
    """A function asking one map probe: of the model, or of the scripted agent (counted by the run's meter)."""
    if scripted is None:
        assert state.roles.model is not None
        model = state.roles.map_writer or state.roles.model
        return lambda request: model.act(list(request.messages))
    writer = _ScriptedMapWriter(scripted)
    meter = state.roles.meter

    def ask(request: ProbeRequest) -> AgentReply:
        meter.start()
        reply = None
        try:
            reply = writer.answer(request)
            return reply
        finally:
            meter.finish(reply)

    return ask


class _StoredOnly:
    """The agent of a read-back: any request means the stored turns end before the episode does."""

    def __init__(self, folder: Path, action_format: str) -> None:
        self.folder = folder
        self.name = "stored"
        self.action_format = action_format

    def act(self, messages: Any, *, tools: Any = None) -> AgentReply:
        raise ValueError(f"{self.folder}: the stored turns end before the false-belief episode does; rerun its phases")


def _consecutive(results: dict[str, dict[str, Any]], key: Callable[[int], str]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    while (record := results.get(key(len(turns) + 1))) is not None:
        turns.append(record)
    return turns


def _stored_action_format(turns: list[dict[str, Any]]) -> str:
    """``"tools"`` when the stored turns were played through tool calls (their call records say so)."""
    tools = any(((t.get("call") or {}).get("extra") or {}).get("action_format") == "tools" for t in turns)
    return "tools" if tools else "text"


def stored_false_belief_episode(
    store: EpisodeStore, scene: Scene, settings: EvaluationSettings, max_false_belief_steps: int
) -> FalseBeliefEpisode:
    """The played episode of a finished ``false_belief`` phase, rebuilt from its stored turns.

    The stored replies are given back to the env in order (no agent is asked), which rebuilds the
    conversation, the changes and the probed turns exactly; the pair builder and the map read-outs
    read episodes this way.

    Raises:
        ValueError: naming the folder when its stored turns end before the episode does.
    """
    exploration = _consecutive(store.results("explore"), explore_turn_key)
    phase = _consecutive(store.results(PHASE), false_belief_turn_key)
    action_format = _stored_action_format([*exploration, *phase])
    stored = _StoredOnly(store.folder, action_format)
    agent = ReplayAgent(stored, [*exploration, *phase], advance=False)  # type: ignore[arg-type]
    with false_belief_env(settings, max_false_belief_steps, action_format=action_format) as env:
        env.reset(options={"scene": scene})
        changed = env.unwrapped.false_belief_scene
        result = run_episode(env, agent, options={"scene": scene})
    return false_belief_episode(result, changed)
