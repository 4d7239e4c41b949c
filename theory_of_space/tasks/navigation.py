"""Action → view (``act2view``) and view → action (``view2act``): plans of jumps from the start.

A plan starts at the start pose facing north. Each jump goes to an object or door of the current
room(s): a door with probability 0.6 when there is one, except right after a jump to a door, when
the target is an object (of the room ahead if it has one) and a door only if the rooms hold no
object. Before the jump the agent turns to the cardinal facing closest to the target (on an exact
diagonal, the first of north, east, south, west). The plan ends with a turn to a random facing that
sees at least one item (objects and doors alike). Jump lines never name the target: they give its
egocentric bin and distance bin and, when several visible items share both bins, its rank among
them from the left and from the nearest. Five candidate plans are drawn and one is kept with
probability proportional to the number of items visible at its end; the questions list and ask
about those items, doors included.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory_of_space.env.actions import JumpTo, Rotate
from theory_of_space.tasks.base import (
    Draft,
    Question,
    Score,
    TaskUnavailable,
    observation_list,
    pick,
    sample,
    view_from_dict,
    view_to_dict,
    weighted_pick,
)
from theory_of_space.tasks.parsing import parse_moves
from theory_of_space.tasks.scoring import score_direction_distance
from theory_of_space.world.geometry import (
    Cell,
    Facing,
    bearing,
    closest_cardinal,
    distance,
    in_field_of_view,
    rotation_between,
)
from theory_of_space.world.scene import Door, Item, Scene, SceneObject
from theory_of_space.world.view import ItemView, describe_item
from theory_of_space.world.visibility import is_visible, shares_room, visible_items

ACT2VIEW_FORMAT = "<ego direction>, <distance>"
VIEW2ACT_FORMAT = "<sequence of move actions>"
DOOR_PROBABILITY = 0.6
CANDIDATE_PLANS = 5
MAX_OBSERVATIONS = 3
MAX_SEARCH_DEPTH = 10


@dataclass(frozen=True)
class PlanState:
    """Where a plan has brought the agent: cell, facing and room membership."""

    cell: Cell
    facing: Facing
    rooms: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """The steps of a plan (JSON dicts) and the items (objects and doors) visible at its end."""

    steps: tuple[dict[str, Any], ...]
    end: PlanState
    visible: tuple[Item, ...]


def _turn(current: Facing, wanted: Facing) -> int:
    """The turn in {0, ±90, −180} from ``current`` to ``wanted``."""
    delta = rotation_between(current, wanted)
    return -180 if delta == 180 else delta


def _order_key(state: PlanState, item: Item) -> tuple[float, float]:
    """Left to right by bearing; the nearer first at equal bearing."""
    return (bearing(state.cell, state.facing, item.cell), distance(state.cell, item.cell))


def _near_key(state: PlanState, item: Item) -> tuple[float, float]:
    """Nearest to farthest; the one further left first at equal distance."""
    return (distance(state.cell, item.cell), bearing(state.cell, state.facing, item.cell))


def _visible(scene: Scene, state: PlanState) -> list[Item]:
    return visible_items(scene, state.cell, state.facing, state.rooms)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def near_phrase(rank: int, total: int) -> str:
    """``nearest``, ``farthest`` (the last of ``total``) or ``<n>th nearest``."""
    if rank == 1:
        return "nearest"
    return "farthest" if rank == total else f"{_ordinal(rank)} nearest"


def _jump_step(scene: Scene, state: PlanState, target: Item) -> dict[str, Any]:
    view = describe_item(scene, state.cell, state.facing, state.rooms, target)
    same = [item for item in _visible(scene, state) if _bins_match(scene, state, item, view)]
    step = {"kind": "jump", "target": target.name, "direction": view.direction, "distance": view.distance}
    if len(same) == 1:
        return {**step, "rank": None}
    rank = 1 + sorted(same, key=lambda i: _order_key(state, i)).index(target)
    near_rank = 1 + sorted(same, key=lambda i: _near_key(state, i)).index(target)
    return {**step, "rank": rank, "near_rank": near_rank, "group": len(same)}


def _bins_match(scene: Scene, state: PlanState, item: Item, view: ItemView) -> bool:
    other = describe_item(scene, state.cell, state.facing, state.rooms, item)
    return other.direction == view.direction and other.distance == view.distance


def draw_plan(scene: Scene, rng: np.random.Generator, n_jumps: int) -> Plan | None:
    """One candidate plan of ``n_jumps`` jumps, or ``None`` when it ends facing no item."""
    state = PlanState(scene.start.cell, scene.start.facing, scene.rooms_at(scene.start.cell))
    came_from: int | None = None  # the room left behind by the last jump, when that jump was to a door
    steps: list[dict[str, Any]] = []
    for _ in range(n_jumps):
        targets = [item for item in scene.items if item.cell != state.cell and shares_room(item, state.rooms)]
        doors = [t for t in targets if isinstance(t, Door)]
        objects = [t for t in targets if isinstance(t, SceneObject)]
        target: Item
        if came_from is not None:
            # Right after a door: an object, of the room ahead if it holds one; a door only as a last resort.
            ahead = [o for o in objects if o.room != came_from]
            pool: list[Item] = [*ahead] or [*objects] or [*doors]
            if not pool:
                return None
            target = pick(rng, pool)
        elif doors and (not objects or rng.random() < DOOR_PROBABILITY):
            target = pick(rng, doors)
        elif objects:
            target = pick(rng, objects)
        else:
            return None
        wanted = closest_cardinal(state.cell, target.cell)
        if (delta := _turn(state.facing, wanted)) != 0:
            steps.append({"kind": "rotate", "degrees": delta})
            state = PlanState(state.cell, wanted, state.rooms)
        assert is_visible(scene, state.cell, state.facing, target, state.rooms)
        steps.append(_jump_step(scene, state, target))
        shared = next(room for room in state.rooms if room in target.rooms)
        came_from = shared if isinstance(target, Door) else None
        state = PlanState(target.cell, state.facing, target.rooms)
    facings = [f for f in Facing if _visible(scene, PlanState(state.cell, f, state.rooms))]
    if not facings:
        return None
    final = pick(rng, facings)
    if (delta := _turn(state.facing, final)) != 0:
        steps.append({"kind": "rotate", "degrees": delta})
    state = PlanState(state.cell, final, state.rooms)
    return Plan(tuple(steps), state, tuple(_visible(scene, state)))


def choose_plan(scene: Scene, rng: np.random.Generator, n_jumps: int, task: str) -> Plan:
    """Draw five candidate plans and keep one with probability proportional to its visible items."""
    plans = [p for p in (draw_plan(scene, rng, n_jumps) for _ in range(CANDIDATE_PLANS)) if p is not None]
    if not plans:
        raise TaskUnavailable(task, f"no plan of {n_jumps} jumps ends facing an item")
    return weighted_pick(rng, plans, [len(p.visible) for p in plans])


def plan_lines(steps: list[dict[str, Any]]) -> str:
    """The numbered plan as the question shows it; jump lines describe the target instead of naming it."""
    lines = []
    for number, step in enumerate(steps, start=1):
        if step["kind"] == "rotate":
            lines.append(f"{number}. Rotate({step['degrees']})")
            continue
        bins = f"{step['direction']}, {step['distance']}"
        if step["rank"] is None:
            lines.append(f"{number}. Jump to the item that is {bins} from you")
            continue
        line = f"{number}. Among the items that are {bins} from you, jump to the {_ordinal(step['rank'])} from the left"
        if step.get("near_rank") is None:
            # questions stored before jump lines named the nearness rank
            lines.append(f"{line} (nearer first at the same bearing)")
        else:
            lines.append(f"{line}, which is also the {near_phrase(step['near_rank'], step['group'])} one")
    return "\n".join(lines)


@dataclass(frozen=True)
class PlanTrace:
    """A replayed plan: the final state and every room set the agent stood in while choosing a jump."""

    end: PlanState
    rooms_used: tuple[tuple[int, ...], ...]


def replay_plan(scene: Scene, steps: list[dict[str, Any]]) -> PlanTrace | None:
    """Follow plan steps by their descriptions alone; ``None`` when a description fits no single item."""
    state = PlanState(scene.start.cell, scene.start.facing, scene.rooms_at(scene.start.cell))
    rooms_used = []
    for step in steps:
        if step["kind"] == "rotate":
            state = PlanState(state.cell, state.facing.rotated(int(step["degrees"])), state.rooms)
            continue
        wanted = ItemView("", step["direction"], step["distance"])
        same = [item for item in _visible(scene, state) if _bins_match(scene, state, item, wanted)]
        rank, near_rank = step["rank"], step.get("near_rank")
        if (rank is None and len(same) != 1) or (rank is not None and not 1 <= rank <= len(same)):
            return None
        target = sorted(same, key=lambda i: _order_key(state, i))[0 if rank is None else rank - 1]
        if near_rank is not None and sorted(same, key=lambda i: _near_key(state, i)).index(target) != near_rank - 1:
            return None
        rooms_used.append(state.rooms)
        state = PlanState(target.cell, state.facing, target.rooms)
    return PlanTrace(state, tuple(rooms_used))


# ---- act2view -----------------------------------------------------------------------------------


def generate_act2view(scene: Scene, rng: np.random.Generator) -> Draft:
    """A 2-jump plan; the question asks for the relation of one of (up to 3) items visible at its end."""
    plan = choose_plan(scene, rng, 2, "act2view")
    target = pick(rng, sample(rng, list(plan.visible), MAX_OBSERVATIONS))
    view = describe_item(scene, plan.end.cell, plan.end.facing, plan.end.rooms, target)
    text = (
        "Imagine you are back at your starting position, facing north, and carry out these actions in order:\n"
        f"{plan_lines(list(plan.steps))}\n"
        f"After the last action, in which egocentric direction is the {target.name}, and how far away is it?\n"
        f"Answer format: {ACT2VIEW_FORMAT}, for example: front-slight-left, slightly far"
    )
    data = {"steps": list(plan.steps), "target": target.name, "direction": view.direction, "distance": view.distance}
    return Draft(text, f"{view.direction}, {view.distance}", data)


def score_act2view(question: Question, answer: str, scene: Scene) -> Score:
    return score_direction_distance(answer, question.data["direction"], question.data["distance"], "ego")


def solve_act2view(scene: Scene, question: Question) -> str | None:
    trace = replay_plan(scene, question.data["steps"])
    target = scene.item(question.data["target"])
    if trace is None or target is None:
        return None
    view = describe_item(scene, trace.end.cell, trace.end.facing, trace.end.rooms, target)
    return f"{view.direction}, {view.distance}"


# ---- view2act -----------------------------------------------------------------------------------


def generate_view2act(scene: Scene, rng: np.random.Generator) -> Draft:
    """A 3-jump plan; the question lists up to 3 items visible at its end and asks for moves that see them."""
    plan = choose_plan(scene, rng, 3, "view2act")
    chosen = {o.name for o in sample(rng, list(plan.visible), MAX_OBSERVATIONS)}
    end = plan.end
    views = [describe_item(scene, end.cell, end.facing, end.rooms, o) for o in plan.visible if o.name in chosen]
    moves = [str(Rotate(int(s["degrees"]))) if s["kind"] == "rotate" else str(JumpTo(s["target"])) for s in plan.steps]
    text = (
        "Imagine you are back at your starting position, facing north. Give a sequence of move actions, "
        "JumpTo(<name>) and Rotate(<degrees>) only, after which you would observe: "
        f"{observation_list(views)}.\n"
        "You can only jump to an item inside your current field of view.\n"
        f"Answer format: {VIEW2ACT_FORMAT}, for example: JumpTo(lamp), Rotate(90)"
    )
    return Draft(text, ", ".join(moves), {"observations": [view_to_dict(v) for v in views], "steps": list(plan.steps)})


def _reproduces_view(scene: Scene, state: PlanState, observations: list[ItemView]) -> bool:
    for observed in observations:
        target = scene.item(observed.name)
        if target is None or not is_visible(scene, state.cell, state.facing, target, state.rooms):
            return False
        if describe_item(scene, state.cell, state.facing, state.rooms, target) != observed:
            return False
    return True


def score_view2act(question: Question, answer: str, scene: Scene) -> Score:
    """1 when the moves, simulated from the start, end in a pose that reproduces every listed observation.

    Each JumpTo target must lie inside the current 90° cone; as published, the simulation does not
    apply the room test to jumps (the final observations do use it).
    """
    if not answer.strip():
        return Score(0.0, answer, "empty answer")
    parsed = parse_moves(answer)
    if parsed.problem is not None:
        return Score(0.0, answer, parsed.problem)
    state = PlanState(scene.start.cell, scene.start.facing, scene.rooms_at(scene.start.cell))
    for move in parsed.moves:
        if isinstance(move, Rotate):
            # Any whole number of quarter turns counts (Rotate(360), Rotate(450)), as published.
            if move.degrees % 90:
                return Score(0.0, answer, f"{move}: the angle is not a multiple of 90")
            state = PlanState(state.cell, state.facing.rotated(move.degrees), state.rooms)
            continue
        item = scene.item(move.target)
        if item is None:
            return Score(0.0, answer, f"{move}: no such item")
        if not in_field_of_view(state.cell, state.facing, item.cell):
            return Score(0.0, answer, f"{move}: the target is not in the field of view")
        state = PlanState(item.cell, state.facing, item.rooms)
    observations = [view_from_dict(v) for v in question.data["observations"]]
    moves = ", ".join(str(m) for m in parsed.moves)
    if _reproduces_view(scene, state, observations):
        return Score(1.0, answer, f"{moves} reproduces the view")
    return Score(0.0, answer, f"{moves} ends at {state.cell} facing {state.facing.label}, which does not give the view")


def solve_view2act(scene: Scene, question: Question) -> str | None:
    """The shortest move sequence (breadth-first over jumps the exploration rules allow) that gives the view."""
    observations = [view_from_dict(v) for v in question.data["observations"]]
    start = PlanState(scene.start.cell, scene.start.facing, scene.rooms_at(scene.start.cell))
    queue: deque[tuple[PlanState, tuple[JumpTo | Rotate, ...]]] = deque([(start, ())])
    seen = {(start.cell, start.facing)}
    while queue:
        state, moves = queue.popleft()
        if _reproduces_view(scene, state, observations):
            return ", ".join(str(m) for m in moves) if moves else str(Rotate(0))
        if len(moves) >= MAX_SEARCH_DEPTH:
            continue
        options: list[tuple[PlanState, JumpTo | Rotate]] = [
            (PlanState(state.cell, state.facing.rotated(d), state.rooms), Rotate(d)) for d in (90, -90, 180)
        ]
        options += [
            (PlanState(item.cell, state.facing, item.rooms), JumpTo(item.name)) for item in _visible(scene, state)
        ]
        for nxt, move in options:
            if (nxt.cell, nxt.facing) not in seen:
                seen.add((nxt.cell, nxt.facing))
                queue.append((nxt, (*moves, move)))
    return None
