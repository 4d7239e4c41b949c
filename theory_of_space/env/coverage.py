"""Node and edge coverage of an exploration."""

from __future__ import annotations

from itertools import combinations

from theory_of_space.env.knowledge import INITIAL_POS
from theory_of_space.world.scene import Scene


def target_edges(scene: Scene) -> frozenset[frozenset[str]]:
    """Every pair of items inside each room, plus (initial_pos, x) for each item of the start room."""
    edges: set[frozenset[str]] = set()
    for items in scene.items_by_room.values():
        edges.update(frozenset((a.name, b.name)) for a, b in combinations(items, 2))
    edges.update(frozenset((INITIAL_POS, item.name)) for item in scene.items_by_room.get(1, ()))
    return frozenset(edges)


class CoverageTracker:
    """Which items have been observed, and which target edges are known (x seen from anchor a)."""

    def __init__(self, scene: Scene) -> None:
        self.item_names = tuple(item.name for item in scene.items)
        self.targets = target_edges(scene)
        self.observed: list[str] = []
        self._observed_set: set[str] = set()
        self.known_edges: set[frozenset[str]] = set()

    def record(self, anchor: str, visible: tuple[str, ...]) -> list[str]:
        """Record one observation from ``anchor``; returns the items seen for the first time."""
        new = [name for name in visible if name not in self._observed_set]
        self.observed.extend(new)
        self._observed_set.update(new)
        for name in visible:
            edge = frozenset((anchor, name))
            if edge in self.targets:
                self.known_edges.add(edge)
        return new

    def has_observed(self, name: str) -> bool:
        return name in self._observed_set

    @property
    def node_coverage(self) -> float:
        return len(self.observed) / len(self.item_names) if self.item_names else 1.0

    @property
    def edge_coverage(self) -> float:
        return len(self.known_edges) / len(self.targets) if self.targets else 1.0
