"""The false-belief perturbation and the changes between two versions of a scene.

:func:`perturb_scene` turns a scene into its changed version: a few oriented objects turn to another
facing, other objects move far across the building. :func:`diff_scenes` recovers the list of changes
from any two versions, which is how the published ``falsebelief_exp.json`` files are read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from theory_of_space.world.geometry import Cell, Facing
from theory_of_space.world.scene import Scene, SceneObject, is_room_code, scene_seed

ChangeKind = Literal["move", "rotate"]
ChangeType = Literal["position", "orientation"]
"""How an agent names a change: a move is a ``position`` change, a rotation an ``orientation`` change."""
DEFAULT_N_CHANGES = 4
MAX_ROTATIONS = 2
"""At most this many changes are rotations; the rest are moves."""
MIN_MOVE_DISTANCE_SQ = 36
"""A moved object lands at squared distance at least 36 (6 cells) from its old cell."""
_PERTURB_STREAM = 12
"""Mixed into the seed so the perturbation never reuses the scene generator's random stream."""


@dataclass(frozen=True)
class SceneChange:
    """One object that was moved to another cell or rotated in place (never both)."""

    name: str
    kind: ChangeKind
    cell_from: Cell
    cell_to: Cell
    facing_from: Facing | None
    facing_to: Facing | None

    @property
    def type_label(self) -> ChangeType:
        """The change type as an agent reports it: ``position`` for a move, ``orientation`` for a rotation."""
        return "position" if self.kind == "move" else "orientation"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "cell_from": list(self.cell_from),
            "cell_to": list(self.cell_to),
            "facing_from": None if self.facing_from is None else self.facing_from.label,
            "facing_to": None if self.facing_to is None else self.facing_to.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneChange:
        kind = data.get("kind")
        if kind not in ("move", "rotate"):
            raise ValueError(f"expected 'move' or 'rotate' for `kind`, got {kind!r}")
        return cls(
            name=str(data["name"]),
            kind=kind,
            cell_from=(int(data["cell_from"][0]), int(data["cell_from"][1])),
            cell_to=(int(data["cell_to"][0]), int(data["cell_to"][1])),
            facing_from=None if data.get("facing_from") is None else Facing.from_label(data["facing_from"]),
            facing_to=None if data.get("facing_to") is None else Facing.from_label(data["facing_to"]),
        )


def perturb_scene(
    scene: Scene, n_changes: int = DEFAULT_N_CHANGES, *, seed: int | None = None
) -> tuple[Scene, tuple[SceneChange, ...]]:
    """The scene after the false-belief changes, and the changes in scene order.

    Rules: min(2, number of oriented objects) random oriented objects turn to a random
    *different* facing; then other objects, in random order, move until there are ``n_changes``
    changes. A move goes to a uniformly random free floor cell of any room at squared distance ≥ 36
    from the old cell; a cell is free when no object stands on it, before or after the changes (so no
    object lands where another one used to be), and it is neither a door nor the agent's start. An
    object with no such cell is skipped. A moved object takes the room of its new cell.

    Args:
        scene: the scene as explored.
        n_changes: how many objects change (default 4).
        seed: the random seed; ``None`` uses the scene's seed (its generator seed, or the number of
            its published folder), so the same scene always gets the same changes.

    Raises:
        ValueError: when ``n_changes`` is not a positive integer, or the scene cannot take that many
            changes (too few objects, or no far enough free cell), naming ``n_changes``.

    Example:
        >>> from theory_of_space.world.generate import generate_scene
        >>> changed, changes = perturb_scene(generate_scene(0))
        >>> [c.kind for c in changes].count("rotate"), len(changes)
        (2, 4)
    """
    if isinstance(n_changes, bool) or not isinstance(n_changes, int) or n_changes < 1:
        raise ValueError(f"expected a positive integer for `n_changes`, got {n_changes!r}")
    seed = scene_seed(scene) if seed is None else int(seed)
    rng = np.random.default_rng([_PERTURB_STREAM, seed])
    objects = list(scene.objects)
    oriented = [i for i, o in enumerate(objects) if o.facing is not None]
    n_rotations = min(MAX_ROTATIONS, len(oriented), n_changes)
    rotated = [oriented[int(k)] for k in rng.choice(len(oriented), size=n_rotations, replace=False)]
    for index in rotated:
        old = objects[index].facing
        assert old is not None
        others = [f for f in Facing if f != old]
        objects[index] = replace(objects[index], facing=others[int(rng.integers(len(others)))])
    taken = {o.cell for o in scene.objects} | {d.cell for d in scene.doors} | {scene.start.cell}
    floor = [(x, y) for x, column in enumerate(scene.mask) for y, code in enumerate(column) if is_room_code(code)]
    movable = [i for i in range(len(objects)) if i not in rotated]
    moved = 0
    for index in (movable[int(k)] for k in rng.permutation(len(movable))):
        if n_rotations + moved == n_changes:
            break
        old_cell = objects[index].cell
        cells = [c for c in floor if c not in taken and _distance_sq(c, old_cell) >= MIN_MOVE_DISTANCE_SQ]
        if not cells:
            continue
        cell = cells[int(rng.integers(len(cells)))]
        taken.add(cell)
        objects[index] = replace(objects[index], cell=cell, room=scene.mask[cell[0]][cell[1]])
        moved += 1
    if n_rotations + moved < n_changes:
        raise ValueError(
            f"scene {scene.scene_id} can take only {n_rotations + moved} changes, fewer than `n_changes`={n_changes}"
        )
    source = {**scene.source, "perturbation": {"n_changes": n_changes, "seed": seed}}
    changed = Scene(mask=scene.mask, objects=tuple(objects), doors=scene.doors, start=scene.start, source=source)
    return changed, diff_scenes(scene, changed)


def diff_scenes(before: Scene, after: Scene) -> tuple[SceneChange, ...]:
    """The per-object changes from ``before`` to ``after``, in ``before``'s scene order.

    Raises:
        ValueError: if the two scenes differ in anything but object cells, rooms and facings, an
            object is missing or unknown (named), or an object both moved and turned.
    """
    if before.mask != after.mask or before.doors != after.doors or before.start != after.start:
        raise ValueError("expected the changed scene to keep the grid, the doors and the agent start")
    after_objects = {o.name: o for o in after.objects}
    before_names = {o.name for o in before.objects}
    unknown = sorted(set(after_objects) - before_names)
    if unknown:
        raise ValueError(f"the changed scene holds unknown object(s) {unknown}")
    missing = sorted(before_names - set(after_objects))
    if missing:
        raise ValueError(f"the changed scene lacks object(s) {missing}")
    changes = []
    for old in before.objects:
        new = after_objects[old.name]
        moved = new.cell != old.cell
        turned = old.facing is not None and new.facing != old.facing
        if moved and turned:
            raise ValueError(f"object {old.name!r} both moved and turned; a change is one or the other")
        if moved or turned:
            changes.append(_change(old, new, "move" if moved else "rotate"))
    return tuple(changes)


def _change(old: SceneObject, new: SceneObject, kind: ChangeKind) -> SceneChange:
    return SceneChange(
        name=old.name,
        kind=kind,
        cell_from=old.cell,
        cell_to=new.cell,
        facing_from=old.facing,
        facing_to=new.facing,
    )


def _distance_sq(a: Cell, b: Cell) -> int:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
