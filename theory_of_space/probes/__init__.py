"""Belief probes: cognitive maps asked after each exploration turn, parsed and scored (maps and fog).

Map level (pure, usable offline on any stored reply): :func:`parse_cogmap`, :func:`true_cogmap`,
:func:`compare_cogmaps`, :func:`cogmap_scale`, and the fog probe's :func:`fog_candidates` and
:func:`score_fog`.
"""

from theory_of_space.probes.cogmap import (
    AGENT,
    DEFAULT_GLOBAL_FB_PROMPT,
    DEFAULT_GLOBAL_PROMPT,
    DEFAULT_LOCAL_PROMPT,
    CogmapScores,
    MapEntry,
    ParsedMap,
    cogmap_scale,
    compare_cogmaps,
    parse_cogmap,
    true_cogmap,
)
from theory_of_space.probes.fog import FogCandidates, fog_candidates, score_fog

__all__ = [
    "AGENT",
    "DEFAULT_GLOBAL_FB_PROMPT",
    "DEFAULT_GLOBAL_PROMPT",
    "DEFAULT_LOCAL_PROMPT",
    "CogmapScores",
    "FogCandidates",
    "MapEntry",
    "ParsedMap",
    "cogmap_scale",
    "compare_cogmaps",
    "fog_candidates",
    "parse_cogmap",
    "score_fog",
    "true_cogmap",
]
