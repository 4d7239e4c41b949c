"""Cognitive maps: probe prompts, parsing of replies, ground-truth maps and the core similarity scores.

A map is a mapping from a normalised item name (:func:`~theory_of_space.world.scene.normalise_name`:
lower case, underscores read as spaces) to a :class:`MapEntry`. Global maps use the allocentric frame
(origin at the start cell, y north); local maps use the agent's frame (origin at the agent, +y forward,
+x right), and their facings are written in that frame too (``Facing.NORTH`` is ``+y``).

Parsing never raises. A reply with no loadable JSON object is an *invalid* map (``valid`` false),
which is not the same thing as a valid empty map ``{}``. Entries that cannot be read are dropped with
their reason; an unknown facing word keeps the entry with no orientation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from theory_of_space.world.geometry import Facing, to_local
from theory_of_space.world.scene import Pose, Scene, normalise_name

MapKind = Literal["global", "local", "global_fb"]
MAP_KINDS: tuple[str, ...] = ("global", "local", "global_fb")
AGENT = "agent"
"""The key of the agent's own entry in global maps."""
_ORIGIN = "\x00origin"
"""The frame origin (``initial`` in global maps), a key no item name can take."""

# ---- prompts ------------------------------------------------------------------------------------

_GLOBAL_FRAME = (
    "## Cognitive map\n"
    "Represent the scene as you now believe it to be, as a JSON map.\n"
    "Frame: the origin [0, 0] is your initial position, and your initial facing is north (+y); "
    "x grows east, y grows north.\n"
    'Schema: each key is an item name, each value {"position": [x, y], "facing": "north|south|east|west"}; '
    "positions are integers.\n"
)
"""The heading, frame and schema the global and false-belief global probes share."""

_OUTPUT_RULE = "Reply with THINK: followed by your reasoning, then FINAL ANSWER: followed by the JSON map only."

DEFAULT_GLOBAL_PROMPT = (
    _GLOBAL_FRAME
    + 'Rules: include every object and door you have observed, and yourself under the key "agent" with your '
    "current position and facing; include only observed objects; an object that has a facing must have the "
    '"facing" key; doors and objects without a facing get no "facing" key.\n'
    'Example: {"agent": {"position": [2, 3], "facing": "east"}, "chair": {"position": [2, 4], "facing": "north"}}\n'
    + _OUTPUT_RULE
)
"""The global map probe: everything observed so far and the agent, in the start frame."""

DEFAULT_LOCAL_PROMPT = (
    "## Local cognitive map\n"
    "Represent what is in your current field of view as a JSON map centred on you.\n"
    "Frame: the origin [0, 0] is your current position; +y is straight ahead (forward) and +x is to your "
    "right.\n"
    'Schema: {"origin": "agent", "objects": {name: {"position": [x, y], "facing": "+x|-x|+y|-y"}}}; '
    "positions are integers.\n"
    "Rules: include only the objects and doors in your current field of view, not yourself; include only "
    'observed objects; an object that has a facing must have the "facing" key; doors and objects without '
    'a facing get no "facing" key.\n'
    'Example: {"origin": "agent", "objects": {"chair": {"position": [0, 1], "facing": "-x"}}}\n' + _OUTPUT_RULE
)
"""The local map probe: the current field of view in the agent's frame."""

DEFAULT_GLOBAL_FB_PROMPT = (
    _GLOBAL_FRAME + 'Rules: include all objects and doors of the scene, and yourself under the key "agent" with your '
    'current position and facing; an object that has a facing must have the "facing" key; doors and '
    'objects without a facing get no "facing" key.\n'
    'Example: {"agent": {"position": [2, 3], "facing": "east"}, "chair": {"position": [2, 4], "facing": "north"}}\n'
    + _OUTPUT_RULE
)
"""The false-belief global map probe: as the global map, but every object and door of the scene."""

MAP_PROMPTS: dict[str, str] = {
    "global": DEFAULT_GLOBAL_PROMPT,
    "local": DEFAULT_LOCAL_PROMPT,
    "global_fb": DEFAULT_GLOBAL_FB_PROMPT,
}


def map_prompt(kind: MapKind) -> str:
    """The probe prompt of a map kind."""
    return MAP_PROMPTS[kind]


