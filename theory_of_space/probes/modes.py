"""The cognitive-map evaluation modes: a map asked for with the answer, or a map given before the question.

- ``default``: the question alone.
- ``prompt_cogmap``: the model writes its map first, in ``<cogmap>…</cogmap><answer>…</answer>`` after
  ``FINAL ANSWER:``; only the ``<answer>`` part is scored (an alignment test).
- ``use_gt_cogmap``: the true global map (every object and door, and the agent at its final pose) is
  placed before the question (a sufficiency test).
- ``use_model_cogmap``: the model's own final global map (one global probe after the exploration) is
  placed there instead; when that request fails, the runner sends no question and records each as
  failed with the map request's reason.

These are pure functions the evaluation runner calls around each question request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from theory_of_space.agents.base import Message
from theory_of_space.probes.cogmap import AGENT, MapEntry, parse_cogmap, true_cogmap
from theory_of_space.tasks.parsing import extract_answer
from theory_of_space.tasks.prompts import QUESTION_HEADING
from theory_of_space.world.scene import Pose, Scene

EvaluationMode = Literal["default", "prompt_cogmap", "use_gt_cogmap", "use_model_cogmap"]
EVALUATION_MODES: tuple[str, ...] = ("default", "prompt_cogmap", "use_gt_cogmap", "use_model_cogmap")
MAP_HEADING = "## Cognitive map of the scene"
PROMPT_COGMAP_INSTRUCTION = (
    "Before answering, write your cognitive map of the scene as JSON (origin [0, 0] at your initial position, "
    'initial facing north; each item {"position": [x, y], "facing": "north|south|east|west"} where it has a '
    'facing; yourself as "agent"). After FINAL ANSWER: write exactly '
    "<cogmap>{your JSON map}</cogmap><answer>{your answer}</answer>."
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_COGMAP_TAG = re.compile(r"<cogmap>(.*?)</cogmap>", re.DOTALL | re.IGNORECASE)


def check_mode(mode: str) -> str:
    """``mode`` if it is an evaluation mode, else a ``ValueError`` naming the field."""
    if mode not in EVALUATION_MODES:
        raise ValueError(f"expected one of {', '.join(EVALUATION_MODES)} for `mode`, got {mode!r}")
    return mode


def map_json(scene: Scene, entries: dict[str, MapEntry]) -> str:
    """A map as the probes' JSON: item names as the scene writes them, integer positions, facing where defined."""
    out = {}
    for name, entry in entries.items():
        item = scene.item(name)
        record: dict = {"position": [round(entry.position[0]), round(entry.position[1])]}
        if entry.facing is not None:
            record["facing"] = entry.facing.label
        out[AGENT if item is None else item.name] = record
    return json.dumps(out)


def gt_cogmap_json(scene: Scene, pose: Pose) -> str:
    """The true global map: every object and door, and the agent at ``pose`` (no facing key where none)."""
    return map_json(scene, true_cogmap(scene, "global", pose=pose))


def model_cogmap_json(scene: Scene, reply: str) -> str:
    """The model's global map from its probe reply, re-written in the probe JSON; ``{}`` when it has none."""
    parsed = parse_cogmap(reply, "global")
    return map_json(scene, parsed.entries) if parsed.valid else "{}"


def mode_messages(messages: Sequence[Message], mode: str, *, cogmap: str | None = None) -> list[Message]:
    """A question request adapted to ``mode``.

    Args:
        messages: the request of the ``default`` mode (its last user message holds the question block).
        mode: one of :data:`EVALUATION_MODES`.
        cogmap: the map JSON placed before the question (``use_gt_cogmap``/``use_model_cogmap``).
    """
    check_mode(mode)
    messages = list(messages)
    if mode == "default":
        return messages
    last = messages[-1]
    if mode == "prompt_cogmap":
        messages[-1] = replace(last, content=f"{last.content.rstrip()}\n\n{PROMPT_COGMAP_INSTRUCTION}")
        return messages
    if cogmap is None:
        raise ValueError(f"expected a `cogmap` for mode {mode}")
    block = f"{MAP_HEADING}\n{cogmap}\n\n"
    head, sep, tail = last.content.rpartition(QUESTION_HEADING)
    content = f"{head}{block}{sep}{tail}" if sep else f"{block}{last.content}"
    messages[-1] = replace(last, content=content)
    return messages


def scored_reply(reply: str, mode: str) -> str:
    """The reply the task scorer reads: in ``prompt_cogmap``, ``FINAL ANSWER:`` and the ``<answer>`` part."""
    if mode != "prompt_cogmap":
        return reply
    match = _ANSWER_TAG.search(extract_answer(reply)) or _ANSWER_TAG.search(reply)
    return reply if match is None else f"FINAL ANSWER: {match.group(1).strip()}"


def written_cogmap(reply: str) -> str | None:
    """The ``<cogmap>`` part of a ``prompt_cogmap`` reply, if any."""
    match = _COGMAP_TAG.search(reply)
    return None if match is None else match.group(1).strip()
