"""One exploration episode end to end: an agent's replies through the env, with the full transcript.

The conversation is never truncated here: system message, the initial prompt, then alternating
assistant replies (verbatim) and env messages. History control for models belongs to the agents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from theory_of_space.agents.base import Agent, CallRecord, Message
from theory_of_space.env.session import ExplorationSession
from theory_of_space.world.scene import Scene

TRANSCRIPT_VERSION = 1


@dataclass
class TurnRecord:
    """One turn: the reply, whether it parsed, what it did and what the env answered."""

    index: int
    reply: str
    valid: bool
    actions: list[str]
    message: str
    info: dict[str, Any]
    record: CallRecord

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reply": self.reply,
            "valid": self.valid,
            "actions": self.actions,
            "message": self.message,
            "result_text": self.info.get("message_parts", {}).get("result", ""),
            "info": {k: v for k, v in self.info.items() if k != "message_parts"},
            "call": self.record.to_dict(),
        }


@dataclass
class EpisodeResult:
    """Everything one episode produced; ``session`` keeps the knowledge solver for later analysis."""

    scene: Scene
    agent: str
    messages: list[Message]
    turns: list[TurnRecord]
    metrics: dict[str, Any]
    session: ExplorationSession
    terminated: bool
    truncated: bool
    reset_info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_VERSION,
            "agent": self.agent,
            "scene_id": self.scene.scene_id,
            "scene": self.scene.to_dict(),
            "messages": [m.to_dict() for m in self.messages],
            "turns": [t.to_dict() for t in self.turns],
            "metrics": self.metrics,
            "terminated": self.terminated,
            "truncated": self.truncated,
        }


def run_episode(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    on_turn: Callable[[TurnRecord], None] | None = None,
) -> EpisodeResult:
    """Reset ``env`` and let ``agent`` act until the episode ends.

    Args:
        env: an exploration env (``gym.make("TheoryOfSpace/Explore-v0", ...)``), possibly wrapped.
        agent: any object with ``act(messages) -> AgentReply``.
        seed: passed to ``reset``.
        options: passed to ``reset`` (e.g. ``{"scene": scene}``).
        on_turn: called with each turn's record as soon as the env has answered it (``tos explore``
            prints the transcript this way while a slow model is still exploring).

    Example:
        >>> env = gym.make("TheoryOfSpace/Explore-v0")  # doctest: +SKIP
        >>> result = run_episode(env, scout_agent(scene), options={"scene": scene})  # doctest: +SKIP
        >>> result.metrics["node_coverage"]  # doctest: +SKIP
        1.0
    """
    obs, info = env.reset(seed=seed, options=options)
    messages = [Message("system", info["system_prompt"]), _user_message(obs, info)]
    turns: list[TurnRecord] = []
    terminated = truncated = False
    while not (terminated or truncated):
        reply = agent.act(messages)
        obs, _, terminated, truncated, step_info = env.step(reply.text)
        messages.append(Message("assistant", reply.text))
        messages.append(_user_message(obs, step_info))
        turn = TurnRecord(
            index=len(turns) + 1,
            reply=reply.text,
            valid=bool(step_info["valid"]),
            actions=list(step_info["actions"]),
            message=obs["text"],
            info=step_info,
            record=reply.record,
        )
        turns.append(turn)
        if on_turn is not None:
            on_turn(turn)
    explore_env = env.unwrapped
    return EpisodeResult(
        scene=explore_env.scene,
        agent=getattr(agent, "name", type(agent).__name__),
        messages=messages,
        turns=turns,
        metrics=dict(turns[-1].info["metrics"]) if turns else {},
        session=explore_env.session,
        terminated=bool(terminated),
        truncated=bool(truncated),
        reset_info=info,
    )


def _user_message(obs: dict[str, Any], info: dict[str, Any]) -> Message:
    """The env's message; in the vision world its pictures are ``info["images"]``, one per ``<image>``."""
    return Message("user", obs["text"], images=tuple(info.get("images", ())))


def exploration_history(result: EpisodeResult) -> str:
    """The passive-setting log of spec §9.1: ``i. Actions: [cmds]. <action messages>``, valid turns only."""
    lines = []
    for turn in (t for t in result.turns if t.valid):
        result_text = turn.info["message_parts"]["result"]
        lines.append(f"{len(lines) + 1}. Actions: [{', '.join(turn.actions)}]. {result_text}")
    return "\n".join(lines)
