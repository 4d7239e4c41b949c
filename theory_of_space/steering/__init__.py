"""Activation steering of local HuggingFace language models: ODESteer and baselines.

Steering integrates ``ȧ = ∇h(a)/||∇h(a)||`` inside one layer's residual stream, where ``h`` is a
barrier estimating the log density ratio between activations of desirable and undesirable text.
See ``docs/steering.md`` for a guide.

Names are imported lazily, so ``import theory_of_space.steering`` does not import torch until a
steering name is first used.

Example:
    >>> from theory_of_space.steering import ODESteer, attach  # doctest: +SKIP
    >>> steerer = ODESteer(T=4.0).fit(pos, neg)  # doctest: +SKIP
    >>> with attach(model, steerer, layer=13):  # doctest: +SKIP
    ...     model.generate(**inputs)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Barrier": "barriers",
    "FitInfo": "barriers",
    "GaussianBarrier": "barriers",
    "LinearBarrier": "barriers",
    "RFFBarrier": "barriers",
    "SketchBarrier": "barriers",
    "ConvergenceWarning": "logistic",
    "LogisticDiagnostics": "logistic",
    "fit_logistic": "logistic",
    "CAA": "methods",
    "ITI": "methods",
    "ODESteer": "methods",
    "RepE": "methods",
    "StepODESteer": "methods",
    "Steerer": "methods",
    "load_barrier": "io",
    "load_steerer": "io",
    "save_barrier": "io",
    "SteeringHandle": "hooks",
    "Recording": "hooks",
    "GenerationResult": "generate",
    "attach": "hooks",
    "record": "hooks",
    "resolve_layers": "hooks",
    "score_completions": "generate",
    "steered_generate": "generate",
    "collect_activations": "collect",
    "model_fingerprint": "collect",
    "render": "rendering",
    "InertiaEpisode": "inertia",
    "InertiaPair": "inertia",
    "pairs_from_episodes": "inertia",
    "build_inertia_pairs": "inertia",
    "collect_pair_activations": "inertia_run",
    "run_inertia_sweep": "inertia_run",
    "evaluate_steerer": "inertia_run",
    "SweepConfig": "inertia_run",
    "LinearReadout": "readout",
    "cross_fit_readouts": "readout",
}

__all__ = [
    "CAA",
    "ITI",
    "Barrier",
    "ConvergenceWarning",
    "FitInfo",
    "GaussianBarrier",
    "GenerationResult",
    "InertiaEpisode",
    "InertiaPair",
    "LinearBarrier",
    "LinearReadout",
    "LogisticDiagnostics",
    "ODESteer",
    "RFFBarrier",
    "Recording",
    "RepE",
    "SketchBarrier",
    "Steerer",
    "SteeringHandle",
    "StepODESteer",
    "SweepConfig",
    "attach",
    "build_inertia_pairs",
    "collect_activations",
    "collect_pair_activations",
    "cross_fit_readouts",
    "evaluate_steerer",
    "fit_logistic",
    "load_barrier",
    "load_steerer",
    "model_fingerprint",
    "pairs_from_episodes",
    "record",
    "render",
    "resolve_layers",
    "run_inertia_sweep",
    "save_barrier",
    "score_completions",
    "steered_generate",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .barriers import Barrier, FitInfo, GaussianBarrier, LinearBarrier, RFFBarrier, SketchBarrier
    from .collect import collect_activations, model_fingerprint
    from .generate import GenerationResult, score_completions, steered_generate
    from .hooks import Recording, SteeringHandle, attach, record, resolve_layers
    from .inertia import InertiaEpisode, InertiaPair, build_inertia_pairs, pairs_from_episodes
    from .inertia_run import SweepConfig, collect_pair_activations, evaluate_steerer, run_inertia_sweep
    from .io import load_barrier, load_steerer, save_barrier
    from .logistic import ConvergenceWarning, LogisticDiagnostics, fit_logistic
    from .methods import CAA, ITI, ODESteer, RepE, Steerer, StepODESteer
    from .readout import LinearReadout, cross_fit_readouts
    from .rendering import render
