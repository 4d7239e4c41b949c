"""Scripted explorers (SCOUT, STRATEGIST) and a seeded random agent, behind the agent protocol.

SCOUT and STRATEGIST know the scene (they are proxies with a privileged plan); they speak to the env
through the same reply text a model writes. Each plans by driving its own
:class:`ExplorationSession`, so every planned turn is one the env accepts, and a proxy's trajectory is
a pure function of the scene.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.env.actions import Action, JumpTo, Observe, Query, Rotate, Term, format_actions
from theory_of_space.env.coverage import target_edges
from theory_of_space.env.knowledge import INITIAL_POS, KnowledgeSolver
from theory_of_space.env.session import ExplorationSession
from theory_of_space.world.geometry import Facing, in_field_of_view, nearest_facing, rotation_between
from theory_of_space.world.scene import Door, Item, Scene, scene_seed
from theory_of_space.world.view import ViewDescription
from theory_of_space.world.visibility import is_visible

PROXY_MAX_EXP_STEPS = 60
"""Exploration budget for proxy runs (demo, passive logs): STRATEGIST needs up to ~30 turns on 3 rooms."""
STRATEGIST_MAX_OBSERVES = 100
"""Cap on the Observe turns of STRATEGIST's in-room loop, over the whole scene."""
STRATEGIST_MAX_QUERIES = 16
CANDIDATE_SAMPLE = 30
"""Candidate cells sampled per item when STRATEGIST scores a facing."""
_PLAN_BUDGET = 10**6


class _AllObserved(Exception):
    """Raised inside the SCOUT plan once every item has been observed."""


class _Planner:
    """A proxy's pose, pending motions and finished turns, simulated on a real session."""

    def __init__(self, scene: Scene, *, query_enabled: bool) -> None:
        self.scene = scene
        self.session = ExplorationSession(scene, max_steps=_PLAN_BUDGET, query_enabled=query_enabled)
        self.turns: list[tuple[Action, ...]] = []
        self.pending: list[Action] = []
        self.cell = scene.start.cell
        self.facing: Facing = scene.start.facing
        self.rooms = scene.rooms_at(self.cell)
        self.anchor = INITIAL_POS
        self.views: list[tuple[str, ViewDescription]] = []

    def turn_to(self, facing: Facing) -> None:
        degrees = rotation_between(self.facing, facing)
        if degrees:
            self.pending.append(Rotate(degrees))
            self.facing = facing

    def go_to(self, item: Item) -> None:
        """Face the item (the nearest cardinal puts it in view) and jump onto it."""
        if item.cell == self.cell:
            return
        if not is_visible(self.scene, self.cell, self.facing, item, self.rooms):
            self.turn_to(nearest_facing(self.cell, item.cell, self.facing))
        self.pending.append(JumpTo(item.name))
        self.cell, self.rooms, self.anchor = item.cell, item.rooms, item.name

    def observe(self) -> ViewDescription:
        actions = (*self.pending, Observe())
        outcome = self.session.play(list(actions))
        assert outcome.valid and not outcome.failed and outcome.view is not None, outcome.message
        self.turns.append(actions)
        self.pending = []
        self.views.append((self.anchor, outcome.view))
        return outcome.view

    def query(self, item: Item) -> None:
        outcome = self.session.play([Query(item.name)])
        assert outcome.valid and not outcome.failed, outcome.message
        self.turns.append((Query(item.name),))

    @property
    def all_observed(self) -> bool:
        return self.session.coverage.node_coverage >= 1.0

    def finish(self) -> list[tuple[Action, ...]]:
        return [*self.turns, (Term(),)]


def _room_tree(scene: Scene) -> dict[int, list[tuple[int, Door]]]:
    """Children of each room in a depth-first search from room 1, ascending room id."""
    links: dict[int, list[tuple[int, Door]]] = {room: [] for room in scene.room_ids}
    for door in scene.doors:
        a, b = door.rooms
        links[a].append((b, door))
        links[b].append((a, door))
    tree: dict[int, list[tuple[int, Door]]] = {room: [] for room in scene.room_ids}
    seen = {1}

    def visit(room: int) -> None:
        for child, door in sorted(links[room], key=lambda link: link[0]):
            if child not in seen:
                seen.add(child)
                tree[room].append((child, door))
                visit(child)

    visit(1)
    return tree


def _sweep(planner: _Planner, room: int, *, stop_when_all_observed: bool = False) -> None:
    """Start room: four views from the start. Other rooms: front, right and left from the entry door."""
    turns = (90, 90, 90) if room == 1 else (90, 180)
    for degrees in (0, *turns):
        planner.turn_to(planner.facing.rotated(degrees))
        planner.observe()
        if stop_when_all_observed and planner.all_observed:
            raise _AllObserved


