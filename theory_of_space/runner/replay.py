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
from theory_of_space.probes.false_belief_requests import FalseBeliefEpisode, FalseBeliefTurn, false_belief_episode
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Pose, Scene

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


def play_false_belief(
    scene: Scene, player: str | Any, *, env_kwargs: Mapping[str, Any] | None = None
) -> FalseBeliefEpisode:
    """Play a whole false-belief episode (exploration and phase) on ``scene``.

    Args:
        scene: the scene.
        player: an agent (``act(messages)``), or the name of a scripted false-belief agent
            (``"updating"``, ``"inertial"``), built for this scene's changes.
        env_kwargs: settings of ``TheoryOfSpace/Explore-FalseBelief-v0`` (``max_exp_steps``, ...).
    """
    from theory_of_space.agents.false_belief import FalseBeliefAgent

    kwargs = {"reward": "none", **dict(env_kwargs or {})}
    env = gym.make(FALSE_BELIEF_ENV, **kwargs)
    try:
        env.reset(options={"scene": scene})
        changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
        agent = player
        if isinstance(player, str):
            extra = {k: kwargs[k] for k in ("query_enabled", "max_false_belief_steps") if k in kwargs}
            agent = FalseBeliefAgent(player, scene, changed, changes, **extra)  # type: ignore[arg-type]
        result = run_episode(env, agent, options={"scene": scene})
    finally:
        env.close()
    return false_belief_episode(result, changed)


def episode_to_dict(episode: FalseBeliefEpisode) -> dict[str, Any]:
    """JSON form of a text-world false-belief episode (what the replay and the probes read)."""
    return {
        "scene": episode.scene.to_dict(),
        "changed": episode.changed.to_dict(),
        "changes": [c.to_dict() for c in episode.changes],
        "messages": [m.to_dict() for m in episode.messages],
        "exploration_messages": [m.to_dict() for m in episode.exploration_messages],
        "explored": list(episode.explored),
        "exploration_pose": episode.exploration_pose.to_dict(),
        "turns": [
            {
                "turn": t.turn,
                "message_index": t.message_index,
                "pose": t.pose.to_dict(),
                "seen_again": list(t.seen_again),
            }
            for t in episode.turns
        ],
        "first_seen": dict(episode.first_seen),
        "identification": episode.identification,
        "query_enabled": episode.query_enabled,
    }


def episode_from_dict(data: Mapping[str, Any]) -> FalseBeliefEpisode:
    """Inverse of :func:`episode_to_dict`.

    Raises:
        ValueError: for a message with images (only text-world episodes are stored this way).
    """
    return FalseBeliefEpisode(
        scene=Scene.from_dict(data["scene"]),
        changed=Scene.from_dict(data["changed"]),
        changes=tuple(SceneChange.from_dict(c) for c in data["changes"]),
        messages=tuple(_message(m) for m in data["messages"]),
        exploration_messages=tuple(_message(m) for m in data["exploration_messages"]),
        explored=tuple(data["explored"]),
        exploration_pose=Pose.from_dict(data["exploration_pose"]),
        turns=tuple(
            FalseBeliefTurn(int(t["turn"]), int(t["message_index"]), Pose.from_dict(t["pose"]), tuple(t["seen_again"]))
            for t in data["turns"]
        ),
        first_seen={str(k): int(v) for k, v in data["first_seen"].items()},
        identification=dict(data.get("identification", {})),
        query_enabled=bool(data.get("query_enabled", True)),
    )


def _message(data: Mapping[str, Any]) -> Message:
    if data.get("n_images"):
        raise ValueError("stored false-belief episodes hold text-world messages only; this one has images")
    return Message(data["role"], data["content"], tool_calls=tuple(data.get("tool_calls", ())))