# ---- map values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapEntry:
    """One item of a map: a position and, for items with a front, a facing.

    ``absolute_facing`` marks a facing written as a compass word in a local map: it is a world facing,
    not one of the agent's frame (:func:`in_agent_frame` turns it into one).
    """

    position: tuple[float, float]
    facing: Facing | None = None
    absolute_facing: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"position": list(self.position)}
        if self.facing is not None:
            data["facing"] = self.facing.label
            if self.absolute_facing:
                data["absolute_facing"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MapEntry:
        facing = data.get("facing")
        x, y = data["position"]
        return cls(
            position=(float(x), float(y)),
            facing=None if facing is None else Facing.from_label(facing),
            absolute_facing=bool(data.get("absolute_facing", False)),
        )


CogMap = Mapping[str, MapEntry]


@dataclass(frozen=True)
class ParsedMap:
    """A parsed reply: ``valid`` false when no JSON object could be loaded from it."""

    kind: str
    valid: bool
    entries: dict[str, MapEntry] = field(default_factory=dict)
    dropped: tuple[tuple[str, str], ...] = ()
    """(name, reason) of every entry that could not be read."""
    reason: str | None = None
    """Why the map is invalid."""


# ---- parsing ------------------------------------------------------------------------------------

_FENCED = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)

_GLOBAL_WORDS: dict[str, Facing] = {}
for _facing, _words in (
    (Facing.NORTH, ("n", "north", "+y", "forward", "front", "ahead")),
    (Facing.EAST, ("e", "east", "+x", "right")),
    (Facing.SOUTH, ("s", "south", "-y", "backward", "backwards", "back", "behind")),
    (Facing.WEST, ("w", "west", "-x", "left")),
):
    for _word in _words:
        _GLOBAL_WORDS[_word] = _facing
_COMPASS_WORDS = frozenset({"n", "north", "e", "east", "s", "south", "w", "west"})


def parse_facing(value: Any, kind: MapKind = "global") -> tuple[Facing | None, bool]:
    """Read a facing word: ``(facing, absolute)``; an unknown word or a non-string is ``(None, False)``.

    In global maps every word names a world facing (``+y`` and ``forward`` are north). In local maps
    ``+y|+x|-y|-x`` and ``forward|right|back|left`` name the agent's frame, while compass words keep
    their world meaning (``absolute`` true).
    """
    if not isinstance(value, str):
        return None, False
    word = " ".join(value.strip().lower().split())
    facing = _GLOBAL_WORDS.get(word)
    if facing is None:
        return None, False
    return facing, kind == "local" and word in _COMPASS_WORDS


def extract_json(text: str) -> dict[str, Any] | None:
    """The longest JSON object in ``text`` that loads: fenced blocks and balanced ``{...}`` spans pooled."""
    candidates = [m.group(1).strip() for m in _FENCED.finditer(text)]
    candidates.extend(_balanced_spans(text))
    best: dict[str, Any] | None = None
    best_length = -1
    for candidate in sorted(set(candidates), key=len, reverse=True):
        if len(candidate) <= best_length:
            break
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            best, best_length = value, len(candidate)
    return best


def _balanced_spans(text: str) -> list[str]:
    """Every outermost ``{...}`` span whose braces balance, ignoring braces inside JSON strings.

    A ``{`` that never closes (a stray brace in the reasoning) is skipped and the scan resumes after it,
    up to :data:`_MAX_RESTARTS` times.
    """
    spans: list[str] = []
    begin = 0
    for _ in range(_MAX_RESTARTS):
        unclosed = _scan(text, begin, spans)
        if unclosed < 0:
            break
        begin = unclosed + 1
    return spans


_MAX_RESTARTS = 64


_SPECIAL = re.compile(r'[{}"\\]')


def _scan(text: str, begin: int, spans: list[str]) -> int:
    """Append the balanced spans from ``begin``; return where an unclosed ``{`` starts, or -1.

    Only braces, quotes and backslashes matter, so the scan jumps between them.
    """
    depth, start, in_string, skip_to = 0, -1, False, -1
    for match in _SPECIAL.finditer(text, begin):
        index = match.start()
        if index < skip_to:
            continue
        char = text[index]
        if in_string:
            if char == "\\":
                skip_to = index + 2  # the escaped character never ends the string
            elif char == '"':
                in_string = False
            continue
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
        elif char == '"' and depth:
            in_string = True
    return start if depth else -1


