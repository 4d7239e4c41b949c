"""The uncertainty (fog) probe: which marked floor cells lie in regions the agent has not explored yet.

For every visited room (one where an ``Observe()`` was made; a viewer on a door visits both rooms)
its floor cells, minus the agent's cell, are split into *explored* (inside the 90° cone of some
``Observe()`` made in that room so far, at any distance) and *unexplored*. From each room where both
sets are non-empty, k = min(3, |unexplored|, |explored|) cells of each are drawn; all drawn cells are
shuffled and lettered A, B, C, ... The model names the letters it thinks are unexplored; the score is
the F1 of that set against the truly unexplored letters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory_of_space.probes.cogmap import extract_json
from theory_of_space.world.geometry import Cell, Facing, in_field_of_view
from theory_of_space.world.scene import DOOR_CODES, Scene

MAX_PER_SIDE = 3
"""At most this many explored and this many unexplored cells are drawn per room."""
MAX_CANDIDATES = 26
"""One letter per candidate; beyond 26 drawn cells (9 or more visited rooms) the last ones are dropped."""


@dataclass(frozen=True)
class ObserveRecord:
    """Where one ``Observe()`` was made: the viewer's cell, facing and room membership."""

    cell: Cell
    facing: Facing
    rooms: tuple[int, ...]
    anchor: str = "initial_pos"
    """The item the agent stood on (``initial_pos`` at the start cell)."""


def is_explored(scene: Scene, observations: Sequence[ObserveRecord], cell: Cell) -> bool:
    """Whether ``cell`` lay inside the cone of an ``Observe()`` made in one of its rooms."""
    rooms = scene.rooms_at(cell)
    return any(in_field_of_view(o.cell, o.facing, cell) for o in observations if set(rooms) & set(o.rooms))


@dataclass(frozen=True)
class FogCandidates:
    """The lettered cells of one fog probe (absolute grid cells) and which letters are unexplored."""

    letters: dict[str, Cell]
    unexplored: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "letters": {letter: list(cell) for letter, cell in self.letters.items()},
            "unexplored": sorted(self.unexplored),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FogCandidates:
        return cls(
            letters={str(k): (int(v[0]), int(v[1])) for k, v in data["letters"].items()},
            unexplored=frozenset(str(x) for x in data["unexplored"]),
        )


def fog_candidates(
    scene: Scene, observations: Sequence[ObserveRecord], agent_cell: Cell, *, seed: int, turn: int
) -> FogCandidates:
    """Draw the fog probe's candidate cells after the given observations.

    Args:
        scene: the world.
        observations: every ``Observe()`` so far, in order.
        agent_cell: the agent's cell now (never a candidate).
        seed: the scene seed; with ``turn`` it seeds the draw, so the same turn gets the same letters.
        turn: the turn number.
    """
    rng = np.random.default_rng([int(seed) % 2**32, int(turn)])
    visited = sorted({room for observation in observations for room in observation.rooms})
    drawn: list[tuple[Cell, bool]] = []
    for room in visited:
        seen_from = [o for o in observations if room in o.rooms]
        explored, unexplored = [], []
        for cell in scene.room_cells(room):
            if cell == agent_cell:
                continue
            lit = any(in_field_of_view(o.cell, o.facing, cell) for o in seen_from)
            (explored if lit else unexplored).append(cell)
        k = min(MAX_PER_SIDE, len(explored), len(unexplored))
        if k == 0:
            continue
        for cells, hidden in ((sorted(unexplored), True), (sorted(explored), False)):
            picks = rng.choice(len(cells), size=k, replace=False)
            drawn.extend((cells[int(i)], hidden) for i in picks)
    order = rng.permutation(len(drawn)) if drawn else []
    letters: dict[str, Cell] = {}
    unexplored_letters = set()
    for letter, index in zip(string.ascii_uppercase[:MAX_CANDIDATES], order):
        cell, hidden = drawn[int(index)]
        letters[letter] = cell
        if hidden:
            unexplored_letters.add(letter)
    return FogCandidates(letters, frozenset(unexplored_letters))


