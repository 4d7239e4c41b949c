"""The false-belief phase: after exploring, the agent comes back to a changed scene.

When exploration ends (``Term()`` or the budget), the env with ``false_belief=True`` changes a few
objects (moved or rotated, :func:`false_belief_target`), puts the agent back on its start cell facing
north and starts a second phase with its own budget. The agent keeps its memory of the items it
observed (it may jump to them and query them without observing them again) and must end the phase
with ``Term(changes="obj: type, ...")``. :class:`FalseBeliefPhase` holds that phase's rules and
bookkeeping: which objects are seen again at which turn, the identification scores, steps and
redundancy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from theory_of_space.env import prompts
from theory_of_space.env.actions import Action, Term
from theory_of_space.env.change_report import Identification, identification_scores, parse_change_report
from theory_of_space.env.knowledge import InfoGainNormaliser
from theory_of_space.env.session import ExplorationSession, TurnOutcome
from theory_of_space.world.perturb import DEFAULT_N_CHANGES, SceneChange, perturb_scene
from theory_of_space.world.published import published_scene_root
from theory_of_space.world.scene import Scene
from theory_of_space.world.tos_format import FALSE_BELIEF_FILE, load_tos_false_belief, load_tos_scene

DEFAULT_MAX_FALSE_BELIEF_STEPS = 15
FALSE_BELIEF_HEADING = "# False-Belief Phase"
"""The first line of the phase prompt (scripted agents look for it to know the phase has started)."""


def false_belief_target(
    scene: Scene, *, n_changes: int = DEFAULT_N_CHANGES, folder: str | Path | None = None
) -> tuple[Scene, tuple[SceneChange, ...]]:
    """The changed scene and its changes: a published folder's file, or :func:`perturb_scene`.

    Args:
        scene: the scene as explored.
        n_changes: how many objects change.
        folder: the scene's published ``runNN`` folder, whose ``falsebelief_exp.json`` holds the
            changes; needed for published scenes other than the shipped ones (``tos:runNN``).

    Raises:
        ValueError: for a published scene without its folder's ``falsebelief_exp.json``.
    """
    if folder is None:
        folder = _shipped_folder(scene)
    if folder is not None and (Path(folder) / FALSE_BELIEF_FILE).is_file():
        return load_tos_false_belief(folder, n_changes=n_changes)
    if scene.source.get("kind") == "tos":
        where = "no folder was given" if folder is None else f"{Path(folder) / FALSE_BELIEF_FILE} is missing"
        raise ValueError(
            f"the published scene {scene.source.get('folder')!r} takes its false-belief changes from "
            f"{FALSE_BELIEF_FILE} in its folder, but {where} (pass `data_dir`)"
        )
    return perturb_scene(scene, n_changes)


def _shipped_folder(scene: Scene) -> Path | None:
    """The shipped folder of a published scene (``tos:runNN``), when this scene is the one shipped there."""
    name = scene.source.get("folder")
    if scene.source.get("kind") != "tos" or not name:
        return None
    folder = published_scene_root() / str(name)
    if not (folder / FALSE_BELIEF_FILE).is_file() or load_tos_scene(folder).scene_id != scene.scene_id:
        return None
    return folder


def phase_prompt(n_changes: int, max_steps: int, options: prompts.PromptOptions) -> str:
    """The user message that opens the false-belief phase (the footer follows it)."""
    plural = "s" if n_changes != 1 else ""
    return "\n".join(
        [
            FALSE_BELIEF_HEADING,
            "You are back at your starting position, the origin (0, 0) in room 1, facing north. While you were "
            f"away, {n_changes} object{plural} changed: each of them was either moved to another place or turned "
            "to face another direction, never both.",
            "Explore again to find out which objects changed and how, at the lowest cost you can. You still "
            "remember the objects you observed before, so you may jump to them or query them again.",
            *_term_lines(options),
            f"You may take at most {max_steps} steps in this phase.",
        ]
    )


def _term_lines(options: prompts.PromptOptions) -> list[str]:
    """How the phase ends: the Term form of the text grammar, or the Term tool's ``changes`` argument."""
    if options.tools:
        return [
            "The tools are the same as before, except that this phase ends with the Term tool and its `changes` "
            "argument: list each changed object with its change type, position or orientation, for example "
            '"apple: position, chair: orientation".'
        ]
    return [
        'The actions are the same as before, except that this phase ends with Term(changes="...") instead of '
        "Term(): list each changed object with its change type, position or orientation, like this:",
        'Term(changes="object1: change_type, object2: change_type")',
        'Term(changes="apple: position, chair: orientation")',
    ]


