"""What the observations so far pin down: an AC-3 constraint solver over item positions.

Variables are the items plus ``initial_pos`` fixed at (0, 0), in the allocentric frame. Each observed
relation (egocentric bin + distance bin from the anchor the agent stands on, or a proximity pair)
becomes a binary constraint ``x_target - x_anchor ∈ S``, where ``S`` is the set of integer offsets
with those labels. Domains are boolean masks over the candidate box [-g, g]², g = max(mask.shape).

Information gain is ``Σ log2(M / max(1, C_i)) / (N log2 M)`` over the N objects and doors, with
``C_i`` the domain size (M while uninitialised). With the default ``"box"`` normaliser M is the
number of cells of the box, so E lies in [0, 1]; ``"published"`` uses M = g² as the published code did.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np

from theory_of_space.world.geometry import (
    CARDINAL_LABELS,
    DISTANCE_LABELS,
    EGO_LABELS,
    Cell,
    Facing,
    cardinal_codes,
    distance_codes,
    ego_direction_codes,
    offset_bearings,
)
from theory_of_space.world.view import ViewDescription

INITIAL_POS = "initial_pos"
SEED_FROM_ANCHOR_MAX = 10
"""An uninitialised domain is seeded around its anchor's cells when the anchor has at most this many."""

InfoGainNormaliser = Literal["box", "published"]


@lru_cache(maxsize=256)
def _offset_codes(radius: int, facing: Facing) -> dict[str, np.ndarray]:
    """Ego, cardinal and distance label codes of every offset in [-radius, radius]², from the bin module."""
    dx, dy = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1), indexing="ij")
    theta = offset_bearings(dx, dy, facing)
    return {
        "ego": ego_direction_codes(theta),
        "cardinal": cardinal_codes(theta),
        "distance": distance_codes(np.hypot(dx, dy)),
    }


_LABEL_TABLES = {"ego": EGO_LABELS, "cardinal": CARDINAL_LABELS}


def relation_offsets(
    radius: int, facing: Facing, kind: Literal["ego", "cardinal"], direction: str, dist: str
) -> np.ndarray:
    """Boolean mask over offsets [-radius, radius]² whose direction and distance carry these labels."""
    return _relation(radius, facing, kind, direction, dist)[0]


@lru_cache(maxsize=4096)
def _relation(
    radius: int, facing: Facing, kind: Literal["ego", "cardinal"], direction: str, dist: str
) -> tuple[np.ndarray, np.ndarray]:
    """The offset mask of a relation and its offsets as an (n, 2) array, computed once."""
    codes = _offset_codes(radius, facing)
    try:
        wanted = _LABEL_TABLES[kind].index(direction), DISTANCE_LABELS.index(dist)
    except ValueError:
        raise ValueError(f"unknown {kind} label {direction!r} or distance label {dist!r}") from None
    mask = (codes[kind] == wanted[0]) & (codes["distance"] == wanted[1])
    mask.setflags(write=False)
    return mask, np.argwhere(mask) - radius