def parse_cogmap(text: Any, kind: MapKind) -> ParsedMap:
    """Parse a probe reply into a map; never raises.

    Args:
        text: the reply (anything that is not a string is an invalid map).
        kind: ``global``, ``local`` or ``global_fb``.

    Returns:
        A :class:`ParsedMap`. Nested ``{"objects": ..., "gates": ...}`` groups (dicts, or lists of records
        with a ``name``) are flattened; names are normalised; entries whose position is not two finite
        numbers (numeric strings accepted) are dropped with the reason; an unknown facing word means no
        orientation. Local maps drop ``origin`` and any ``agent`` entry.
    """
    if kind not in MAP_KINDS:
        return ParsedMap(str(kind), False, reason=f"unknown map kind {kind!r}")
    if not isinstance(text, str):
        return ParsedMap(kind, False, reason=f"expected reply text, got {type(text).__name__}")
    try:
        data = extract_json(text)
    except RecursionError:  # pathologically deep nesting
        data = None
    if data is None:
        return ParsedMap(kind, False, reason="no JSON object in the reply")
    entries: dict[str, MapEntry] = {}
    dropped: list[tuple[str, str]] = []
    for raw_name, record in _flatten(data, dropped):
        name = normalise_name(raw_name)
        if kind == "local" and name in ("origin", AGENT):
            continue
        if not name:
            dropped.append((raw_name, "empty name"))
            continue
        if name in entries:
            dropped.append((raw_name, "duplicate name"))
            continue
        entry, reason = _entry(record, kind)
        if entry is None:
            dropped.append((raw_name, reason))
        else:
            entries[name] = entry
    return ParsedMap(kind, True, entries, tuple(dropped))


_GROUP_KEYS = ("objects", "gates", "doors")


def _flatten(data: dict[str, Any], dropped: list[tuple[str, str]]) -> Iterable[tuple[str, Any]]:
    """(name, record) pairs of a map, with the ``objects``/``gates``/``doors`` groups opened."""
    for key, value in data.items():
        if key.strip().lower() in _GROUP_KEYS and isinstance(value, (dict, list)):
            if isinstance(value, dict):
                yield from ((str(k), v) for k, v in value.items())
                continue
            for position, record in enumerate(value):
                name = record.get("name") if isinstance(record, dict) else None
                if isinstance(name, str):
                    yield name, record
                else:
                    dropped.append((f"{key}[{position}]", "list entry without a name"))
        elif key.strip().lower() != "origin":
            yield key, value


def _entry(record: Any, kind: MapKind) -> tuple[MapEntry | None, str]:
    if not isinstance(record, dict):
        return None, "entry is not an object"
    position = _position(record.get("position"))
    if position is None:
        return None, "position is not two numbers"
    facing, absolute = parse_facing(record.get("facing"), kind)
    return MapEntry(position, facing, absolute), ""


