"""The belief-inertia sweep on a local model: collect pair activations, fit, score, choose, evaluate.

Scenes are split in folds (two by default). For each held-out fold, steerers are fitted on the
pairs of the other scenes minus a validation subset; every method × layer × θ point is scored on
the validation scenes by its preference margin and forced-choice inertia (and ``h`` before and
after on ODESteer's sketch barrier); the 3 best points per method can also get probe generation;
the chosen point is then evaluated on the held-out fold next to the unsteered model. Every scene
is held out exactly once, so the held-out results pair each scene with itself unsteered.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .barriers import SketchBarrier
from .collect import collect_activations, model_fingerprint, too_long
from .generate import score_completions, steered_generate
from .hooks import resolve_layers
from .inertia import (
    DEFAULT_THETAS,
    InertiaPair,
    SweepRow,
    best_points,
    choose_layer,
    default_layers,
    paired_differences,
    probe_metrics,
    scene_folds,
    score_object_answer,
    select_point,
    theta_to_T,
    validation_scenes,
    write_jsonl,
)
from .methods import CAA, ITI, ODESteer, RepE, Steerer, StepODESteer
from .rendering import render
from .tokens import encode

METHODS = ("odesteer", "step-odesteer", "caa", "iti", "repe")


def make_steerer(method: str, *, n_components: int = 8000, seed: int = 0, steps: int = 10) -> Steerer:
    """A fresh, unfitted steerer by CLI name (``odesteer``, ``step-odesteer``, ``caa``, ``iti``, ``repe``)."""
    if method == "odesteer":
        return ODESteer(SketchBarrier(n_components=n_components, seed=seed), steps=steps)
    if method == "step-odesteer":
        return StepODESteer(SketchBarrier(n_components=n_components, seed=seed))
    if method in ("caa", "iti"):
        return {"caa": CAA, "iti": ITI}[method]()
    if method == "repe":
        return RepE(seed=seed)
    raise ValueError(f"expected one of {METHODS} for `method`, got {method!r}")


def collect_pair_activations(
    model: nn.Module, tokenizer: Any, pairs: Sequence[InertiaPair], layers: Sequence[int], **collect_kwargs: Any
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Activations of ``(prompt, positive)`` and ``(prompt, negative)``, row ``i`` from pair ``i`` (aligned for RepE).

    Returns:
        ``(pos, neg)``, each ``{layer: [N, d]}``.

    Raises:
        ValueError: when a pair's positive or negative item is longer than the collection limit:
            collection would skip it on one side only and shift every later row; drop such pairs
            first with :func:`fitting_pairs`.
    """
    long = _long_pairs(model, tokenizer, pairs, collect_kwargs)
    if long:
        raise ValueError(
            f"{len(long)} pair(s) longer than the collection limit would put the positive and negative rows out "
            f"of step: {[pairs[i].id for i in long[:10]]}; drop them with fitting_pairs(model, tokenizer, pairs)"
        )
    pos = collect_activations(model, tokenizer, [(p.prompt, p.positive) for p in pairs], list(layers), **collect_kwargs)
    neg = collect_activations(model, tokenizer, [(p.prompt, p.negative) for p in pairs], list(layers), **collect_kwargs)
    assert isinstance(pos, dict) and isinstance(neg, dict)
    return pos, neg


def fitting_pairs(
    model: nn.Module, tokenizer: Any, pairs: Sequence[InertiaPair], **collect_kwargs: Any
) -> list[InertiaPair]:
    """The pairs whose prompt, positive and negative items all fit the collection limit (a warning names the rest)."""
    long = set(_long_pairs(model, tokenizer, pairs, collect_kwargs))
    if long:
        warnings.warn(
            f"dropped {len(long)} pair(s) longer than the collection limit: {[pairs[i].id for i in sorted(long)][:10]}",
            stacklevel=2,
        )
    return [p for i, p in enumerate(pairs) if i not in long]


def _long_pairs(
    model: nn.Module, tokenizer: Any, pairs: Sequence[InertiaPair], collect_kwargs: Mapping[str, Any]
) -> list[int]:
    long: set[int] = set()
    for items in (
        [(p.prompt, p.positive) for p in pairs],
        [(p.prompt, p.negative) for p in pairs],
        [(p.prompt, None) for p in pairs],
    ):
        long |= set(too_long(model, tokenizer, items, **collect_kwargs))
    return sorted(long)


