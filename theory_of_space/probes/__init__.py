"""Belief probes: cognitive maps asked after each exploration turn, parsed and scored (maps and fog).

Map level (pure, usable offline on any stored reply): :func:`parse_cogmap`, :func:`true_cogmap`,
:func:`compare_cogmaps`, :func:`cogmap_scale`, and the fog probe's :func:`fog_candidates` and
:func:`score_fog`. Episode level: :func:`build_probe_requests`, :func:`answer_probes`,
:func:`assemble_probe_record` and :func:`run_probes` give a :class:`ProbeRecord`, which
:func:`probe_metrics` scores with no model and no env.
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
from theory_of_space.probes.metrics import aggregate_probe_metrics, probe_metrics
from theory_of_space.probes.requests import (
    ProbeAnswer,
    ProbeRecord,
    ProbeRequest,
    answer_probes,
    assemble_probe_record,
    build_probe_requests,
    run_probes,
)

__all__ = [
    "AGENT",
    "DEFAULT_GLOBAL_FB_PROMPT",
    "DEFAULT_GLOBAL_PROMPT",
    "DEFAULT_LOCAL_PROMPT",
    "CogmapScores",
    "FogCandidates",
    "MapEntry",
    "ParsedMap",
    "ProbeAnswer",
    "ProbeRecord",
    "ProbeRequest",
    "aggregate_probe_metrics",
    "answer_probes",
    "assemble_probe_record",
    "build_probe_requests",
    "cogmap_scale",
    "compare_cogmaps",
    "fog_candidates",
    "parse_cogmap",
    "probe_metrics",
    "run_probes",
    "score_fog",
    "true_cogmap",
]
