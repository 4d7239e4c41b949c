"""A batched multi-turn text environment: chat messages in, chat messages out.

For trainers that run their own generation loop over plain messages (verl's multi-turn rollouts,
verifiers' ``MultiTurnEnv``, a hand-written GRPO loop): ``reset`` gives each scene's conversation,
``step`` takes one reply per scene and gives back the grown conversations, the rewards, the done flags
and the details. Rewards are per-step increases of the episode's score
(:mod:`~theory_of_space.integrations.training`), so they add up to the final reward.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from theory_of_space.env.tools import ToolCalls
from theory_of_space.integrations.training import TrainingEpisode

__all__ = ["ChatMessage", "MultiTurnTextEnv"]

ChatMessage = dict[str, str]
"""``{"role": "system" | "user" | "assistant", "content": str}``, the OpenAI chat shape."""


class MultiTurnTextEnv:
    """Many exploration episodes side by side, spoken to in chat messages.

    Args:
        n_envs: How many episodes run side by side (the batch size).
        reward: A component name or ``{component: weight}``: ``info_gain``, ``coverage``, ``task_accuracy``.
        action_format: ``"text"`` (default; replies in the ``Actions: [ ... ]`` grammar) or ``"tools"``
            (replies are lists of tool calls; the conversation then records them as JSON text).
        n_questions: Questions per task after the exploration, when ``task_accuracy`` is rewarded.
        tasks: Task ids to ask (default: all nine).
        env_options: Options of the exploration env (``max_exp_steps``, ``think``, generator defaults, ...).

    Example:
        >>> env = MultiTurnTextEnv(2)
        >>> conversations = env.reset([{"seed": 0}, {"seed": 1}])
        >>> conversations, rewards, dones, infos = env.step(["FINAL ANSWER: Actions: [Observe()]"] * 2)
        >>> [c[-1]["role"] for c in conversations], len(rewards)
        (['user', 'user'], 2)
    """

    def __init__(
        self,
        n_envs: int = 1,
        *,
        reward: str | Mapping[str, float] = "info_gain",
        action_format: str = "text",
        n_questions: int = 1,
        tasks: Sequence[str] | None = None,
        env_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
            raise ValueError(f"expected a positive integer for `n_envs`, got {n_envs!r}")
        self.episodes = [
            TrainingEpisode(
                reward=reward,
                action_format=action_format,
                n_questions=n_questions,
                tasks=tasks,
                env_options=env_options,
            )
            for _ in range(n_envs)
        ]
        self.conversations: list[list[ChatMessage]] = [[] for _ in range(n_envs)]
        self.dones = [True] * n_envs

    @property
    def n_envs(self) -> int:
        return len(self.episodes)

    def reset(self, rows: Sequence[Mapping[str, Any]] | None = None) -> list[list[ChatMessage]]:
        """Start one episode per row and return each conversation: the system message and the task prompt.

        Args:
            rows: One dataset row per env (``seed`` or ``scene_folder``, and generator settings); by default
                seeds ``0 .. n_envs - 1``.

        Raises:
            ValueError: the number of rows is not ``n_envs``, or a row names no scene.
        """
        rows = [{"seed": index} for index in range(self.n_envs)] if rows is None else list(rows)
        if len(rows) != self.n_envs:
            raise ValueError(f"expected {self.n_envs} rows (one per env), got {len(rows)}")
        for index, (episode, row) in enumerate(zip(self.episodes, rows)):
            first = episode.reset(**row)
            self.conversations[index] = [
                {"role": "system", "content": episode.system_prompt},
                {"role": "user", "content": first},
            ]
            self.dones[index] = False
        return [list(conversation) for conversation in self.conversations]

    def step(
        self, replies: Sequence[str | Sequence[Any] | None]
    ) -> tuple[list[list[ChatMessage]], list[float], list[bool], list[dict[str, Any]]]:
        """Play one reply per env; the reply of an env whose episode is over is ignored (pass None).

        Returns:
            The conversations (with the reply and the env's answer appended), the rewards (the step's
            increase of each episode's score; 0 for finished episodes), the done flags, and per env a dict
            with ``phase``, ``score`` (the episode's reward so far), ``components`` and the env's ``env_info``
            for exploration turns.

        Raises:
            ValueError: the number of replies is not ``n_envs``.
        """
        if len(replies) != self.n_envs:
            raise ValueError(f"expected {self.n_envs} replies (one per env), got {len(replies)}")
        rewards, infos = [0.0] * self.n_envs, [{} for _ in range(self.n_envs)]
        for index, (episode, reply) in enumerate(zip(self.episodes, replies)):
            if self.dones[index]:
                infos[index] = {"phase": "done", "score": episode.reward(), "components": dict(episode.components)}
                continue
            text, action = self._reply(reply)
            step = episode.step(action)
            conversation = self.conversations[index]
            conversation.append({"role": "assistant", "content": text})
            conversation.append({"role": "user", "content": step.message})
            rewards[index] = step.reward
            self.dones[index] = step.done
            infos[index] = {
                "phase": episode.phase,
                "score": episode.reward(),
                "components": dict(episode.components),
                "env_info": step.info,
            }
        return [list(conversation) for conversation in self.conversations], rewards, list(self.dones), infos

    @staticmethod
    def _reply(reply: Any) -> tuple[str, str | ToolCalls]:
        """The reply as conversation text, and as the action the episode takes."""
        if reply is None:
            return "", ""
        if isinstance(reply, str):
            return reply, reply
        return json.dumps(reply, default=str), ToolCalls(reply)