def prompt_activations(
    model: nn.Module, tokenizer: Any, pairs: Sequence[InertiaPair], layers: Sequence[int], **collect_kwargs: Any
) -> dict[int, torch.Tensor]:
    """Prompt-end activations of the pairs (where steering starts and read-outs read)."""
    acts = collect_activations(model, tokenizer, [(p.prompt, None) for p in pairs], list(layers), **collect_kwargs)
    assert isinstance(acts, dict)
    return acts


def pair_margins(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    steerer: Steerer | None = None,
    layer: int | None = None,
    *,
    batch_size: int = 16,
    **render_kwargs: Any,
) -> torch.Tensor:
    """Preference margins ``log p(positive | prompt) - log p(negative | prompt)``, teacher-forced, ``[N]``."""
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        items = [(p.prompt, p.positive) for p in chunk] + [(p.prompt, p.negative) for p in chunk]
        logp = score_completions(model, tokenizer, items, steerer, layer, **render_kwargs)
        out.append(logp[: len(chunk)] - logp[len(chunk) :])
    return torch.cat(out)


def probe_answers(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    steerer: Steerer | None = None,
    layer: int | None = None,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 48,
    **generate_kwargs: Any,
) -> list[dict[str, Any]]:
    """Greedy answers to the pairs' probes, each scored by :func:`score_object_answer` (with its text)."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        gen = steered_generate(
            model,
            tokenizer,
            [p.prompt for p in chunk],
            steerer,
            layer,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            **generate_kwargs,
        )
        rows += [{**score_object_answer(t, p), "text": t} for t, p in zip(gen.texts, chunk, strict=True)]
    return rows


@dataclass
class SweepConfig:
    """Settings of :func:`run_inertia_sweep`.

    Attributes:
        layers: candidate blocks (default: 30-60 % of the depth).
        methods: methods to fit, by CLI name.
        thetas: relative displacements; negative values are the causal control.
        n_folds: scene folds for cross-fitting.
        validation_fraction: share of the fitting scenes used to choose the layer and θ.
        layer_theta: θ at which one-step CAA picks the layer.
        neighbours: also allow ODESteer one layer either side of the chosen layer.
        generate: run probe generation on the best points (else select on forced-choice inertia).
        max_new_tokens: generation length of the probe answers.
        n_components: sketch size of ODESteer's barrier and of the ``h`` yardstick.
        seed: seed of folds, barriers and bootstrap.
        batch_size: rows per forward.
        generate_kwargs: extra ``generate`` options (e.g. ``use_cache``).
    """

    layers: Sequence[int] | None = None
    methods: Sequence[str] = ("odesteer", "caa", "iti", "repe")
    thetas: Sequence[float] = DEFAULT_THETAS
    n_folds: int = 2
    validation_fraction: float = 0.25
    layer_theta: float = 0.1
    neighbours: bool = True
    generate: bool = True
    max_new_tokens: int = 48
    n_components: int = 8000
    seed: int = 0
    batch_size: int = 16
    generate_kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class _Timer:
    seconds: dict[str, float] = field(
        default_factory=lambda: {"collection": 0.0, "fitting": 0.0, "scoring": 0.0, "generation": 0.0}
    )

    def add(self, key: str, since: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - since


def _h_stats(barrier: SketchBarrier, acts: torch.Tensor, steered: torch.Tensor) -> dict[str, float]:
    before, after = barrier.value(acts), barrier.value(steered)
    return {
        "h_before": float(before.mean()),
        "h_after": float(after.mean()),
        "h_pos_before": float((before >= 0).double().mean()),
        "h_pos_after": float((after >= 0).double().mean()),
    }


def condition_diagnostics(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    conditions: Mapping[str, Mapping[int, Steerer]],
    *,
    n_components: int = 2000,
    seed: int = 0,
    batch_size: int = 16,
    **collect_kwargs: Any,
) -> dict[str, Any]:
    """Preference margins and ``h`` before and after of steering conditions, on one set of pairs.

    For each condition (``{layer: steerer}``, attached together): the mean teacher-forced margin and
    forced-choice inertia, the paired margin difference from unsteered over scenes, and per steered
    block ``h`` of a sketch barrier (the common yardstick) fitted on these same pairs at that block,
    on the prompt-end activations before and after that block's steerer. The barrier is fitted in
    sample, so ``h`` shows the direction of the change; the sweep gives held-out figures.

    Returns:
        ``{"n_pairs", "unsteered": {...}, "conditions": {name: {...}}}``; ``n_pairs`` 0 and no figures
        when no pair fits the collection limit, and ``h`` empty with fewer than two pairs (too few to fit).
    """
    pairs = fitting_pairs(model, tokenizer, pairs, **collect_kwargs)
    out: dict[str, Any] = {"n_pairs": len(pairs), "unsteered": {}, "conditions": {}}
    if not pairs:
        return out
    layers = sorted({layer for steerers in conditions.values() for layer in steerers})
    yardsticks: dict[int, SketchBarrier] = {}
    prompt: dict[int, torch.Tensor] = {}
    if len(pairs) > 1 and layers:
        pos, neg = collect_pair_activations(model, tokenizer, pairs, layers, batch_size=batch_size, **collect_kwargs)
        prompt = prompt_activations(model, tokenizer, pairs, layers, batch_size=batch_size, **collect_kwargs)
        for layer in layers:
            yardsticks[layer] = SketchBarrier(n_components=n_components, seed=seed).fit(pos[layer], neg[layer])
    scenes = [p.scene for p in pairs]
    base = pair_margins(model, tokenizer, pairs, batch_size=batch_size)
    out["unsteered"] = {"margin": float(base.mean()), "forced_choice_inertia": float((base < 0).double().mean())}
    for name, steerers in conditions.items():
        margin = pair_margins(model, tokenizer, pairs, dict(steerers), batch_size=batch_size)
        out["conditions"][name] = {
            "margin": float(margin.mean()),
            "forced_choice_inertia": float((margin < 0).double().mean()),
            "margin_delta": paired_differences(scenes, margin.tolist(), base.tolist(), seed=seed),
            "h": {
                str(layer): _h_stats(yardsticks[layer], prompt[layer], steerer.steer(prompt[layer]))
                for layer, steerer in sorted(steerers.items())
                if layer in yardsticks
            },
        }
    return out


def _subset(pairs: Sequence[InertiaPair], scenes: set[str]) -> list[int]:
    return [i for i, p in enumerate(pairs) if p.scene in scenes]


def run_inertia_sweep(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    out: str | Path,
    config: SweepConfig | None = None,
    *,
    layers_path: str | None = None,
) -> dict[str, Any]:
    """Cross-fitted layer × strength sweep with held-out evaluation; writes the run folder.

    Writes ``config.json``, ``pairs.jsonl``, ``activations/`` (cache), ``steerers/<method>-L<layer>-fold<k>/``,
    ``sweep.jsonl`` (one row per method × layer × θ × fold, validation and held-out),
    ``summary.json`` and ``summary.md``.

    Returns:
        The summary (also in ``summary.json``).

    Example:
        >>> summary = run_inertia_sweep(model, tok, pairs, "runs/sweep")  # doctest: +SKIP
        >>> summary["held_out"]["inertia_delta"]  # doctest: +SKIP
    """
    cfg = config or SweepConfig()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    n_blocks = len(resolve_layers(model, layers_path)[1])
    layers = sorted({i % n_blocks for i in (cfg.layers if cfg.layers is not None else default_layers(n_blocks))})
    for m in cfg.methods:
        make_steerer(m)  # validates the names before any work
    pairs = fitting_pairs(model, tokenizer, pairs, layers_path=layers_path)
    write_jsonl(root / "pairs.jsonl", (p.to_dict() for p in pairs))
    run_config = {
        "sweep": cfg.to_dict(),
        "layers": layers,
        "model_fingerprint": model_fingerprint(model, layers, layers_path),
        "dtype": str(next(model.parameters()).dtype),
        "n_pairs": len(pairs),
    }
    (root / "config.json").write_text(json.dumps(run_config, indent=2) + "\n")
    timer = _Timer()
    opts = {"batch_size": cfg.batch_size, "cache_dir": root / "activations", "layers_path": layers_path}
    t0 = time.perf_counter()
    pos, neg = collect_pair_activations(model, tokenizer, pairs, layers, **opts)
    prompt_acts = prompt_activations(model, tokenizer, pairs, layers, **opts)
    timer.add("collection", t0)
    for layer in layers:
        if torch.equal(pos[layer], neg[layer]):
            raise ValueError(
                f"positive and negative completions give identical activations at layer {layer}; "
                "does the tokenizer map the completions' JSON to distinct tokens?"
            )
    tokens = sum(len(encode(tokenizer, render(tokenizer, p.prompt, None))) for p in pairs)

    folds = scene_folds([p.scene for p in pairs], cfg.n_folds, seed=cfg.seed)
    rows: list[SweepRow] = []
    held: dict[str, Any] = {"scenes": [], "kinds": [], "steered": [], "unsteered": [], "control": [], "choices": []}
    for fold in range(cfg.n_folds):
        fit_scenes = {s for s, f in folds.items() if f != fold}
        val = validation_scenes(fit_scenes, cfg.validation_fraction, seed=cfg.seed + fold)
        train_idx = _subset(pairs, fit_scenes - val)
        val_idx = _subset(pairs, val)
        test_idx = _subset(pairs, {s for s, f in folds.items() if f == fold})
        val_pairs = [pairs[i] for i in val_idx]
        fitted: dict[tuple[str, int], Steerer] = {}
        yardsticks: dict[int, SketchBarrier] = {}
        base_margin: dict[int, torch.Tensor] = {}
        t0 = time.perf_counter()
        unsteered_val = pair_margins(model, tokenizer, val_pairs, batch_size=cfg.batch_size)
        timer.add("scoring", t0)
        for layer in layers:
            t0 = time.perf_counter()
            p_tr, n_tr = pos[layer][train_idx], neg[layer][train_idx]
            yardsticks[layer] = SketchBarrier(n_components=cfg.n_components, seed=cfg.seed).fit(p_tr, n_tr)
            for m in cfg.methods:
                steerer = make_steerer(m, n_components=cfg.n_components, seed=cfg.seed).fit(p_tr, n_tr)
                steerer.provenance = {
                    "layer": layer,
                    "method": m,
                    "fold": fold,
                    "train_scenes": sorted(fit_scenes - val),
                }
                steerer.save(root / "steerers" / f"{m}-L{layer}-fold{fold}")
                fitted[(m, layer)] = steerer
            timer.add("fitting", t0)
            base_margin[layer] = unsteered_val
            acts_val = prompt_acts[layer][val_idx]
            rows.append(
                SweepRow(
                    "unsteered",
                    layer,
                    0.0,
                    0.0,
                    fold,
                    "validation",
                    float(unsteered_val.mean()),
                    float((unsteered_val < 0).double().mean()),
                    **_h_stats(yardsticks[layer], acts_val, acts_val),
                )
            )
            for m in cfg.methods:
                steerer = fitted[(m, layer)]
                assert steerer.fit_info is not None
                for theta in cfg.thetas:
                    T = theta_to_T(theta, steerer.displacement(1.0), steerer.fit_info.median_norm)
                    steerer.T = T
                    t0 = time.perf_counter()
                    margin = pair_margins(model, tokenizer, val_pairs, steerer, layer, batch_size=cfg.batch_size)
                    timer.add("scoring", t0)
                    steered_acts = steerer.steer(acts_val, T)
                    rows.append(
                        SweepRow(
                            m,
                            layer,
                            theta,
                            T,
                            fold,
                            "validation",
                            float(margin.mean()),
                            float((margin < 0).double().mean()),
                            **_h_stats(yardsticks[layer], acts_val, steered_acts),
                        )
                    )
        fold_rows = [r for r in rows if r.fold == fold]
        chosen_layer = choose_layer(fold_rows, theta=cfg.layer_theta) if "caa" in cfg.methods else layers[0]
        allowed = {chosen_layer}
        if cfg.neighbours:
            allowed |= {chosen_layer - 1, chosen_layer + 1}
        candidates = [
            r
            for r in best_points([r for r in fold_rows if r.layer in allowed])
            if r.layer == chosen_layer or r.method == "odesteer"
        ]
        unsteered_row = next(r for r in fold_rows if r.method == "unsteered" and r.layer == chosen_layer)
        if cfg.generate:
            t0 = time.perf_counter()
            base_scores = probe_answers(
                model,
                tokenizer,
                val_pairs,
                batch_size=cfg.batch_size,
                max_new_tokens=cfg.max_new_tokens,
                **cfg.generate_kwargs,
            )
            unsteered_row.probe = probe_metrics(base_scores, [p.kind for p in val_pairs])
            for r in candidates:
                s = fitted[(r.method, r.layer)]
                scores = probe_answers(
                    model,
                    tokenizer,
                    val_pairs,
                    _at(s, r.T),
                    r.layer,
                    batch_size=cfg.batch_size,
                    max_new_tokens=cfg.max_new_tokens,
                    **cfg.generate_kwargs,
                )
                r.probe = probe_metrics(scores, [p.kind for p in val_pairs])
            timer.add("generation", t0)
        winner = select_point(candidates, unsteered_row)
        test_pairs = [pairs[i] for i in test_idx]
        t0 = time.perf_counter()
        base_test = pair_margins(model, tokenizer, test_pairs, batch_size=cfg.batch_size)
        if winner.method == "unsteered":
            test_margin = base_test
            held["control"] += (base_test < 0).double().tolist()
        else:
            steerer = _at(fitted[(winner.method, winner.layer)], winner.T)
            test_margin = pair_margins(model, tokenizer, test_pairs, steerer, winner.layer, batch_size=cfg.batch_size)
            control = _at(fitted[(winner.method, winner.layer)], -winner.T)
            control_margin = pair_margins(
                model, tokenizer, test_pairs, control, winner.layer, batch_size=cfg.batch_size
            )
            held["control"] += (control_margin < 0).double().tolist()
        timer.add("scoring", t0)
        for name, margin in (("unsteered", base_test), (winner.method, test_margin)):
            rows.append(
                SweepRow(
                    name,
                    winner.layer,
                    winner.theta if name != "unsteered" else 0.0,
                    winner.T if name != "unsteered" else 0.0,
                    fold,
                    "held_out",
                    float(margin.mean()),
                    float((margin < 0).double().mean()),
                )
            )
        held["scenes"] += [p.scene for p in test_pairs]
        held["kinds"] += [p.kind for p in test_pairs]
        held["steered"] += (test_margin < 0).double().tolist()
        held["unsteered"] += (base_test < 0).double().tolist()
        held["margin_steered"] = held.get("margin_steered", []) + test_margin.tolist()
        held["margin_unsteered"] = held.get("margin_unsteered", []) + base_test.tolist()
        held["choices"].append(
            {
                "fold": fold,
                "layer_by_caa": chosen_layer,
                "method": winner.method,
                "layer": winner.layer,
                "theta": winner.theta,
                "T": winner.T,
            }
        )

    write_jsonl(root / "sweep.jsonl", (r.to_dict() for r in rows))
    total = sum(timer.seconds.values())
    summary = {
        "choices": held["choices"],
        "held_out": {
            "inertia_unsteered": _mean(held["unsteered"]),
            "inertia_steered": _mean(held["steered"]),
            "inertia_control": _mean(held["control"]),
            "inertia_delta": paired_differences(held["scenes"], held["steered"], held["unsteered"], seed=cfg.seed),
            "control_delta": paired_differences(held["scenes"], held["control"], held["unsteered"], seed=cfg.seed),
            "margin_delta": paired_differences(
                held["scenes"], held["margin_steered"], held["margin_unsteered"], seed=cfg.seed
            ),
        },
        "validation_curves": _curves(rows),
        "timing": {**timer.seconds, "total": total},
        "prompt_tokens": tokens,
    }
    (root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (root / "summary.md").write_text(_markdown(summary))
    return summary


def _at(steerer: Steerer, T: float) -> Steerer:
    steerer.T = T
    return steerer


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _curves(rows: Sequence[SweepRow]) -> list[dict[str, Any]]:
    """Validation forced-choice inertia and margin per method × layer × θ, averaged over folds."""
    keyed: dict[tuple[str, int, float], list[SweepRow]] = {}
    for r in rows:
        if r.split == "validation":
            keyed.setdefault((r.method, r.layer, r.theta), []).append(r)
    return [
        {
            "method": m,
            "layer": layer,
            "theta": theta,
            "inertia": _mean([r.inertia for r in rs]),
            "margin": _mean([r.margin for r in rs]),
            "h_before": _mean([r.h_before for r in rs]),
            "h_after": _mean([r.h_after for r in rs]),
        }
        for (m, layer, theta), rs in sorted(keyed.items())
    ]


def _fmt(x: float) -> str:
    return "nan" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


def _markdown(summary: Mapping[str, Any]) -> str:
    h = summary["held_out"]
    d, md, c = h["inertia_delta"], h["margin_delta"], h["control_delta"]
    lines = [
        "# Belief-inertia sweep",
        "",
        "| fold | layer (CAA rule) | method | layer | θ | T |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {ch['fold']} | {ch['layer_by_caa']} | {ch['method']} | {ch['layer']} | {ch['theta']:g} | {ch['T']:.4g} |"
        for ch in summary["choices"]
    ]
    lines += [
        "",
        "Held-out scenes (each scene held out once):",
        "",
        "| | unsteered | steered | Δ (95 % bootstrap over scenes) |",
        "|---|---|---|---|",
        f"| forced-choice inertia | {_fmt(h['inertia_unsteered'])} | {_fmt(h['inertia_steered'])} | "
        f"{_fmt(d['mean'])} [{_fmt(d['low'])}, {_fmt(d['high'])}] |",
        f"| forced-choice inertia at −θ (control) | {_fmt(h['inertia_unsteered'])} | {_fmt(h['inertia_control'])} | "
        f"{_fmt(c['mean'])} [{_fmt(c['low'])}, {_fmt(c['high'])}] |",
        f"| preference margin | | | {_fmt(md['mean'])} [{_fmt(md['low'])}, {_fmt(md['high'])}] |",
        "",
        "Timing (s): " + ", ".join(f"{k} {v:.2f}" for k, v in summary["timing"].items()),
        "",
    ]
    return "\n".join(lines)


def evaluate_steerer(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    steerer: Steerer,
    layer: int,
    out: str | Path,
    *,
    generate: bool = True,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    seed: int = 0,
    **generate_kwargs: Any,
) -> dict[str, Any]:
    """A saved steerer against the unsteered model on the given pairs, paired by scene.

    Writes ``answers.jsonl`` (per pair: margins, forced choice and, with ``generate``, the scored
    answers), ``summary.json`` and ``summary.md``.

    Returns:
        The summary.
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    pairs = list(pairs)
    t0 = time.perf_counter()
    base = pair_margins(model, tokenizer, pairs, batch_size=batch_size)
    steered = pair_margins(model, tokenizer, pairs, steerer, layer, batch_size=batch_size)
    scenes = [p.scene for p in pairs]
    summary: dict[str, Any] = {
        "steerer": {"class": type(steerer).__name__, "layer": layer, "T": steerer.T},
        "n_pairs": len(pairs),
        "inertia_unsteered": float((base < 0).double().mean()),
        "inertia_steered": float((steered < 0).double().mean()),
        "inertia_delta": paired_differences(
            scenes, (steered < 0).double().tolist(), (base < 0).double().tolist(), seed=seed
        ),
        "margin_delta": paired_differences(scenes, steered.tolist(), base.tolist(), seed=seed),
    }
    rows = [
        {"id": p.id, "scene": p.scene, "kind": p.kind, "margin_unsteered": float(b), "margin_steered": float(s)}
        for p, b, s in zip(pairs, base, steered, strict=True)
    ]
    if generate:
        kinds = [p.kind for p in pairs]
        plain = probe_answers(
            model, tokenizer, pairs, batch_size=batch_size, max_new_tokens=max_new_tokens, **generate_kwargs
        )
        moved = probe_answers(
            model,
            tokenizer,
            pairs,
            steerer,
            layer,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            **generate_kwargs,
        )
        summary["probe_unsteered"] = probe_metrics(plain, kinds)
        summary["probe_steered"] = probe_metrics(moved, kinds)
        for row, a, b in zip(rows, plain, moved, strict=True):
            row["answer_unsteered"], row["answer_steered"] = a, b
    summary["seconds"] = time.perf_counter() - t0
    write_jsonl(root / "answers.jsonl", rows)
    (root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    d = summary["inertia_delta"]
    lines = [
        f"# {type(steerer).__name__} on layer {layer}, T = {steerer.T:.4g}",
        "",
        "| | unsteered | steered | Δ (95 % bootstrap over scenes) |",
        "|---|---|---|---|",
        f"| forced-choice inertia | {_fmt(summary['inertia_unsteered'])} | {_fmt(summary['inertia_steered'])} | "
        f"{_fmt(d['mean'])} [{_fmt(d['low'])}, {_fmt(d['high'])}] |",
    ]
    if generate:
        for key in ("inertia_pos", "inertia_ori", "correct_pos", "correct_ori", "parse_valid"):
            a, b = summary["probe_unsteered"][key], summary["probe_steered"][key]
            lines.append(f"| {key} (generated) | {_fmt(a)} | {_fmt(b)} | |")
    (root / "summary.md").write_text("\n".join([*lines, ""]))
    return summary


def readout_report(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[InertiaPair],
    layers: Sequence[int],
    out: str | Path | None = None,
    *,
    generate: bool = True,
    alpha: float = 1.0,
    n_folds: int = 2,
    seed: int = 0,
    batch_size: int = 16,
    max_new_tokens: int = 48,
    **generate_kwargs: Any,
) -> dict[str, Any]:
    """What the activations hold at each probe, next to what the model reports.

    At each pair's prompt end (the probe of the turn where the object is first seen again), a
    read-out per layer, cross-fitted by scene, predicts the object's new position and facing. The
    report is the model's answer: its generated JSON (``generate=True``) or, without generation,
    its forced choice between the two completions (new when the margin is positive). Per layer:
    the read-out's exact-position and facing accuracy next to the report's accuracy on the same
    pairs, and, on the pairs whose report keeps the old state, how often the read-out is nearer
    the new position than the old one (moved objects only).

    With ``out`` set, read-outs fitted on all pairs are saved to ``readouts/L<layer>/`` and the
    report to ``readout.json``.
    """
    from .readout import LinearReadout, cross_fit_readouts, encoded_state

    pairs = fitting_pairs(model, tokenizer, pairs)
    acts = prompt_activations(model, tokenizer, pairs, layers, batch_size=batch_size)
    new = torch.tensor([p.new["position"] for p in pairs], dtype=torch.float64)
    old = torch.tensor([p.old["position"] for p in pairs], dtype=torch.float64)
    facings = [p.new.get("facing") for p in pairs]
    folds = scene_folds([p.scene for p in pairs], n_folds, seed=seed)
    scores = cross_fit_readouts(acts, new, facings, [folds[p.scene] for p in pairs], alpha=alpha)
    if generate:
        answers = probe_answers(
            model, tokenizer, pairs, batch_size=batch_size, max_new_tokens=max_new_tokens, **generate_kwargs
        )
        reported = [a["state"] for a in answers]
    else:
        margins = pair_margins(model, tokenizer, pairs, batch_size=batch_size)
        reported = ["new" if float(m) > 0 else "old" for m in margins]
    stuck = [i for i, p in enumerate(pairs) if p.kind == "move" and reported[i] == "old"]
    report: dict[str, Any] = {
        "n_pairs": len(pairs),
        "report": "generated JSON" if generate else "forced choice",
        "report_accuracy": sum(r == "new" for r in reported) / len(pairs),
        "report_inertia": sum(r == "old" for r in reported) / len(pairs),
        "n_inertia_moves": len(stuck),
        "layers": {},
    }
    for layer in layers:
        row = scores[layer].to_dict()
        if stuck:
            states = encoded_state(scores[layer].predictions[stuck], old[stuck], new[stuck])
            row["inertia_moves_encoding_new"] = states.count("new") / len(stuck)
            row["inertia_moves_encoding_old"] = states.count("old") / len(stuck)
        report["layers"][str(layer)] = row
        if out is not None:
            readout = LinearReadout(layer=layer, alpha=alpha).fit(acts[layer], new, facings)
            readout.provenance = {"pairs": len(pairs), "scenes": sorted(folds), "target": "new state"}
            readout.save(Path(out) / "readouts" / f"L{layer}")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "readout.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
