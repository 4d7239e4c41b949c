"""Hypothesis strategies that damage valid JSON documents, for fuzzing loaders: a few random edits (replace a
node by an odd JSON value, delete it, rename its key, or repeat a list entry) at random places of the document.

A place is chosen by walking down from the top, one random child at a time, so that every top-level field
is hit about as often as every other (a walk over all nodes would spend most edits on the mask's cells).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

ODD_NUMBERS = [0, -1, 1, 2, 99, 100, 101, 102, 2_000_000, 10**308, 2**63, 1e308, 0.5, float("inf"), float("nan")]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from(ODD_NUMBERS)
    | st.integers(-50, 50)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", " ", "a\nb", "north", "door", "red door", "1e308", "Infinity", "x" * 200]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)
"""Values a damaged or hand-edited file might hold where something else was expected."""


def _path(draw: st.DrawFn, document: Any) -> tuple[Any, ...]:
    path: tuple[Any, ...] = ()
    node = document
    while isinstance(node, (dict, list)) and node and (not path or draw(st.integers(0, 3)) > 0):
        step = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path, node = (*path, step), node[step]
    return path


def _edit(document: Any, path: tuple[Any, ...], operation: str, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if operation == "delete":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[str(value)[:8]] = parent.pop(last)
    elif operation == "repeat" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    else:
        parent[last] = value
    return document


@st.composite
def mutated(draw: st.DrawFn, document: Any, *, max_edits: int = 3) -> Any:
    """A deep copy of ``document`` with one to ``max_edits`` random edits."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_edits))):
        path = _path(draw, result)
        operation = draw(st.sampled_from(["replace", "replace", "delete", "rename", "repeat"]))
        result = _edit(result, path, operation, draw(json_values))
    return result
