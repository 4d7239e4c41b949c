"""One training episode: exploration in the Gymnasium env, then optional evaluation questions, and its reward.

The trainers' adapters (:mod:`~theory_of_space.integrations.trl`, :mod:`~theory_of_space.integrations.multiturn`)
drive this class; it owns the scene choice from dataset columns, the question phase and the reward.

The reward is a weighted sum of end-of-episode scores, each in [0, 1]:

- ``info_gain``: the information gain of the exploration (the knowledge solver's positional certainty);
- ``coverage``: the fraction of objects and doors observed (node coverage);
- ``task_accuracy``: the mean score of the evaluation questions asked after the exploration (an unanswered
  question scores 0);
- ``map_correctness``: after the exploration the model writes its global cognitive map (the belief probe's
  prompt), scored against the whole true map with the agent at its final pose (overall = mean of the
  direction, facing and position similarities; a reply with no map scores 0).

Every score is a function of the episode's state, never a sum of per-step bonuses, so it cannot be farmed:
an invalid reply changes nothing, a repeated Observe of a known view adds nothing, and ending at once leaves
every score at its starting value (0). Per-step rewards, where a trainer wants them, are the step's increase
of the weighted score (potential-based), so they add up to the final reward whatever the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.env.tools import ToolCalls
from theory_of_space.probes.cogmap import cogmap_scale, compare_cogmaps, map_prompt, parse_cogmap, true_cogmap
from theory_of_space.tasks.base import Question
from theory_of_space.tasks.prompts import question_block
from theory_of_space.tasks.suite import TASK_IDS, generate_questions, score_question
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Pose, Scene
from theory_of_space.world.tos_format import load_tos_scene

__all__ = [
    "GENERATOR_COLUMNS",
    "REWARD_COMPONENTS",
    "SCENE_COLUMNS",
    "EpisodeStep",
    "TrainingEpisode",
    "reward_weights",
    "scene_from_columns",
]

REWARD_COMPONENTS = ("info_gain", "coverage", "task_accuracy", "map_correctness")
GENERATOR_COLUMNS = ("n_rooms", "room_size", "n_objects", "topology", "object_sampler")
SCENE_COLUMNS = ("seed", "scene_folder", *GENERATOR_COLUMNS)
"""Dataset columns that choose a scene: ``seed`` with the generator settings, or ``scene_folder`` (a
published ``runNN`` folder). Other columns (``prompt`` and anything a reward function reads) are ignored."""

Phase = Literal["exploration", "map", "questions", "done"]


def reward_weights(reward: str | Mapping[str, float]) -> dict[str, float]:
    """Normalise a reward setting: a component name (weight 1) or a mapping of component names to weights.

    Raises:
        ValueError: an unknown component, a negative or non-finite weight, or no positive weight at all.
    """
    weights = {reward: 1.0} if isinstance(reward, str) else dict(reward)
    for name, weight in weights.items():
        if name not in REWARD_COMPONENTS:
            raise ValueError(f"expected reward components among {', '.join(REWARD_COMPONENTS)}, got {name!r}")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight < float("inf"):
            raise ValueError(f"expected a non-negative finite weight for reward component {name!r}, got {weight!r}")
    if not any(weights.values()):
        raise ValueError(f"expected at least one positive reward weight, got {weights!r}")
    return {name: float(weight) for name, weight in weights.items() if weight}


def scene_from_columns(columns: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None) -> Scene:
    """The scene a dataset row asks for.

    Args:
        columns: ``scene_folder`` (a published scene folder), or ``seed`` plus any generator settings
            (``n_rooms``, ``room_size``, ``n_objects``, ``topology``, ``object_sampler``).
        defaults: Generator settings used where the row gives none.

    Raises:
        ValueError: the row names neither ``seed`` nor ``scene_folder``, or both.
    """
    folder, seed = columns.get("scene_folder"), columns.get("seed")
    if folder is not None and seed is not None:
        raise ValueError("expected either `seed` or `scene_folder` in a dataset row, got both")
    if folder is not None:
        return load_tos_scene(Path(folder))
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"expected an integer `seed` (or a `scene_folder`) in a dataset row, got {seed!r}")
    settings = {**(defaults or {}), **{k: columns[k] for k in GENERATOR_COLUMNS if columns.get(k) is not None}}
    return generate_scene(seed, **settings)


@dataclass
class EpisodeStep:
    """What one reply did: the env's answer, the reward increase, whether the episode is over, details."""

    message: str
    reward: float
    done: bool
    info: dict[str, Any] = field(default_factory=dict)


