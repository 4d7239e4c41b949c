"""Prompts of the exploration task, built from the scene and the env options.

The prose is ours; the machine-read parts are exact: the ``THINK:`` / ``FINAL ANSWER:`` labels, the
``Actions: [ ... ]`` grammar, the observation format and the object and door lists. Every number in
a prompt (grid size, budget, rooms, costs) comes from the same objects the env uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from theory_of_space.world.geometry import DISTANCE_BINS, PROXIMITY_MAX_DISTANCE
from theory_of_space.world.scene import Scene

ACTION_COSTS = {"Observe": 1, "Query": 2}


@dataclass(frozen=True)
class PromptOptions:
    """The env options that change what the prompts say."""

    think: bool = True
    query_enabled: bool = True
    max_exp_steps: int = 20
    vision: bool = False
    active: bool = True
    action_format: str = "text"
    """``"text"`` (the ``Actions: [ ... ]`` grammar) or ``"tools"`` (function calls, see ``env/tools.py``)."""

    @property
    def tools(self) -> bool:
        return self.action_format == "tools"


def system_message(options: PromptOptions) -> str:
    if options.tools:
        opening = "You are an agent that explores a scene and reasons about space. "
        if options.think:
            return opening + (
                "Every reply you write starts with a THINK: section with your reasoning. While you explore, you "
                "then act by calling the action tools; when you are asked a question, you then write a FINAL "
                "ANSWER: section with only what is asked for."
            )
        return opening + (
            "While you explore, every reply only calls the action tools; when you are asked a question, your "
            "reply is a single FINAL ANSWER: section with only what is asked for."
        )
    if options.think:
        return (
            "You are an agent that explores a scene and reasons about space. Every reply you write has two "
            "sections, in this order: a THINK: section with your reasoning, then a FINAL ANSWER: section "
            "with only what is asked for."
        )
    return (
        "You are an agent that explores a scene and reasons about space. Every reply you write is a single "
        "FINAL ANSWER: section with only what is asked for, and no other text."
    )


def format_footer(options: PromptOptions) -> str:
    """The one-line format reminder and the reply skeleton appended to every env message."""
    if options.tools:
        calls = "call the action tools: any JumpTo and Rotate calls, then exactly one Observe, Query or Term call."
        if options.think:
            return "Reply strictly in this format:\nTHINK:\n<your reasoning about the next actions>\nthen " + calls
        return "Reply only with tool calls: " + calls
    skeleton = ["FINAL ANSWER:", "Actions: [ ... ]"]
    if options.think:
        skeleton = ["THINK:", "<your reasoning about the next actions>", *skeleton]
    return "Reply strictly in this format:\n" + "\n".join(skeleton)


def budget_line(steps_left: int) -> str:
    if steps_left <= 0:
        return "No exploration steps are left."
    return f"You have {steps_left} exploration step{'s' if steps_left != 1 else ''} left."


def grammar_summary(options: PromptOptions) -> str:
    finals = "Observe() | Query(<name>) | Term()" if options.query_enabled else "Observe() | Term()"
    if options.tools:
        return (
            "Act by calling the tools in order: any motions, JumpTo(target) or Rotate(degrees), then exactly one "
            f"final action, {finals.replace('<name>', 'target')}; Term() is called alone."
        )
    return (
        "Write your actions as Actions: [ <M>* <F> ], where each <M> is a motion, JumpTo(<name>) or "
        f"Rotate(<degrees>), and <F> is exactly one final action, {finals}; Term() stands alone."
    )


def invalid_feedback(detail: str, options: PromptOptions) -> str:
    return f"Your reply could not be executed: {detail}. Nothing was done. {grammar_summary(options)}"


def initial_message(scene: Scene, options: PromptOptions, *, history: str | None = None) -> str:
    """The first user message: the setting, the rules, the action grammar and the starting state."""
    width, height = scene.shape
    n_rooms = len(scene.room_ids)
    parts = [("# Spatial Exploration Task" if options.active else "# Spatial Reasoning Task")]
    if options.vision:
        parts.append(
            "You are inside a rendered 3-D scene. For reasoning it is abstracted to a discrete 2-D grid of "
            f"{width}x{height} cells, and every object, door and you yourself sit at integer points (x, y)."
        )
    else:
        parts.append(
            f"You are inside a 2-D world described only in text: a grid of {width}x{height} cells in which "
            "every object, every door and you yourself are points at integer coordinates (x, y)."
        )
    if options.active:
        parts.append(
            "Your goal is to build a complete and accurate map of where everything is and which way it "
            "faces, while keeping the total cost of your actions low."
        )
    parts.append(_rules_of_sight(n_rooms))
    parts.append(_relations_text(options))
    parts.append(_actions_text(options))
    if options.active:
        parts.append(
            "## Strategy\n"
            "- Try to observe every object and door in as few steps as you can.\n"
            "- Prefer actions that reveal something you do not know yet; do not repeat a view.\n"
            "- Your field of view is 90 degrees.\n"
            "- Keep track of where you are and which way you face, and of your starting pose."
        )
    else:
        parts.append("Your field of view is 90 degrees. Keep track of the explorer's pose and its starting pose.")
    parts.append(_layout_text(scene))
    if options.active:
        parts.append(f"You may take at most {options.max_exp_steps} exploration steps.")
    if options.vision:
        parts.append(vision_references_text())
    if history is not None:
        parts.append("## Exploration History\n" + history)
    if options.active:
        parts.append(format_footer(options))
    return "\n\n".join(parts)


CALIBRATION_TEXT = (
    "Calibration image: <image>\nIt is a view from your camera into an empty room with four discs on the "
    "floor: blue 1 m straight ahead, red 2 m straight ahead, yellow 2 m away at 45° to the front-left (on "
    "the left edge of the view) and green 3 m away at 22.5° to the front-right. One grid cell is 1 m; the "
    "lines on the floor are the cell borders. Use it to judge distances and angles in your views."
)
REFERENCE_SHEET_TEXT = (
    "Object reference sheet: <image>\nEach tile shows one object of this scene with its number in red and "
    "its name. An object that has a front appears twice: on the left facing you, on the right facing to "
    "the left. Its front is marked by eyes and a white pointer: in your views the pointer points down when "
    "the object faces you, up when it faces away from you, and left or right when it faces to your left "
    "or right. Objects without a front have neither."
)


def vision_references_text() -> str:
    """The prompt section on the vision world's calibration image and object reference sheet."""
    return "## Reference images\n" + CALIBRATION_TEXT + "\n\n" + REFERENCE_SHEET_TEXT


