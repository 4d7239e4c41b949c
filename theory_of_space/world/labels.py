"""Answer aliases for the bin labels of :mod:`theory_of_space.world.geometry`.

Models write labels in many spellings: ``front left``, ``fl``, ``mid``, ``north-east``, ``NE``. An
answer label is canonicalised (lower case, spaces, hyphens and underscores removed) and looked up in
the alias tables below, which map every accepted spelling to the one label the bins produce. The
tables are derived from the label tuples of ``geometry``, so a label can never be missing here.
"""

from __future__ import annotations

from typing import Literal

from theory_of_space.world.geometry import CARDINAL_LABELS, DISTANCE_LABELS, EGO_LABELS

LabelKind = Literal["ego", "cardinal", "distance"]


def canonical_label(text: str) -> str:
    """Lower case with spaces, hyphens and underscores removed: ``"Front-Slight Left"`` → ``frontslightleft``."""
    return "".join(ch for ch in text.lower() if ch not in " \t\r\n-_")


def _table(labels: tuple[str, ...], extra: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table = {canonical_label(label): label for label in labels}
    for label, aliases in extra.items():
        assert label in labels, label
        for alias in aliases:
            table[canonical_label(alias)] = label
    return table


EGO_ALIASES: dict[str, str] = _table(
    EGO_LABELS,
    {
        "front": ("f", "ahead", "straight ahead", "in front", "front center", "front centre", "forward"),
        "front-slight-right": ("fsr", "slight right", "slightly right", "front slightly right", "front right slight"),
        "front-right": ("fr", "right front"),
        "front-slight-left": ("fsl", "slight left", "slightly left", "front slightly left", "front left slight"),
        "front-left": ("fl", "left front"),
        "beyond-fov": ("beyond", "out of view", "outside fov", "outside view", "not visible", "behind"),
    },
)
"""Egocentric direction spellings → their label in :data:`EGO_LABELS`."""

CARDINAL_ALIASES: dict[str, str] = _table(
    CARDINAL_LABELS,
    {
        "north": ("n",),
        "north east": ("ne", "northeast"),
        "east": ("e",),
        "south east": ("se", "southeast"),
        "south": ("s",),
        "south west": ("sw", "southwest"),
        "west": ("w",),
        "north west": ("nw", "northwest"),
    },
)
"""Cardinal direction spellings → their label in :data:`CARDINAL_LABELS`."""

DISTANCE_ALIASES: dict[str, str] = _table(
    DISTANCE_LABELS,
    {
        "same distance": ("same", "zero", "same position"),
        "near": ("close", "nearby"),
        "mid distance": ("mid", "medium", "middle", "medium distance", "mid range", "middle distance"),
        "slightly far": ("slightly far away", "somewhat far"),
        "far": ("far away",),
        "very far": ("very far away",),
        "extremely far": ("extremely far away",),
    },
)
"""Distance spellings → their label in :data:`DISTANCE_LABELS`."""

ALIASES: dict[LabelKind, dict[str, str]] = {
    "ego": EGO_ALIASES,
    "cardinal": CARDINAL_ALIASES,
    "distance": DISTANCE_ALIASES,
}


def resolve_label(text: str, kind: LabelKind) -> str | None:
    """The label of ``kind`` that ``text`` spells, or ``None`` when it spells none.

    Example:
        >>> resolve_label("North-East", "cardinal")
        'north east'
        >>> resolve_label("mid", "distance")
        'mid distance'
    """
    return ALIASES[kind].get(canonical_label(text))