class KnowledgeSolver:
    """Domains of item positions under the observed constraints, kept arc consistent.

    Args:
        names: the items (objects and doors) that count towards information gain.
        box_radius: g; domains live in [-g, g]² of the allocentric frame.

    Example:
        >>> solver = KnowledgeSolver(["lamp"], box_radius=4)
        >>> solver.fix("lamp", (1, 2))
        >>> solver.domain_size("lamp")
        1
    """

    def __init__(self, names: Sequence[str], box_radius: int) -> None:
        self.names = tuple(names)
        self.g = int(box_radius)
        self._side = 2 * self.g + 1
        self._domains: dict[str, np.ndarray | None] = {name: None for name in self.names}
        origin = np.zeros((self._side, self._side), dtype=bool)
        origin[self.g, self.g] = True
        self._domains[INITIAL_POS] = origin
        self._constraints: dict[tuple[str, str], np.ndarray] = {}
        self._shifts: dict[tuple[str, str], np.ndarray] = {}
        """Per arc, the offsets of the reflected constraint as an (n, 2) array: what a revision dilates by."""
        self._neighbours: dict[str, set[str]] = {name: set() for name in self._domains}
        self._pending: deque[tuple[str, str]] = deque()
        self._queued: set[tuple[str, str]] = set()

    # ---- adding knowledge --------------------------------------------------------------------

    def observe(self, anchor: str, view: ViewDescription) -> None:
        """Add the constraints of one observation made while standing on ``anchor``."""
        for item in view.items:
            relation = _relation(2 * self.g, view.facing, "ego", item.direction, item.distance)
            self.add_constraint(anchor, item.name, *relation)
        for pair in view.proximity:
            relation = _relation(2 * self.g, view.facing, "cardinal", pair.direction, pair.distance)
            self.add_constraint(pair.b, pair.a, *relation)

    def add_constraint(self, anchor: str, target: str, offsets: np.ndarray, shifts: np.ndarray | None = None) -> None:
        """Require ``position(target) - position(anchor)`` to be one of ``offsets`` (a mask over [-2g, 2g]²)."""
        if offsets.shape != (2 * self._side - 1, 2 * self._side - 1):
            raise ValueError(f"expected an offset mask of side {2 * self._side - 1}, got {offsets.shape}")
        for name in (anchor, target):
            if name not in self._domains:
                raise KeyError(f"unknown item {name!r}")
        if shifts is None:
            shifts = np.argwhere(offsets) - 2 * self.g
        if self._domains[target] is None:
            self._domains[target] = self._seed(self._domains[anchor], offsets, shifts)
        # a revision of arc (i, j) dilates D_j by the reflection of S_ij: -shifts for the forward arc
        self._store(anchor, target, offsets, -shifts)
        self._store(target, anchor, offsets[::-1, ::-1], shifts)

    def fix(self, name: str, cell: Cell) -> None:
        """Set an item's domain to one known cell (a successful Query)."""
        domain = np.zeros((self._side, self._side), dtype=bool)
        domain[cell[0] + self.g, cell[1] + self.g] = True
        self._domains[name] = domain
        for other in self._neighbours[name]:
            self._enqueue(other, name)

    def _store(self, i: str, j: str, offsets: np.ndarray, reflected_shifts: np.ndarray) -> None:
        key = (i, j)
        previous = self._constraints.get(key)
        if previous is None:
            self._constraints[key], self._shifts[key] = offsets, reflected_shifts
        else:
            combined = previous & offsets
            self._constraints[key] = combined
            self._shifts[key] = np.argwhere(combined[::-1, ::-1]) - 2 * self.g
        self._neighbours[i].add(j)
        self._enqueue(i, j)

    def _enqueue(self, i: str, j: str) -> None:
        if (i, j) not in self._queued:
            self._queued.add((i, j))
            self._pending.append((i, j))

    def _seed(self, anchor_domain: np.ndarray | None, offsets: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        size = 0 if anchor_domain is None else np.count_nonzero(anchor_domain)
        if 1 <= size <= SEED_FROM_ANCHOR_MAX:
            assert anchor_domain is not None
            return self._minkowski(anchor_domain, offsets, shifts)
        return np.ones((self._side, self._side), dtype=bool)

    # ---- propagation -------------------------------------------------------------------------

    def propagate(self) -> None:
        """Run AC-3 over the pending arcs until every domain is arc consistent."""
        while self._pending:
            i, j = self._pending.popleft()
            self._queued.discard((i, j))
            if self._revise(i, j):
                for k in self._neighbours[i]:
                    if k != j:
                        self._enqueue(k, i)

    def _revise(self, i: str, j: str) -> bool:
        """Drop the cells of i with no partner in j; True when i's domain shrank."""
        di, dj = self._domains[i], self._domains[j]
        if di is None or dj is None:
            return False
        # x_j - x_i ∈ S  ⇔  x_i ∈ x_j - S: the support of i is D_j dilated by the reflected offsets
        key = (i, j)
        support = self._minkowski(dj, self._constraints[key][::-1, ::-1], self._shifts[key])
        revised = di & support
        if np.count_nonzero(revised) == np.count_nonzero(di):
            return False
        self._domains[i] = revised
        return True

    def _minkowski(self, domain: np.ndarray, offsets: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Cells ``c + s`` for c in ``domain`` and s in ``offsets``, clipped to the box.

        Stamps the offset mask at each cell or shifts the domain by each offset, whichever is fewer.
        """
        g, side = self.g, self._side
        reach = 2 * g
        if np.count_nonzero(domain) <= len(shifts):
            cells = np.argwhere(domain)
            canvas = np.zeros((side + 2 * reach, side + 2 * reach), dtype=bool)
            for x, y in cells:
                canvas[x : x + 2 * reach + 1, y : y + 2 * reach + 1] |= offsets
            return canvas[reach : reach + side, reach : reach + side].copy()
        padded = np.zeros((side + 2 * reach, side + 2 * reach), dtype=bool)
        padded[reach : reach + side, reach : reach + side] = domain
        out = np.zeros((side, side), dtype=bool)
        for sx, sy in shifts:
            out |= padded[reach - sx : reach - sx + side, reach - sy : reach - sy + side]
        return out

    # ---- reading knowledge -------------------------------------------------------------------

    @property
    def box_cells(self) -> int:
        return self._side * self._side

    def domain_size(self, name: str) -> int:
        """Cells still possible for ``name`` (the whole box while nothing constrains it)."""
        self.propagate()
        domain = self._domains[name]
        return self.box_cells if domain is None else int(domain.sum())

    def candidates(self, name: str) -> list[Cell]:
        """The allocentric cells still possible for ``name``, in row-major order."""
        self.propagate()
        domain = self._domains[name]
        if domain is None:
            domain = np.ones((self._side, self._side), dtype=bool)
        return [(int(x) - self.g, int(y) - self.g) for x, y in np.argwhere(domain)]

    def is_initialised(self, name: str) -> bool:
        return self._domains[name] is not None

    def information_gain(self, normaliser: InfoGainNormaliser = "box", names: Iterable[str] | None = None) -> float:
        """Fraction of positional uncertainty removed, averaged over ``names`` (all items by default)."""
        chosen = self.names if names is None else tuple(names)
        if not chosen:
            return 1.0
        m = self.box_cells if normaliser == "box" else self.g * self.g
        # Σ log2(M / max(1, C)) written as N log2 M - Σ log2 max(1, C), so full knowledge gives exactly 1.0
        doubt = math.fsum(math.log2(max(1, self.domain_size(name))) for name in chosen)
        gain = 1.0 - doubt / (len(chosen) * math.log2(m))
        # with the box normaliser every term lies in [0, log2 M]; clamp away float rounding only
        return min(1.0, max(0.0, gain)) if normaliser == "box" else gain