def _depth_first(planner: _Planner, visit: Callable[[int, Door | None], None]) -> None:
    """Walk the rooms depth-first from room 1: ``visit`` each room on entry, then its children, then go back."""
    tree = _room_tree(planner.scene)

    def explore(room: int, entry: Door | None) -> None:
        visit(room, entry)
        for child, door in tree[room]:
            planner.go_to(door)
            planner.turn_to(Facing.from_vector(door.vector_into(child)))
            explore(child, door)
            planner.go_to(door)
        if entry is not None:
            planner.go_to(entry)

    explore(1, None)


def scout_plan(scene: Scene, *, query_enabled: bool = True) -> list[tuple[Action, ...]]:
    """SCOUT's turns: room-by-room sweeps in depth-first order until everything is observed, then Term."""
    planner = _Planner(scene, query_enabled=query_enabled)
    with contextlib.suppress(_AllObserved):
        _depth_first(planner, lambda room, entry: _sweep(planner, room, stop_when_all_observed=True))
    return planner.finish()


def strategist_plan(scene: Scene, *, query_enabled: bool = True) -> list[tuple[Action, ...]]:
    """STRATEGIST's turns: SCOUT's sweeps, then in each room observations chosen to pin every item down."""
    planner = _Planner(scene, query_enabled=query_enabled)
    rng = np.random.default_rng(scene_seed(scene))
    edges = target_edges(scene)
    budget = [STRATEGIST_MAX_OBSERVES]

    def visit(room: int, entry: Door | None) -> None:
        _sweep(planner, room)
        _refine_room(planner, room, entry, edges, rng, budget)

    _depth_first(planner, visit)
    if query_enabled:
        _query_loop(planner)
    return planner.finish()


def _refine_room(
    planner: _Planner,
    room: int,
    entry: Door | None,
    edges: frozenset[frozenset[str]],
    rng: np.random.Generator,
    budget: list[int],
) -> None:
    items = planner.scene.items_by_room[room]
    names = {item.name for item in items}
    entry_name = INITIAL_POS if entry is None else entry.name
    room_edges = {edge for edge in edges if edge <= names or (entry is None and INITIAL_POS in edge)}
    used: set[str] = {entry_name}

    def unknown_partners(anchor: str) -> list[str]:
        known = planner.session.coverage.known_edges
        return sorted(
            next(iter(edge - {anchor}))
            for edge in room_edges
            if anchor in edge and edge not in known and INITIAL_POS not in edge
        )

    while budget[0] > 0:
        solver = _local_solver(planner, names, entry_name)
        if all(solver.domain_size(name) == 1 for name in names if name != entry_name):
            return
        options = [item for item in items if item.name not in used and unknown_partners(item.name)]
        if not options:
            return
        anchor = max(options, key=lambda item: (solver.domain_size(item.name), -items.index(item)))
        used.add(anchor.name)
        planner.go_to(anchor)
        tried: set[Facing] = set()
        while budget[0] > 0 and unknown_partners(anchor.name):
            partners = unknown_partners(anchor.name)
            facing = _best_facing(solver, anchor.name, partners, tried, rng)
            if facing is None:
                break
            tried.add(facing)
            planner.turn_to(facing)
            planner.observe()
            budget[0] -= 1
            solver = _local_solver(planner, names, entry_name)


def _local_solver(planner: _Planner, names: set[str], entry_name: str) -> KnowledgeSolver:
    """A solver over one room's items with the entry anchor at the origin, fed that room's observations."""
    solver = KnowledgeSolver(sorted(names - {entry_name}), box_radius=max(planner.scene.shape))

    def local(name: str) -> str:
        return INITIAL_POS if name == entry_name else name

    for anchor, view in planner.views:
        if anchor != entry_name and anchor not in names:
            continue
        kept = tuple(
            replace(item, name=local(item.name))
            for item in view.items
            if item.name in names and item.name != entry_name
        )
        pairs = tuple(
            replace(pair, a=local(pair.a), b=local(pair.b))
            for pair in view.proximity
            if pair.a in names and pair.b in names
        )
        solver.observe(local(anchor), replace(view, items=kept, proximity=pairs))
    solver.propagate()
    return solver


