"""One exploration phase as plain state and rules: pose, budget, counters and knowledge.

The Gymnasium env wraps this; scripted explorers and tests can drive it directly. A turn is either
the model's raw reply text or a list of action objects; nothing a model writes can raise here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from theory_of_space.env import text
from theory_of_space.env.actions import (
    Action,
    InvalidTurn,
    JumpTo,
    Observe,
    ParsedTurn,
    Query,
    Rotate,
    Term,
    check_sequence,
    parse_actions,
    split_reply,
)
from theory_of_space.env.coverage import CoverageTracker
from theory_of_space.env.knowledge import INITIAL_POS, InfoGainNormaliser, KnowledgeSolver
from theory_of_space.env.tools import ToolCalls, parse_tool_calls
from theory_of_space.world.geometry import Cell, Facing
from theory_of_space.world.scene import Item, Scene
from theory_of_space.world.view import ViewDescription, describe_view
from theory_of_space.world.visibility import is_visible

VALID_ROTATIONS = frozenset({0, 90, -90, 180, -180, 270, -270})
ACTION_KINDS = ("jump", "rotate", "observe", "query", "term")
PhaseEnd = Literal["term", "budget"]


@dataclass
class ActionResult:
    """What one action did: ``ok`` false with a ``reason`` when it failed."""

    action: str
    ok: bool
    message: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "ok": self.ok, "message": self.message, "reason": self.reason}


@dataclass
class TurnOutcome:
    """The result of one turn: the env's message (results only) and everything metrics need."""

    valid: bool
    message: str
    actions: tuple[Action, ...] = ()
    results: list[ActionResult] = field(default_factory=list)
    invalid_reason: str | None = None
    invalid_detail: str | None = None
    failed: bool = False
    cost: int = 0
    view: ViewDescription | None = None
    newly_observed: list[str] = field(default_factory=list)
    phase_end: PhaseEnd | None = None