def _position(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    numbers = []
    for part in value:
        if isinstance(part, bool):
            return None
        if isinstance(part, str):
            try:
                part = float(part.strip())
            except ValueError:
                return None
        if not isinstance(part, (int, float)) or not math.isfinite(part):
            return None
        numbers.append(float(part))
    return (numbers[0], numbers[1])


def in_agent_frame(entries: CogMap, agent_facing: Facing) -> dict[str, MapEntry]:
    """A local map with every facing in the agent's frame: compass-word facings are turned by ``agent_facing``."""
    return {
        name: MapEntry(e.position, Facing((e.facing - agent_facing) % 4), False)
        if e.absolute_facing and e.facing is not None
        else e
        for name, e in entries.items()
    }


# ---- ground truth -------------------------------------------------------------------------------


def true_cogmap(
    scene: Scene, kind: MapKind, *, pose: Pose | None = None, names: Iterable[str] | None = None
) -> dict[str, MapEntry]:
    """The ground-truth map of ``scene``.

    Args:
        scene: the world.
        kind: ``global``/``global_fb``: allocentric positions and world facings of the items, plus the
            agent at ``pose`` (the start pose when omitted). ``local``: positions ``R(f)·(p − agent)`` and
            facings in the agent's frame, no agent entry; ``pose`` is required.
        pose: the agent's pose.
        names: the items to include (any spelling); all objects and doors when omitted. Unknown names
            are ignored.

    Non-oriented objects and doors have no facing.
    """
    items = scene.items if names is None else [i for i in (scene.item(n) for n in names) if i is not None]
    if kind == "local":
        if pose is None:
            raise ValueError("expected a `pose` for a local ground-truth map")
        return {
            normalise_name(item.name): MapEntry(
                _float_pair(to_local((item.cell[0] - pose.cell[0], item.cell[1] - pose.cell[1]), pose.facing)),
                None if item.facing is None else Facing((item.facing - pose.facing) % 4),
            )
            for item in items
        }
    if kind not in ("global", "global_fb"):
        raise ValueError(f"expected global, local or global_fb for `kind`, got {kind!r}")
    agent = scene.start if pose is None else pose
    truth = {
        normalise_name(item.name): MapEntry(_float_pair(scene.allocentric(item.cell)), item.facing) for item in items
    }
    truth[AGENT] = MapEntry(_float_pair(scene.allocentric(agent.cell)), agent.facing)
    return truth


def _float_pair(cell: tuple[int, int]) -> tuple[float, float]:
    return (float(cell[0]), float(cell[1]))


def cogmap_scale(scene: Scene) -> float:
    """L: the RMS distance of the objects (doors excluded) from the start cell; 1.0 for a scene without any."""
    offsets = [scene.allocentric(o.cell) for o in scene.objects]
    if not offsets:
        return 1.0
    scale = math.sqrt(sum(x * x + y * y for x, y in offsets) / len(offsets))
    return scale if scale > 0 else 1.0


# ---- similarity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CogmapScores:
    """The core similarities of a predicted map to a ground-truth map, each in [0, 1]."""

    dir: float
    facing: float
    pos: float
    overall: float

    def to_dict(self) -> dict[str, float]:
        return {"dir": self.dir, "facing": self.facing, "pos": self.pos, "overall": self.overall}


def cardinal_bin(dx: float, dy: float) -> int:
    """The 8-way north-up bin index (0 = north, clockwise) of an offset; a zero offset is north."""
    theta = -math.degrees(math.atan2(-dx, dy))
    return math.floor(((theta % 360.0) + 22.5) / 45.0) % 8


def compare_cogmaps(pred: CogMap, truth: CogMap, scale: float) -> CogmapScores:
    """Score ``pred`` against ``truth``; names of ``pred`` outside ``truth`` are ignored.

    - ``pos`` = exp(−RMSE / scale) · |matched| / |truth|, RMSE over matched names (1 for an empty truth,
      0 without a match);
    - ``dir`` = the fraction of unordered pairs over truth ∪ {frame origin at (0, 0)} whose 8-way
      north-up bin agrees (a pair with an unpredicted member is wrong; 1 with fewer than two names);
    - ``facing`` = the fraction of truth entries with a facing whose predicted facing is equal (1 when
      there are none);
    - ``overall`` = their mean.
    """
    matched = [name for name in truth if name in pred]
    if not truth:
        pos = 1.0
    elif not matched:
        pos = 0.0
    else:
        squared = 0.0
        for name in matched:
            (px, py), (tx, ty) = pred[name].position, truth[name].position
            squared += (px - tx) ** 2 + (py - ty) ** 2
        rmse = math.sqrt(squared / len(matched))
        pos = math.exp(-rmse / scale) * len(matched) / len(truth)

    names = [_ORIGIN, *truth]
    true_points = [(0.0, 0.0), *(truth[n].position for n in truth)]
    pred_points = [(0.0, 0.0), *(pred[n].position if n in pred else None for n in truth)]
    pairs = len(names) * (len(names) - 1) // 2
    if pairs == 0:
        direction = 1.0
    else:
        agree = 0
        for i in range(len(names)):
            pi, ti = pred_points[i], true_points[i]
            if pi is None:
                continue
            for j in range(i + 1, len(names)):
                pj = pred_points[j]
                if pj is None:
                    continue
                tj = true_points[j]
                if cardinal_bin(pj[0] - pi[0], pj[1] - pi[1]) == cardinal_bin(tj[0] - ti[0], tj[1] - ti[1]):
                    agree += 1
        direction = agree / pairs

    oriented = [name for name, entry in truth.items() if entry.facing is not None]
    if oriented:
        facing = sum(name in pred and pred[name].facing == truth[name].facing for name in oriented) / len(oriented)
    else:
        facing = 1.0
    return CogmapScores(direction, facing, pos, (direction + facing + pos) / 3)


def global_in_agent_frame(entries: CogMap) -> dict[str, MapEntry] | None:
    """A global map re-expressed in the frame of its own ``agent`` entry (no facing reads as north).

    Positions become ``R(f)·(p − agent)`` and facings are turned into the agent's frame; the agent entry
    itself is left out. ``None`` when the map has no agent entry.
    """
    agent = entries.get(AGENT)
    if agent is None:
        return None
    facing = Facing.NORTH if agent.facing is None else agent.facing
    fx, fy = facing.vector
    ax, ay = agent.position
    out = {}
    for name, entry in entries.items():
        if name == AGENT:
            continue
        dx, dy = entry.position[0] - ax, entry.position[1] - ay
        turned = None if entry.facing is None else Facing((entry.facing - facing) % 4)
        out[name] = MapEntry((dx * fy - dy * fx, dx * fx + dy * fy), turned)
    return out