class TrainingEpisode:
    """One scene explored by a model under training, then (optionally) questioned, with its reward.

    Args:
        reward: A component name or ``{component: weight}`` (see the module docstring).
        action_format: ``"text"`` (replies in the ``Actions: [ ... ]`` grammar) or ``"tools"`` (tool calls).
        n_questions: Evaluation questions per task asked after the exploration when ``task_accuracy`` has
            weight; the default asks one question per task.
        tasks: Task ids to ask (default: all nine; a task the scene cannot produce is skipped).
        env_options: Further :class:`~theory_of_space.env.exploration.ExploreEnv` options (``max_exp_steps``,
            ``think``, ``query_enabled``, ``n_rooms`` and the other generator settings used as defaults).
    """

    def __init__(
        self,
        *,
        reward: str | Mapping[str, float] = "info_gain",
        action_format: str = "text",
        n_questions: int = 1,
        tasks: Sequence[str] | None = None,
        env_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.weights = reward_weights(reward)
        options = dict(env_options or {})
        for forbidden in ("reward", "action_format", "obs_mode"):
            if forbidden in options:
                raise ValueError(f"`{forbidden}` is set by TrainingEpisode, not by env_options")
        self.generator_defaults = {k: options[k] for k in GENERATOR_COLUMNS if k in options}
        # The inner env runs the knowledge solver every step only when information gain is rewarded.
        inner_reward = "info_gain" if "info_gain" in self.weights else "coverage"
        self.env = ExploreEnv(reward=inner_reward, action_format=action_format, **options)
        self.action_format = action_format
        self.n_questions = n_questions
        self.tasks = tuple(tasks) if tasks is not None else None
        unknown = [task for task in self.tasks or () if task not in TASK_IDS]
        if unknown:
            raise ValueError(f"expected task ids from {', '.join(TASK_IDS)} for `tasks`, got {unknown}")
        self.scene: Scene | None = None
        self.phase: Phase = "done"
        self.system_prompt = ""
        self.questions: list[Question] = []
        self.scores: list[float] = []
        self.components: dict[str, float] = dict.fromkeys(REWARD_COMPONENTS, 0.0)
        self.exploration_info: dict[str, Any] = {}

    @property
    def asks_questions(self) -> bool:
        return "task_accuracy" in self.weights

    @property
    def asks_map(self) -> bool:
        return "map_correctness" in self.weights

    def reset(self, **columns: Any) -> str:
        """Start on the scene a dataset row asks for; returns the first user message (the task prompt)."""
        self.scene = scene_from_columns(columns, defaults=self.generator_defaults)
        obs, info = self.env.reset(options={"scene": self.scene})
        self.system_prompt = info["system_prompt"]
        self.phase = "exploration"
        self.questions, self.scores = [], []
        self.components = dict.fromkeys(REWARD_COMPONENTS, 0.0)
        self.exploration_info = info
        return obs["text"]

    def reward(self) -> float:
        """The episode's reward so far: the weighted sum of its component scores."""
        return sum(weight * self.components[name] for name, weight in self.weights.items())

    def step(self, reply: str | ToolCalls) -> EpisodeStep:
        """Play one reply: an exploration turn, or the answer to the current question.

        Raises:
            RuntimeError: the episode is over (call :meth:`reset`).
        """
        if self.phase == "done":
            raise RuntimeError("the episode is over; call reset()")
        before = self.reward()
        if self.phase == "exploration":
            message, info = self._explore(reply)
        elif self.phase == "map":
            message, info = self._score_map(reply)
        else:
            message, info = self._answer(reply)
        return EpisodeStep(message, self.reward() - before, self.phase == "done", info)

    def _explore(self, reply: str | ToolCalls) -> tuple[str, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(reply)
        self.exploration_info = info
        self.components["coverage"] = float(info["node_coverage"])
        if "information_gain" in info:
            self.components["info_gain"] = float(info["information_gain"])
        message = obs["text"]
        if terminated or truncated:
            if self.asks_map:
                self.phase = "map"
                return f"{message.rstrip()}\n\n{map_prompt('global')}", info
            message = self._start_questions(message)
        return message, info

    def _start_questions(self, message: str) -> str:
        """After the exploration (and the map): the first question, or the end of the episode."""
        self.phase = "done"
        if self.asks_questions:
            self.questions = self._draw_questions()
            if self.questions:
                self.phase = "questions"
                return f"{message.rstrip()}\n\n{self._question_text()}"
        return message

    def _score_map(self, reply: str | ToolCalls) -> tuple[str, dict[str, Any]]:
        assert self.scene is not None and self.env.session is not None
        text = reply if isinstance(reply, str) else str(reply.calls)
        parsed = parse_cogmap(text, "global")
        pose = Pose(self.env.session.cell, self.env.session.facing)
        scores = compare_cogmaps(parsed.entries, true_cogmap(self.scene, "global", pose=pose), cogmap_scale(self.scene))
        self.components["map_correctness"] = scores.overall if parsed.valid else 0.0
        info = {"map_valid": parsed.valid, "map_scores": scores.to_dict()}
        return self._start_questions("Map recorded."), info

    def _answer(self, reply: str | ToolCalls) -> tuple[str, dict[str, Any]]:
        assert self.scene is not None
        question = self.questions[len(self.scores)]
        text = reply if isinstance(reply, str) else str(reply.calls)
        score = score_question(question, text, self.scene)
        self.scores.append(score.value)
        self.components["task_accuracy"] = sum(self.scores) / len(self.questions)
        info = {"question": question.qid, "task": question.task, "score": score.to_dict()}
        if len(self.scores) == len(self.questions):
            self.phase = "done"
            return f"Answer recorded. Questions answered: {len(self.scores)}; the episode is over.", info
        return f"Answer recorded.\n\n{self._question_text()}", info

    def _question_text(self) -> str:
        question = self.questions[len(self.scores)]
        return question_block(question, think=self.env.prompt_options.think)

    def _draw_questions(self) -> list[Question]:
        assert self.scene is not None
        return list(generate_questions(self.scene, n_per_task=self.n_questions, tasks=self.tasks).questions)
