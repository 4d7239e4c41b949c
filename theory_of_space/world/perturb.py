"""Changes between two versions of a scene: objects that moved or turned (false belief, spec §12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from theory_of_space.world.geometry import Cell, Facing
from theory_of_space.world.scene import Scene

ChangeKind = Literal["move", "rotate"]


@dataclass(frozen=True)
class ObjectChange:
    """One object that was moved to another cell or rotated in place (never both)."""

    name: str
    kind: ChangeKind
    cell_from: Cell
    cell_to: Cell
    facing_from: Facing | None
    facing_to: Facing | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "cell_from": list(self.cell_from),
            "cell_to": list(self.cell_to),
            "facing_from": None if self.facing_from is None else self.facing_from.label,
            "facing_to": None if self.facing_to is None else self.facing_to.label,
        }


def diff_scenes(before: Scene, after: Scene) -> tuple[ObjectChange, ...]:
    """The per-object changes from ``before`` to ``after``, in ``before``'s scene order.

    Raises:
        ValueError: if the two scenes differ in anything but object cells and facings, or an object
            both moved and turned.
    """
    if before.mask != after.mask or before.doors != after.doors or before.start != after.start:
        raise ValueError("expected the changed scene to keep the grid, the doors and the agent start")
    after_objects = {o.name: o for o in after.objects}
    if sorted(after_objects) != sorted(o.name for o in before.objects):
        raise ValueError("expected the changed scene to hold the same objects")
    changes = []
    for old in before.objects:
        new = after_objects[old.name]
        moved = new.cell != old.cell
        turned = old.facing is not None and new.facing != old.facing
        if moved and turned:
            raise ValueError(f"object {old.name!r} both moved and turned; a change is one or the other")
        if moved or turned:
            changes.append(
                ObjectChange(
                    name=old.name,
                    kind="move" if moved else "rotate",
                    cell_from=old.cell,
                    cell_to=new.cell,
                    facing_from=old.facing,
                    facing_to=new.facing,
                )
            )
    return tuple(changes)