def _best_facing(
    solver: KnowledgeSolver, anchor: str, partners: list[str], tried: set[Facing], rng: np.random.Generator
) -> Facing | None:
    """The untried cardinal facing that covers the most (anchor candidate, partner candidate) pairs."""
    anchor_cells = _sample(solver.candidates(anchor), rng)
    partner_cells = {name: _sample(solver.candidates(name), rng) for name in partners}
    best, best_score = None, 0
    for facing in Facing:
        if facing in tried:
            continue
        score = sum(
            in_field_of_view(a, facing, p) for a in anchor_cells for cells in partner_cells.values() for p in cells
        )
        if score > best_score:
            best, best_score = facing, score
    return best


def _sample(cells: list[tuple[int, int]], rng: np.random.Generator) -> list[tuple[int, int]]:
    if len(cells) <= CANDIDATE_SAMPLE:
        return cells
    picks = rng.choice(len(cells), size=CANDIDATE_SAMPLE, replace=False)
    return [cells[int(i)] for i in sorted(picks)]


def _query_loop(planner: _Planner) -> None:
    """Greedy global queries: each picks the item whose fixing shrinks the total domain size most."""
    scene = planner.scene
    for _ in range(STRATEGIST_MAX_QUERIES):
        solver = planner.session.knowledge()
        open_items = [item for item in scene.items if solver.domain_size(item.name) > 1]
        queryable = [item for item in open_items if planner.session.coverage.has_observed(item.name)]
        if not queryable:
            return
        best = max(queryable, key=lambda item: (_reduction_if_fixed(planner, item), -scene.items.index(item)))
        planner.query(best)


def _reduction_if_fixed(planner: _Planner, item: Item) -> int:
    """How much the total domain size would shrink if ``item``'s position were known."""
    scene = planner.scene
    names = [i.name for i in scene.items]
    before = planner.session.knowledge()
    solver = KnowledgeSolver(names, box_radius=max(scene.shape))
    for anchor, view in planner.views:
        solver.observe(anchor, view)
    for queried in planner.turns:
        if isinstance(queried[0], Query):
            target = scene.item(queried[0].target)
            assert target is not None
            solver.fix(target.name, scene.allocentric(target.cell))
    solver.fix(item.name, scene.allocentric(item.cell))
    return sum(before.domain_size(n) - solver.domain_size(n) for n in names)


class ScriptedAgent:
    """Replays a precomputed plan as replies in the benchmark's reply format."""

    def __init__(self, name: str, turns: Sequence[tuple[Action, ...]], *, reason: str) -> None:
        self.name = name
        self.turns = list(turns)
        self._reason = reason
        self._next: Iterator[tuple[Action, ...]] = iter(self.turns)

    def act(self, messages: Sequence[Message]) -> AgentReply:
        actions = next(self._next, (Term(),))
        text = f"THINK: {self._reason}\nFINAL ANSWER: {format_actions(actions)}"
        return AgentReply(text=text, record=CallRecord(model=self.name))


def scout_agent(scene: Scene, *, query_enabled: bool = True) -> ScriptedAgent:
    """SCOUT: visits rooms depth-first, sweeping each with Observes, until every item has been seen."""
    return ScriptedAgent("scout", scout_plan(scene, query_enabled=query_enabled), reason="Sweep the room in order.")


def strategist_agent(scene: Scene, *, query_enabled: bool = True) -> ScriptedAgent:
    """STRATEGIST: SCOUT's sweeps plus observations (then Queries, if enabled) chosen to remove positional doubt."""
    return ScriptedAgent(
        "strategist",
        strategist_plan(scene, query_enabled=query_enabled),
        reason="Observe where the most uncertainty remains.",
    )


class RandomAgent:
    """Seeded random actions over the scene's item names: exercises failures and every action kind."""

    name = "random"

    def __init__(self, scene: Scene, *, seed: int = 0, term_probability: float = 0.05) -> None:
        self.scene = scene
        self.term_probability = term_probability
        self._rng = np.random.default_rng(seed)

    def act(self, messages: Sequence[Message]) -> AgentReply:
        rng = self._rng
        if rng.random() < self.term_probability:
            actions: list[Action] = [Term()]
        else:
            names = [item.name for item in self.scene.items]
            actions = []
            for _ in range(int(rng.integers(0, 3))):
                if rng.random() < 0.5:
                    actions.append(Rotate(int(rng.choice([-90, 90, 180]))))
                else:
                    actions.append(JumpTo(names[int(rng.integers(len(names)))]))
            actions.append(Observe() if rng.random() < 0.85 else Query(names[int(rng.integers(len(names)))]))
        text = f"THINK: random choice\nFINAL ANSWER: {format_actions(actions)}"
        return AgentReply(text=text, record=CallRecord(model=self.name))
