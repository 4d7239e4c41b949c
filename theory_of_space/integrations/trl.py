"""An ``environment_factory`` class for TRL's ``GRPOTrainer`` (tested with TRL 1.16).

TRL's contract (``trl/trainer/grpo_trainer.py``): the trainer calls the factory with no argument to make one
environment per rollout, calls ``reset(**row)`` with the dataset row before generation and appends the string
it returns to the last user message, exposes every public method except ``reset`` and ``get_reward`` as a
tool (name, typed arguments and Google-style docstring become the JSON schema), calls them with the model's
arguments and sends back ``str(result)`` (an exception becomes ``{"error": ...}``), and calls
``get_reward()`` once per finished rollout.

The tools are the benchmark's actions under their own names. A turn of the benchmark is a list of motions
ending in one final action, so motion calls (``JumpTo``, ``Rotate``) are held and carried out with the next
final call (``Observe``, ``Query``, ``Term``): that call plays the whole turn through the environment, with the
same rules, costs, failures and budget as a text reply. After the exploration, when the reward includes
``map_correctness`` the model is asked for its cognitive map, and with ``task_accuracy`` the evaluation
questions follow; ``Answer`` replies to both.

Nothing here imports TRL; pass the class (or a ``functools.partial`` of it) as ``environment_factory``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from theory_of_space.env.tools import ToolCalls
from theory_of_space.integrations.training import TrainingEpisode

__all__ = ["ExplorationToolEnv"]


class ExplorationToolEnv:
    """One exploration episode as TRL tools; the reward comes from the episode's final state.

    Args:
        reward: A component name or ``{component: weight}``: ``info_gain`` (default), ``coverage``,
            ``task_accuracy`` (see :mod:`theory_of_space.integrations.training`).
        n_questions: Questions per task after the exploration, when ``task_accuracy`` is rewarded.
        tasks: Task ids to ask (default: all nine).
        env_options: Options of the exploration env (``max_exp_steps``, ``think``, ``query_enabled``,
            generator defaults such as ``n_rooms``).

    Example:
        >>> env = ExplorationToolEnv()
        >>> prompt = env.reset(seed=0)
        >>> env.Rotate(degrees=90)
        'Held: Rotate(90) is carried out with your next Observe, Query or Term call.'
        >>> env.Observe().startswith("You rotated clockwise 90")
        True
        >>> 0.0 < env.get_reward() <= 1.0
        True
    """

    # The method names are the benchmark's action names (the model sees them as tool names), hence CamelCase.

    def __init__(
        self,
        *,
        reward: str | Mapping[str, float] = "info_gain",
        n_questions: int = 1,
        tasks: Sequence[str] | None = None,
        env_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._episode = TrainingEpisode(
            reward=reward, action_format="tools", n_questions=n_questions, tasks=tasks, env_options=env_options
        )
        self._held: list[dict[str, Any]] = []
        self.turns = 0
        """Environment turns played since the last reset (invalid ones included)."""

    @property
    def episode(self) -> TrainingEpisode:
        """The episode being played (scene, env, question phase and reward components)."""
        return self._episode

    def reset(self, **row: Any) -> str:
        """Start on the scene the dataset row names (``seed`` or ``scene_folder``, generator settings).

        Returns:
            The system instructions and the task prompt, appended by TRL to the last user message.
        """
        self._held = []
        self.turns = 0
        first = self._episode.reset(**row)
        return f"{self._episode.system_prompt}\n\n{first}"

    def get_reward(self) -> float:
        """The episode's reward: the weighted sum of its end-of-episode scores, in [0, sum of weights]."""
        return float(self._episode.reward())

    def JumpTo(self, target: str) -> str:
        """Move onto an object or door you have already observed and can see now; your facing does not change.

        Args:
            target: The name of the object or door, as the task lists it.
        """
        return self._hold("JumpTo", {"target": target})

    def Rotate(self, degrees: int) -> str:
        """Turn in place; positive degrees turn clockwise.

        Args:
            degrees: One of 0, 90, -90, 180, -180, 270, -270.
        """
        return self._hold("Rotate", {"degrees": degrees})

    def Observe(self) -> str:
        """Describe what you see now, after any held JumpTo and Rotate calls. Costs 1."""
        return self._play("Observe", {})

    def Query(self, target: str) -> str:
        """Return the map position of an object or door you have already observed. Costs 2.

        Args:
            target: The name of the object or door, as the task lists it.
        """
        return self._play("Query", {"target": target})

    def Term(self) -> str:
        """End the exploration. It must not follow held JumpTo or Rotate calls."""
        return self._play("Term", {})

    def Answer(self, answer: str) -> str:
        """Answer what is asked after the exploration (the cognitive map, then each question) in its format.

        Args:
            answer: Only the answer, in the required format.
        """
        if self._episode.phase not in ("map", "questions"):
            raise RuntimeError("there is no question to answer now; explore with the action tools")
        return self._episode.step(f"FINAL ANSWER: {answer}").message

    def _hold(self, name: str, arguments: dict[str, Any]) -> str:
        self._check_exploring()
        self._held.append({"name": name, "arguments": arguments})
        shown = ", ".join(str(value) for value in arguments.values())
        return f"Held: {name}({shown}) is carried out with your next Observe, Query or Term call."

    def _play(self, name: str, arguments: dict[str, Any]) -> str:
        self._check_exploring()
        calls, self._held = [*self._held, {"name": name, "arguments": arguments}], []
        self.turns += 1
        return self._episode.step(ToolCalls(calls)).message

    def _check_exploring(self) -> None:
        phase = self._episode.phase
        if phase in ("map", "questions"):
            raise RuntimeError("the exploration is over; answer with the Answer tool")
        if phase == "done":
            raise RuntimeError("the episode is over; no further actions are possible")
