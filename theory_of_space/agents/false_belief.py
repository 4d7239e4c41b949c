"""Scripted false-belief agents: the two ends of the belief-inertia scale, for validating the metrics.

Both know the scene and its changed version (they are privileged proxies, like SCOUT). They explore
with SCOUT's plan, and in the false-belief phase sweep the changed scene the same way (SCOUT's plan on
it, cut to fit the phase budget), then report every change whose object they saw again. They differ
only in the maps they write:

- ``updating`` writes the new state of every item it has seen again, and its old map for the rest;
- ``inertial`` keeps writing its exploration-phase map for every item it knew, whatever it saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Literal

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.agents.scripted import scout_plan
from theory_of_space.env.actions import Action, Term, format_actions
from theory_of_space.env.false_belief import DEFAULT_MAX_FALSE_BELIEF_STEPS, FALSE_BELIEF_HEADING
from theory_of_space.env.session import ExplorationSession
from theory_of_space.probes.cogmap import AGENT, MapEntry
from theory_of_space.probes.requests import ProbeRequest
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Pose, Scene, normalise_name

WriterMode = Literal["updating", "inertial"]
FALSE_BELIEF_AGENTS: tuple[WriterMode, ...] = ("updating", "inertial")


class FalseBeliefAgent:
    """A scripted agent for episodes with the false-belief phase.

    Args:
        mode: ``updating`` or ``inertial`` (only the maps differ).
        scene: the scene as explored.
        changed: the changed scene of the second phase.
        changes: the true changes.
        query_enabled: whether plans may use ``Query`` (SCOUT's plans never do).
        max_false_belief_steps: the phase budget; the sweep is cut to leave one turn for the report.
    """

    def __init__(
        self,
        mode: WriterMode,
        scene: Scene,
        changed: Scene,
        changes: Sequence[SceneChange],
        *,
        query_enabled: bool = True,
        max_false_belief_steps: int = DEFAULT_MAX_FALSE_BELIEF_STEPS,
    ) -> None:
        if mode not in FALSE_BELIEF_AGENTS:
            raise ValueError(f"expected one of {FALSE_BELIEF_AGENTS} for `mode`, got {mode!r}")
        self.name = mode
        self.mode = mode
        self.scene, self.changed, self.changes = scene, changed, tuple(changes)
        self.exploration_turns = scout_plan(scene, query_enabled=query_enabled)
        sweep = scout_plan(changed, query_enabled=query_enabled)[:-1][: max(0, max_false_belief_steps - 1)]
        session = ExplorationSession(changed, max_steps=len(sweep) + 1, false_belief=True)
        for actions in sweep:
            session.play(list(actions))
        seen = set(session.coverage.observed)
        report = ", ".join(f"{c.name}: {c.type_label}" for c in self.changes if c.name in seen)
        self.false_belief_turns: list[tuple[Action, ...]] = [*sweep, (Term(changes=report),)]

    def act(self, messages: Sequence[Message]) -> AgentReply:
        """The next planned turn of the phase the conversation is in."""
        start = next(
            (i for i, m in enumerate(messages) if m.role == "user" and FALSE_BELIEF_HEADING in m.content), None
        )
        if start is None:
            plan, done = self.exploration_turns, sum(m.role == "assistant" for m in messages)
            fallback: tuple[Action, ...] = (Term(),)
        else:
            plan, done = self.false_belief_turns, sum(m.role == "assistant" for m in messages[start:])
            fallback = self.false_belief_turns[-1]
        actions = plan[done] if done < len(plan) else fallback
        text = f"THINK: follow the {self.mode} plan.\nFINAL ANSWER: {format_actions(actions)}"
        return AgentReply(text=text, record=CallRecord(model=self.name))

    def false_belief_map(self, *, explored: Iterable[str], seen_again: Iterable[str], pose: Pose) -> str:
        """The ``global_fb`` map reply after a false-belief turn (see :func:`false_belief_map`)."""
        entries = false_belief_map(
            self.mode, self.scene, self.changed, explored=explored, seen_again=seen_again, pose=pose
        )
        return map_reply(entries)

    def exploration_map(self, *, explored: Iterable[str], pose: Pose) -> str:
        """The global map reply after exploration: the true places of the observed items (both modes)."""
        return map_reply(belief_map(self.scene, explored, pose))

    def answer_probe(self, request: ProbeRequest) -> str:
        """Answer a false-belief episode's map probe from its ``context`` (a ``ProbeAnswerer`` function).

        ``global`` probes get the exploration map, ``global_fb`` probes the mode's map.
        """
        context = request.context
        pose = Pose.from_dict(context["pose"])
        if request.kind == "global_fb":
            return self.false_belief_map(explored=context["explored"], seen_again=context["seen_again"], pose=pose)
        return self.exploration_map(explored=context["explored"], pose=pose)


def belief_map(scene: Scene, names: Iterable[str], pose: Pose) -> dict[str, MapEntry]:
    """The true allocentric entries of ``names`` in ``scene``, with the agent at ``pose``."""
    entries = {}
    for name in names:
        item = scene.item(name)
        if item is not None:
            offset = scene.allocentric(item.cell)
            entries[normalise_name(item.name)] = MapEntry((float(offset[0]), float(offset[1])), item.facing)
    offset = scene.allocentric(pose.cell)
    entries[AGENT] = MapEntry((float(offset[0]), float(offset[1])), pose.facing)
    return entries


def false_belief_map(
    mode: WriterMode,
    scene: Scene,
    changed: Scene,
    *,
    explored: Iterable[str],
    seen_again: Iterable[str],
    pose: Pose,
) -> dict[str, MapEntry]:
    """A scripted ``global_fb`` map.

    ``updating``: items seen again in their new state, the other explored items as they were.
    ``inertial``: every explored item as it was; items it had never seen, as seen now.
    """
    explored, seen_again = list(explored), list(seen_again)
    if mode == "updating":
        old = belief_map(scene, [n for n in explored if n not in seen_again], pose)
        return {**old, **belief_map(changed, seen_again, pose)}
    new_only = belief_map(changed, [n for n in seen_again if n not in explored], pose)
    return {**new_only, **belief_map(scene, explored, pose)}


def map_reply(entries: dict[str, MapEntry]) -> str:
    """A reply in the probe format (``THINK:`` then ``FINAL ANSWER:`` and the JSON map)."""
    data = {}
    for name, entry in entries.items():
        record: dict[str, object] = {"position": [round(entry.position[0]), round(entry.position[1])]}
        if entry.facing is not None:
            record["facing"] = entry.facing.label
        data[name] = record
    return "THINK: write the map I hold.\nFINAL ANSWER: " + json.dumps(data)
