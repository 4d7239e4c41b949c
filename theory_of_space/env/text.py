"""Text observations and action messages, formatted from a :class:`ViewDescription`."""

from __future__ import annotations

from theory_of_space.world.geometry import Facing
from theory_of_space.world.view import ItemView, ViewDescription

BULLET = "•"
EMPTY_VIEW = "You observe: No objects in field of view."
IMAGE_OBSERVATION = "You observe: <image>."
PROXIMITY_HEADER = 'Assume your current facing direction is called "north":'
EXPLORATION_TERMINATED = "Exploration terminated."
FALSE_BELIEF_TERMINATED = "False-belief exploration terminated."


def item_line(view: ItemView) -> str:
    return f"{BULLET} {view.name}: {view.direction}, {view.distance}{view.detail}"


def observation_text(view: ViewDescription) -> str:
    """``You observe:`` followed by one line per visible item and the proximity pairs, ending in one period."""
    if not view.items:
        return EMPTY_VIEW
    lines = [item_line(item) for item in view.items]
    if view.proximity:
        lines.append(PROXIMITY_HEADER)
        lines.extend(f"{BULLET} {p.a} is {p.direction}, {p.distance} to {p.b}" for p in view.proximity)
    return "You observe: \n" + "\n".join(lines) + "."


def jump_message(name: str) -> str:
    return f"You jumped to {name}."


def rotate_message(degrees: int) -> str:
    if degrees < 0:
        return f"You rotated counterclockwise {-degrees}°."
    return f"You rotated clockwise {degrees}°."


def query_message(name: str, allocentric: tuple[int, int], facing: Facing | None) -> str:
    """``name: (x, y), facing east.`` — no facing part for doors and objects without a front."""
    text = f"{name}: ({allocentric[0]}, {allocentric[1]})"
    if facing is not None:
        text += f", facing {facing.label}"
    return text + "."


def failure_message(action: str, reason: str) -> str:
    return f"{action} failed: {reason}."


def skipped_message(action: str, reason: str) -> str:
    """The prefix of the Observe made instead of the rest of a turn after a failed motion."""
    return f"{action} failed: {reason}. The remaining actions were skipped and an observation was made instead."