def _rules_of_sight(n_rooms: int) -> str:
    return (
        "## Rooms and sight\n"
        f"- The scene has {n_rooms} room{'s' if n_rooms != 1 else ''}. You only see inside the room you are in.\n"
        "- Walls and closed doors block your view of other rooms.\n"
        "- When you stand in a doorway, that door is open and you no longer see it, but you see into both "
        "rooms it joins.\n"
        "- A door lies on a wall; it is described as being on the front, back, left or right wall "
        "relative to you."
    )


def _relations_text(options: PromptOptions) -> str:
    distance_rows = [f"  - (0, {DISTANCE_BINS[0][0]:g}]: {DISTANCE_BINS[0][1]}"]
    for (lower, _), (upper, label) in pairwise(DISTANCE_BINS):
        distance_rows.append(f"  - ({lower:g}, {upper:g}]: {label}")
    distance_rows.append(f"  - more than {DISTANCE_BINS[-1][0]:g}: extremely far")
    lines = [
        "## How relations are described",
        "- A bearing is an angle in degrees measured from the direction you face: 0 is straight ahead and "
        "positive angles turn clockwise (to your right).",
        "- Facings seen from you are forward, backward, left or right; facings in the map frame are north, "
        "east, south or west. Doors have no facing: they are described by the wall they are on.",
        "- Egocentric direction, by bearing:",
        "  - exactly 0: front",
        "  - (0, 22.5]: front-slight-right; [-22.5, 0): front-slight-left",
        "  - (22.5, 45]: front-right; [-45, -22.5): front-left",
        "- Cardinal direction, by bearing from north (lower bound included, upper bound excluded):",
        "  - [-22.5, 22.5): north; [22.5, 67.5): north east; [67.5, 112.5): east; [112.5, 157.5): south east",
        "  - [157.5, 202.5): south; [202.5, 247.5): south west; [247.5, 292.5): west; [292.5, 337.5): north west",
        "- Distance, in cells:",
        *distance_rows,
    ]
    if not options.vision:
        lines.append(
            f"- Items at most {PROXIMITY_MAX_DISTANCE:g} apart are also related to each other, with your "
            'current facing direction called "north".'
        )
    return "\n".join(lines)


def _actions_text(options: PromptOptions) -> str:
    observe = "returns an image of what you see now" if options.vision else "describes what you see now"
    lines = [
        "## Actions",
        "- JumpTo(<name>): move onto an object or door that you have already observed and can see now; "
        "your facing does not change.",
        "- Rotate(<degrees>): turn by 90, 180 or 270 degrees (negative turns counterclockwise).",
        f"- Observe(): {observe}.",
    ]
    if options.query_enabled:
        lines.append(
            "- Query(<name>): returns the map position (x, y) of an item you have already observed, and its "
            "facing if it has one."
        )
    lines.append("- Term(): ends the exploration.")
    lines.append(grammar_summary(options))
    lines.append(
        "Nothing can be jumped to before it has been observed; a turn has exactly one final action, at most "
        "one Observe(), and Term() alone."
    )
    if options.tools:
        lines.append(
            'Valid: the calls Rotate(degrees=-90), JumpTo(target="lamp"), Observe() in this order, or Observe() '
            "alone. Invalid: Observe() then Rotate(degrees=90) (final action not last), and "
            'JumpTo(target="lamp") alone (no final action).'
        )
    else:
        lines.append(
            "Valid: Actions: [Rotate(-90), JumpTo(lamp), Observe()] and Actions: [Observe()]. Invalid: "
            "Actions: [Observe(), Rotate(90)] (final action not last) and Actions: [JumpTo(lamp)] (no final action)."
        )
    costs = ", ".join(
        f"{name}(): {cost}" if name == "Observe" else f"{name}(obj): {cost}"
        for name, cost in ACTION_COSTS.items()
        if name != "Query" or options.query_enabled
    )
    lines.append(f"Costs: {costs}; all other actions are free.")
    return "\n".join(lines)


def _layout_text(scene: Scene) -> str:
    rooms = ", ".join(f"room {k}" for k in scene.room_ids)
    return (
        "## Layout and starting state\n"
        f"Rooms: {rooms}. You start in room 1, facing north. Your starting position is the origin (0, 0) "
        "unless a question says otherwise; north is +y and east is +x.\n"
        f"Objects: {scene.object_list_text}\n"
        f"Doors: {', '.join(d.name for d in scene.doors)}"
    )
