"""Play a stored episode's false-belief phase again, its exploration replayed from the transcript.

Steering the false-belief phase needs new replies for that phase only: the exploration is the
same for every condition, so it is replayed reply by reply from the stored conversation (the env
is deterministic given the scene, so the env answers exactly as it did), and the agent is asked
only once the phase has begun. Every condition then starts the phase from the same transcript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.probes.false_belief_requests import FalseBeliefEpisode, false_belief_episode
from theory_of_space.runner.episode import run_episode

FALSE_BELIEF_ENV = "TheoryOfSpace/Explore-FalseBelief-v0"


class _ReplayThenAgent:
    """Returns the stored exploration replies in order, then hands every turn to ``agent``."""

    def __init__(self, stored: Sequence[Message], agent: Any, scene_id: str) -> None:
        self._stored = list(stored)
        self._replies = [m for m in stored if m.role == "assistant"]
        self._agent = agent
        self._scene_id = scene_id
        self._next = 0
        self.name = getattr(agent, "name", type(agent).__name__)
        self.phase_requests = 0
        """Requests sent to ``agent`` (the false-belief phase's turns)."""

    @property
    def action_format(self) -> str:
        return getattr(self._agent, "action_format", "text")

    def set_tools(self, specs: Sequence[Mapping[str, Any]]) -> None:
        self._agent.set_tools(specs)

    def act(self, messages: Sequence[Message]) -> AgentReply:
        if self._next < len(self._replies):
            stored = self._replies[self._next]
            self._next += 1
            return AgentReply(stored.content, CallRecord(model="replay"), tool_calls=stored.tool_calls)
        if self.phase_requests == 0:
            self._check(messages)
        self.phase_requests += 1
        return self._agent.act(messages)

    def _check(self, messages: Sequence[Message]) -> None:
        # The last stored exploration message was cut to its result and budget; the rest must match.
        n = len(self._stored) - 1
        same = len(messages) > n and all(
            (a.role, a.content) == (b.role, b.content) for a, b in zip(messages[:n], self._stored[:n], strict=True)
        )
        if not same:
            raise ValueError(
                f"scene {self._scene_id}: replaying the stored exploration did not reproduce its transcript; "
                "make the env with the settings of the stored run (`env_kwargs`: max_exp_steps, ...)"
            )


def replay_false_belief_phase(
    episode: FalseBeliefEpisode, agent: Any, *, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[FalseBeliefEpisode, int]:
    """The episode with its exploration replayed and its false-belief phase played by ``agent``.

    Args:
        episode: a stored false-belief episode.
        agent: anything with ``act(messages)``; it is asked only during the false-belief phase.
        env_kwargs: settings of ``TheoryOfSpace/Explore-FalseBelief-v0`` beyond ``query_enabled``
            (``max_exp_steps``, ``max_false_belief_steps``, ...), as in the stored run.

    Returns:
        The new episode and the number of requests ``agent`` answered.

    Raises:
        ValueError: when the replay does not reproduce the stored exploration, or the env's
            changes differ from the stored ones (different env settings).
    """
    kwargs = {"reward": "none", "query_enabled": episode.query_enabled, **dict(env_kwargs or {})}
    env = gym.make(FALSE_BELIEF_ENV, **kwargs)
    player = _ReplayThenAgent(episode.exploration_messages, agent, episode.scene.scene_id)
    try:
        result = run_episode(env, player, options={"scene": episode.scene})
        changed = env.unwrapped.false_belief_scene
    finally:
        env.close()
    if changed.to_dict() != episode.changed.to_dict():
        raise ValueError(
            f"scene {episode.scene.scene_id}: the env changed the scene differently from the stored run; "
            "make it with the stored run's settings (`env_kwargs`)"
        )
    return false_belief_episode(result, changed), player.phase_requests
