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
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """The model's tool calls, when the env takes tool calls (``action_format="tools"``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reply": self.reply,
            "tool_calls": self.tool_calls,
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

    @property
    def action_format(self) -> str:
        """How the agent acted: ``"text"`` (the action grammar) or ``"tools"`` (tool calls)."""
        return str(self.reset_info.get("action_format", "text"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_VERSION,
            "agent": self.agent,
            "action_format": self.action_format,
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
        on_turn: called with each turn's record as soon as the env has answered it (the runner stores it;
            ``tos explore`` prints the transcript this way while a slow model is still exploring).

    Raises:
        ValueError: the agent acts through tool calls (``action_format="tools"``) and the env does not, or
            the other way round.

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
    tools = info.get("action_format") == "tools"
    agent_format = getattr(agent, "action_format", "text")
    if agent_format != info.get("action_format", "text"):
        raise ValueError(
            f"the agent acts through {agent_format!r} but the env takes {info.get('action_format', 'text')!r}; "
            f"make the env with action_format={agent_format!r}"
        )
    if tools:  # the env's tools, not those a shared model offered in its last episode (the false-belief Term)
        agent.set_tools(info["tools"])
    while not (terminated or truncated):
        reply = agent.act(messages)
        # In tools mode the calls are the action (a reply without calls is an invalid turn).
        obs, _, terminated, truncated, step_info = env.step(list(reply.tool_calls) if tools else reply.text)
        messages.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
        messages.append(_user_message(obs, step_info))
        if tools and "tools" in step_info:  # a new phase offers other tools (the false-belief Term)
            agent.set_tools(step_info["tools"])
        turns.append(
            TurnRecord(
                index=len(turns) + 1,
                reply=reply.text,
                valid=bool(step_info["valid"]),
                actions=list(step_info["actions"]),
                message=obs["text"],
                info=step_info,
                record=reply.record,
                tool_calls=[dict(call) for call in reply.tool_calls],
            )
        )
        if on_turn is not None:
            on_turn(turns[-1])
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
    """The passive setting's history log, ``i. Actions: [cmds]. <action messages>`` per valid turn."""
    lines = []
    for turn in (t for t in result.turns if t.valid):
        result_text = turn.info["message_parts"]["result"]
        lines.append(f"{len(lines) + 1}. Actions: [{', '.join(turn.actions)}]. {result_text}")
    return "\n".join(lines)