class ExplorationSession:
    """The rules of one exploration phase on one scene.

    Args:
        scene: the world.
        max_steps: the turn budget; every turn, valid or not, uses one unit.
        query_enabled: whether ``Query`` is part of the grammar.
        info_gain_normaliser: ``"box"`` (ours, never negative) or ``"published"``.
        false_belief: the false-belief phase: it must end with ``Term(changes="...")``.
        remembered: items observed before this session (in the exploration phase), which may be
            jumped to or queried without being observed again.
    """

    def __init__(
        self,
        scene: Scene,
        *,
        max_steps: int = 20,
        query_enabled: bool = True,
        info_gain_normaliser: InfoGainNormaliser = "box",
        false_belief: bool = False,
        remembered: Sequence[str] = (),
    ) -> None:
        self.scene = scene
        self.max_steps = max_steps
        self.query_enabled = query_enabled
        self.info_gain_normaliser = info_gain_normaliser
        self.false_belief = false_belief
        self.remembered = frozenset(remembered)
        self.cell = scene.start.cell
        self.facing: Facing = scene.start.facing
        self.rooms = scene.rooms_at(self.cell)
        self.anchor = INITIAL_POS
        self.budget_left = max_steps
        self.steps = 0
        self.invalid_steps = 0
        self.action_failures = 0
        self.action_cost = 0
        self.action_counts = dict.fromkeys(ACTION_KINDS, 0)
        self.coverage = CoverageTracker(scene)
        self.last_view: ViewDescription | None = None
        self.phase_end: PhaseEnd | None = None
        self.solver = KnowledgeSolver([item.name for item in scene.items], box_radius=max(scene.shape))
        self._knowledge_log: list[tuple[str, Any]] = []
        self._seen_views: set[tuple[str, ViewDescription]] = set()
        self._views: dict[tuple[Cell, Facing, tuple[int, ...]], tuple[ViewDescription, str]] = {}
        self._knowledge_fed = 0

    @property
    def done(self) -> bool:
        return self.phase_end is not None

    @property
    def steps_excluding_term(self) -> int:
        return self.steps - self.action_counts["term"]

    # ---- one turn ----------------------------------------------------------------------------

    def play(self, reply: str | Sequence[Action] | ToolCalls) -> TurnOutcome:
        """Execute one turn from reply text, parsed actions or tool calls, and spend one unit of budget."""
        if self.done:
            raise RuntimeError("the exploration phase has ended; start a new session")
        turn = self._parse(reply)
        self.budget_left -= 1
        if isinstance(turn, InvalidTurn):
            self.invalid_steps += 1
            outcome = TurnOutcome(valid=False, message="", invalid_reason=turn.reason, invalid_detail=turn.detail)
        else:
            self.steps += 1
            outcome = self._execute(turn.actions)
            if outcome.failed:
                self.action_failures += 1
        if any(isinstance(a, Term) for a in outcome.actions) and outcome.results and outcome.results[-1].ok:
            self.phase_end = "term"
        elif self.budget_left <= 0:
            self.phase_end = "budget"
        outcome.phase_end = self.phase_end
        return outcome

    def _parse(self, reply: str | Sequence[Action] | ToolCalls) -> ParsedTurn | InvalidTurn:
        if isinstance(reply, ToolCalls):
            return parse_tool_calls(reply.calls, query_enabled=self.query_enabled, false_belief=self.false_belief)
        if isinstance(reply, str):
            return parse_actions(
                split_reply(reply)[1], query_enabled=self.query_enabled, false_belief=self.false_belief
            )
        actions = list(reply)
        if not all(isinstance(a, (JumpTo, Rotate, Observe, Query, Term)) for a in actions):
            return InvalidTurn("unknown_action", f"expected action objects, got {actions!r}")
        if not self.query_enabled and any(isinstance(a, Query) for a in actions):
            return InvalidTurn("unknown_action", "Query is disabled in this environment")
        if any(isinstance(a, Term) and (a.changes is None) == self.false_belief for a in actions):
            if self.false_belief:
                return InvalidTurn("wrong_term_form", 'end the false-belief phase with Term(changes="...")')
            return InvalidTurn("wrong_term_form", "Term takes no argument during exploration")
        return check_sequence(actions)

    def _execute(self, actions: tuple[Action, ...]) -> TurnOutcome:
        outcome = TurnOutcome(valid=True, message="", actions=actions)
        messages: list[str] = []
        for action in actions[:-1]:
            result = self._move(action)
            outcome.results.append(result)
            if not result.ok:
                outcome.failed = True
                observe = self._observe(outcome)
                messages.append(text.skipped_message(str(action), result.reason or "failed") + " " + observe.message)
                outcome.results.append(observe)
                outcome.message = " ".join(messages)
                return outcome
            messages.append(result.message)
        final = actions[-1]
        if isinstance(final, Observe):
            result = self._observe(outcome)
        elif isinstance(final, Query):
            result = self._query(final, outcome)
        else:
            self.action_counts["term"] += 1
            ended = text.FALSE_BELIEF_TERMINATED if self.false_belief else text.EXPLORATION_TERMINATED
            result = ActionResult(str(final), True, ended)
        outcome.results.append(result)
        if not result.ok:
            outcome.failed = True
        messages.append(result.message)
        outcome.message = " ".join(messages)
        return outcome

    def _move(self, action: Action) -> ActionResult:
        if isinstance(action, Rotate):
            if action.degrees not in VALID_ROTATIONS:
                reason = f"invalid rotation angle {action.degrees} (use 0, ±90, ±180 or ±270)"
                return ActionResult(str(action), False, text.failure_message(str(action), reason), reason)
            self.facing = self.facing.rotated(action.degrees)
            self.action_counts["rotate"] += 1
            return ActionResult(str(action), True, text.rotate_message(action.degrees))
        assert isinstance(action, JumpTo)
        item, reason = self._observed_item(action.target)
        if reason is None and item is not None and not is_visible(self.scene, self.cell, self.facing, item, self.rooms):
            reason = "object not visible"
        if reason is not None or item is None:
            return ActionResult(str(action), False, text.failure_message(str(action), reason or ""), reason)
        self.cell, self.rooms, self.anchor = item.cell, item.rooms, item.name
        self.action_counts["jump"] += 1
        return ActionResult(str(action), True, text.jump_message(item.name))

    def _observe(self, outcome: TurnOutcome) -> ActionResult:
        pose = (self.cell, self.facing, self.rooms)
        if pose not in self._views:  # a view is a pure function of the pose: describe and format it once
            view = describe_view(self.scene, *pose)
            self._views[pose] = (view, text.observation_text(view))
        view, observation = self._views[pose]
        outcome.view = view
        self.last_view = view
        outcome.newly_observed = self.coverage.record(self.anchor, view.names)
        if (self.anchor, view) not in self._seen_views:  # the same view again adds no constraint
            self._seen_views.add((self.anchor, view))
            self._knowledge_log.append(("observe", (self.anchor, view)))
        outcome.cost += 1
        self.action_cost += 1
        self.action_counts["observe"] += 1
        return ActionResult("Observe()", True, observation)

    def _observed_item(self, name: str) -> tuple[Item | None, str | None]:
        """The named item and None, or why it cannot be acted on: unknown, or not observed yet."""
        item = self.scene.item(name)
        if item is None:
            return None, "object not found"
        if not (self.coverage.has_observed(item.name) or item.name in self.remembered):
            return item, "object not observed yet"
        return item, None

    def _query(self, action: Query, outcome: TurnOutcome) -> ActionResult:
        item, reason = self._observed_item(action.target)
        if reason is not None or item is None:
            return ActionResult(str(action), False, text.failure_message(str(action), reason or ""), reason)
        position = self.scene.allocentric(item.cell)
        self._knowledge_log.append(("fix", (item.name, position)))
        outcome.cost += 2
        self.action_cost += 2
        self.action_counts["query"] += 1
        return ActionResult(str(action), True, text.query_message(item.name, position, item.facing))

    # ---- knowledge and metrics ---------------------------------------------------------------

    def knowledge(self) -> KnowledgeSolver:
        """The solver with every observation so far fed in (fed lazily: it is the costly part)."""
        for kind, payload in self._knowledge_log[self._knowledge_fed :]:
            if kind == "observe":
                self.solver.observe(*payload)
            else:
                self.solver.fix(*payload)
        self._knowledge_fed = len(self._knowledge_log)
        self.solver.propagate()
        return self.solver

    def information_gain(self) -> float:
        return self.knowledge().information_gain(self.info_gain_normaliser)

    def pose_info(self) -> dict[str, Any]:
        return {
            "cell": list(self.cell),
            "allocentric": list(self.scene.allocentric(self.cell)),
            "facing": self.facing.label,
            "rooms": list(self.rooms),
            "anchor": self.anchor,
        }

    def metrics(self) -> dict[str, Any]:
        """Coverage, information gain, step and action counters of the phase so far (runs the solver)."""
        return {
            "node_coverage": self.coverage.node_coverage,
            "edge_coverage": self.coverage.edge_coverage,
            "information_gain": self.information_gain(),
            "steps": self.steps,
            "steps_excluding_term": self.steps_excluding_term,
            "invalid_steps": self.invalid_steps,
            "budget_used": self.steps + self.invalid_steps,
            "action_failures": self.action_failures,
            "action_counts": dict(self.action_counts),
            "action_cost": self.action_cost,
        }