def invalid_feedback(detail: str, options: prompts.PromptOptions) -> str:
    """Feedback on an unparseable reply in this phase, with the grammar and its Term form."""
    grammar = prompts.grammar_summary(options).replace("Term()", 'Term(changes="...")')
    return f"Your reply could not be executed: {detail}. Nothing was done. {grammar}"


class FalseBeliefPhase:
    """The rules and bookkeeping of one false-belief phase.

    Args:
        changed: the changed scene the agent now explores.
        changes: the true changes.
        remembered: the items observed during exploration.
        max_steps: the phase's turn budget.
        query_enabled: whether ``Query`` is allowed (it returns the current, changed state).
        info_gain_normaliser: passed to the phase's session.
    """

    def __init__(
        self,
        changed: Scene,
        changes: Sequence[SceneChange],
        *,
        remembered: Sequence[str],
        max_steps: int = DEFAULT_MAX_FALSE_BELIEF_STEPS,
        query_enabled: bool = True,
        info_gain_normaliser: InfoGainNormaliser = "box",
    ) -> None:
        self.scene = changed
        self.changes = tuple(changes)
        self.session = ExplorationSession(
            changed,
            max_steps=max_steps,
            query_enabled=query_enabled,
            info_gain_normaliser=info_gain_normaliser,
            false_belief=True,
            remembered=remembered,
        )
        self._changed_names = {c.name for c in self.changes}
        self._object_names = {o.name for o in changed.objects}
        self.first_seen: dict[str, int] = {}
        """Object name → the phase's valid turn (1-based) in which an Observe first showed it."""
        self._cost_after_turn: dict[int, int] = {0: 0}
        self.identification: Identification | None = None

    def play(self, action: str | Sequence[Action]) -> tuple[TurnOutcome, dict[str, Any]]:
        """One turn of the phase; returns the outcome and the phase's ``info`` entries for that turn."""
        outcome = self.session.play(action)
        if outcome.valid:
            self._cost_after_turn[self.session.steps] = self.session.action_cost
        seen = [name for name in outcome.newly_observed if name in self._object_names]
        for name in seen:
            self.first_seen[name] = self.session.steps
        info: dict[str, Any] = {
            "changes": [c.to_dict() for c in self.changes],
            "first_seen_changed": [n for n in seen if n in self._changed_names],
            "first_seen_unchanged": [n for n in seen if n not in self._changed_names],
        }
        if outcome.phase_end is not None:
            term = outcome.actions[-1] if outcome.phase_end == "term" else None
            report = parse_change_report(term.changes if isinstance(term, Term) else None, self._object_names)
            self.identification = identification_scores(report, self.changes, truncated=outcome.phase_end == "budget")
            info["false_belief"] = self.summary()
        return outcome, info

    @property
    def redundancy(self) -> int | None:
        """Action cost spent after the turn in which the last changed object was first seen (None if one never was)."""
        if not self._changed_names <= set(self.first_seen):
            return None
        last = max(self.first_seen[name] for name in self._changed_names)
        return self.session.action_cost - self._cost_after_turn[last]

    def summary(self) -> dict[str, Any]:
        """The phase's scores: identification, steps, redundancy, and when each changed object was seen."""
        session = self.session
        identification = {} if self.identification is None else self.identification.to_dict()
        return {
            **identification,
            "steps": session.steps,
            "steps_excluding_term": session.steps_excluding_term,
            "invalid_steps": session.invalid_steps,
            "budget_used": session.steps + session.invalid_steps,
            "action_cost": session.action_cost,
            "redundancy": self.redundancy,
            "first_seen": {name: self.first_seen.get(name) for name in sorted(self._changed_names)},
            "all_changes_seen": self._changed_names <= set(self.first_seen),
            "changes": [c.to_dict() for c in self.changes],
        }