def fog_map_text(scene: Scene, candidates: FogCandidates, agent_cell: Cell) -> str:
    """The symbolic grid of the text-world fog probe: one row per y from the top, one column per x."""
    marks = {cell: letter for letter, cell in candidates.letters.items()}
    width, height = scene.shape
    rows = []
    for y in range(height - 1, -1, -1):
        row = []
        for x in range(width):
            code = scene.mask[x][y]
            if (x, y) == agent_cell:
                row.append("*")
            elif (x, y) in marks:
                row.append(marks[(x, y)])
            elif code in DOOR_CODES:
                row.append("+")
            elif 1 <= code <= 99:
                row.append(".")
            else:
                row.append("#")
        rows.append("".join(row))
    return "\n".join(rows)


def fog_prompt(scene: Scene, candidates: FogCandidates, agent_cell: Cell) -> str:
    """The fog probe prompt: the legend, the symbolic map and the answer format."""
    return (
        "## Unexplored regions\n"
        "Below is a map of the whole grid. North is up; (0, 0) is the bottom-left cell; x grows to the right "
        "(east) and y grows up (north). Legend: '.' floor, '#' wall or outside, '+' door, '*' you, and the "
        "letters A-Z are candidate points.\n\n"
        f"{fog_map_text(scene, candidates, agent_cell)}\n\n"
        "Which candidate points lie in regions you have not explored yet (never inside your field of view "
        "when you observed)? "
        "Reply with THINK: followed by your reasoning, then FINAL ANSWER: followed by JSON only, e.g. "
        '{"unexplored": ["A", "C"]}.'
    )


_LETTER = re.compile(r"^[A-Z]$")


def parse_fog(reply: Any) -> frozenset[str] | None:
    """The letters of a fog reply (upper-cased), or ``None`` when it holds no ``{"unexplored": [...]}``."""
    if not isinstance(reply, str):
        return None
    data = extract_json(reply)
    if data is None:
        return None
    values = next((v for k, v in data.items() if str(k).strip().lower() == "unexplored"), None)
    if not isinstance(values, list):
        return None
    return frozenset(v.strip().upper() for v in values if isinstance(v, str) and _LETTER.match(v.strip().upper()))


def score_fog(reply: str | Iterable[str] | None, candidates: Mapping[str, Cell], unexplored: Iterable[str]) -> float:
    """F1 between the predicted letters (those that are candidates) and the unexplored letters.

    Args:
        reply: the reply text, or already parsed letters; no prediction scores 0.
        candidates: letter → cell of the probe.
        unexplored: the letters of unexplored cells.
    """
    predicted = parse_fog(reply) if isinstance(reply, str) or reply is None else frozenset(reply)
    truth = set(unexplored)
    if not predicted:
        return 0.0
    cells = {candidates[letter] for letter in predicted if letter in candidates}
    truth_cells = {candidates[letter] for letter in truth if letter in candidates}
    hits = len(cells & truth_cells)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(cells), hits / len(truth_cells)
    return 2 * precision * recall / (precision + recall)


def read_fog_map(prompt: str) -> dict[str, Cell]:
    """The letters of a fog prompt's symbolic map and their grid cells (bottom-left is (0, 0))."""
    for block in prompt.split("\n\n"):
        rows = block.split("\n")
        if len(rows) > 1 and all(rows) and len({len(r) for r in rows}) == 1 and all(set(r) <= _MAP_CHARS for r in rows):
            height = len(rows)
            return {
                char: (x, height - 1 - r)
                for r, row in enumerate(rows)
                for x, char in enumerate(row)
                if char in string.ascii_uppercase
            }
    return {}


_MAP_CHARS = frozenset(".#+*" + string.ascii_uppercase)
