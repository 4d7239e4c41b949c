"""A top-down ASCII map of a scene, north up, for ``render_mode="ansi"`` and ``tos scene``."""

from __future__ import annotations

from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import DOOR_CONST_X, DOOR_CONST_Y, OUTSIDE, WALL, Pose, Scene

_AGENT_GLYPHS = {Facing.NORTH: "A^", Facing.EAST: "A>", Facing.SOUTH: "Av", Facing.WEST: "A<"}
_CELL_GLYPHS = {OUTSIDE: "  ", WALL: "##", DOOR_CONST_X: "||", DOOR_CONST_Y: "=="}


def ascii_map(scene: Scene, agent: Pose | None = None, *, legend: bool = True) -> str:
    """Two characters per cell: ``##`` wall, `` .`` floor, ``||``/``==`` doors, object labels, ``A^`` the agent."""
    marks = {o.cell: f"{o.label:>2}" for o in scene.objects}
    width, height = scene.shape
    rows = []
    for y in range(height - 1, -1, -1):
        row = []
        for x in range(width):
            if agent is not None and agent.cell == (x, y):
                row.append(_AGENT_GLYPHS[agent.facing])
            elif (x, y) in marks:
                row.append(marks[(x, y)])
            else:
                row.append(_CELL_GLYPHS.get(scene.mask[x][y], " ."))
        rows.append("".join(row).rstrip())
    if legend:
        rows.append("")
        rows.append("Objects: " + scene.object_list_text)
        rows.append(
            "Doors: " + ", ".join(f"{d.name} {d.cell} joins rooms {d.rooms[0]}-{d.rooms[1]}" for d in scene.doors)
        )
        if agent is not None:
            rows.append(f"Agent: {agent.cell} facing {agent.facing.label} (start {scene.start.cell})")
    return "\n".join(rows)
