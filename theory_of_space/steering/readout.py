"""Linear read-outs of an object's state from residual-stream activations, cross-fitted by scene.

A belief probe asks the model for a JSON map; a read-out asks its activations. Per layer, a ridge
regression maps the activation at the probe's prompt end to the object's position ``(x, y)`` in
the start frame, and a ridge classifier on one-hot targets maps it to the facing. Fitted on some
scenes and scored on the others, the read-out says what the representation holds; put next to the
JSON map on the same turns, it tells whether belief inertia is in the representation or only in
the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ._tensors import as_matrix
from .inertia import FACINGS
from .io import read_artifact, write_artifact

DEFAULT_ALPHA = 1.0


@dataclass
class LinearReadout:
    """Ridge read-out of position (regression) and facing (one-hot ridge classifier) at one layer.

    Inputs are centred and scaled by the training rows' mean and mean norm, so ``alpha`` means the
    same thing at every layer.

    Attributes:
        layer: the block whose output is read.
        alpha: ridge strength on the standardised inputs.
        weight_pos, bias_pos: ``[d, 2]`` and ``[2]``.
        weight_facing, bias_facing: ``[d, 4]`` and ``[4]`` (columns in ``FACINGS`` order), or
            ``None`` when no training row had a facing.
        provenance: free-form record of where the training rows came from.

    Example:
        >>> acts = torch.randn(40, 8)
        >>> pos = torch.stack([acts[:, 0] * 3, acts[:, 1]], 1).round()
        >>> r = LinearReadout(layer=0, alpha=1e-3).fit(acts, pos)
        >>> float((r.predict_position(acts) - pos).abs().max()) < 0.6
        True
    """

    layer: int
    alpha: float = DEFAULT_ALPHA
    mean: torch.Tensor | None = None
    scale: float = 1.0
    weight_pos: torch.Tensor | None = None
    bias_pos: torch.Tensor | None = None
    weight_facing: torch.Tensor | None = None
    bias_facing: torch.Tensor | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def _standardise(self, x: torch.Tensor) -> torch.Tensor:
        assert self.mean is not None
        return (x.double() - self.mean) / self.scale

    def _ridge(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ym = y.mean(0)
        d = z.shape[1]
        gram = z.T @ z + self.alpha * torch.eye(d, dtype=z.dtype)  # [d, d]
        w = torch.linalg.solve(gram, z.T @ (y - ym))  # [d, k]
        return w, ym

    def fit(self, acts: Any, positions: Any, facings: Sequence[str | None] | None = None) -> LinearReadout:
        """Fit on activations ``[N, d]``, positions ``[N, 2]`` and optional facings (``None`` = no facing).

        Raises:
            ValueError: on mismatched rows, fewer than 2 rows, a bad facing or a non-positive alpha.
        """
        x = as_matrix(acts, "acts").double()
        y = torch.as_tensor(positions, dtype=torch.float64)
        if y.shape != (x.shape[0], 2):
            raise ValueError(f"expected `positions` of shape ({x.shape[0]}, 2), got {tuple(y.shape)}")
        if x.shape[0] < 2:
            raise ValueError(f"expected at least 2 rows in `acts`, got {x.shape[0]}")
        if not self.alpha > 0:
            raise ValueError(f"expected a positive `alpha`, got {self.alpha}")
        self.mean = x.mean(0)
        self.scale = float((x - self.mean).norm(dim=1).mean()) or 1.0
        z = self._standardise(x)
        self.weight_pos, self.bias_pos = self._ridge(z, y)
        self.weight_facing = self.bias_facing = None
        if facings is not None:
            if len(facings) != x.shape[0]:
                raise ValueError(f"expected {x.shape[0]} entries in `facings`, got {len(facings)}")
            rows = [i for i, f in enumerate(facings) if f is not None]
            bad = [f for f in facings if f is not None and f not in FACINGS]
            if bad:
                raise ValueError(f"expected facings in {FACINGS}, got {bad[0]!r}")
            if len(rows) >= 2:
                onehot = torch.zeros(len(rows), len(FACINGS), dtype=torch.float64)
                for j, i in enumerate(rows):
                    onehot[j, FACINGS.index(facings[i])] = 1.0
                self.weight_facing, self.bias_facing = self._ridge(z[rows], onehot)
        return self

    def _require(self) -> None:
        if self.weight_pos is None:
            raise RuntimeError("LinearReadout is not fitted; call fit(acts, positions) first")

    def predict_position(self, acts: Any) -> torch.Tensor:
        """Predicted ``(x, y)`` per row, ``[N, 2]`` float64."""
        self._require()
        assert self.weight_pos is not None and self.bias_pos is not None
        return self._standardise(as_matrix(acts, "acts")) @ self.weight_pos + self.bias_pos

    def predict_facing(self, acts: Any) -> list[str]:
        """Predicted facing per row (the largest one-hot score).

        Raises:
            RuntimeError: when the read-out was fitted without facings.
        """
        self._require()
        if self.weight_facing is None or self.bias_facing is None:
            raise RuntimeError("this read-out was fitted without facings")
        scores = self._standardise(as_matrix(acts, "acts")) @ self.weight_facing + self.bias_facing
        return [FACINGS[i] for i in scores.argmax(1).tolist()]

    def save(self, path: str | Path) -> None:
        """Save as ``config.json`` + ``tensors.safetensors``, like a steerer."""
        self._require()
        assert self.mean is not None and self.weight_pos is not None and self.bias_pos is not None
        tensors = {"mean": self.mean, "weight_pos": self.weight_pos, "bias_pos": self.bias_pos}
        if self.weight_facing is not None and self.bias_facing is not None:
            tensors |= {"weight_facing": self.weight_facing, "bias_facing": self.bias_facing}
        config = {
            "kind": "readout",
            "class": type(self).__name__,
            "layer": self.layer,
            "alpha": self.alpha,
            "scale": self.scale,
            "facings": list(FACINGS),
            "provenance": self.provenance,
        }
        write_artifact(path, config, tensors)

    @classmethod
    def load(cls, path: str | Path) -> LinearReadout:
        """Load what :meth:`save` wrote."""
        config, tensors = read_artifact(path)
        if config.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {config.get('class')!r}, expected {cls.__name__!r}")
        return cls(
            layer=int(config["layer"]),
            alpha=float(config["alpha"]),
            mean=tensors["mean"],
            scale=float(config["scale"]),
            weight_pos=tensors["weight_pos"],
            bias_pos=tensors["bias_pos"],
            weight_facing=tensors.get("weight_facing"),
            bias_facing=tensors.get("bias_facing"),
            provenance=dict(config.get("provenance", {})),
        )


@dataclass(frozen=True)
class ReadoutScores:
    """Held-out accuracy of the read-out at one layer (every row predicted by a read-out fitted without its scene).

    Attributes:
        layer: the block read.
        position_exact: fraction of rows whose rounded predicted cell equals the target cell.
        position_rmse: root-mean-square distance between predicted and target positions.
        facing_accuracy: fraction of oriented rows whose facing is predicted exactly (NaN if none).
        predictions: the held-out predicted positions ``[N, 2]``.
        facing_predictions: held-out predicted facings (``None`` for rows without a facing).
    """

    layer: int
    position_exact: float
    position_rmse: float
    facing_accuracy: float
    predictions: torch.Tensor
    facing_predictions: list[str | None]

    def to_dict(self) -> dict[str, float | int]:
        """The figures, without the per-row predictions."""
        return {
            "layer": self.layer,
            "position_exact": self.position_exact,
            "position_rmse": self.position_rmse,
            "facing_accuracy": self.facing_accuracy,
        }


def cross_fit_readouts(
    acts: Mapping[int, torch.Tensor],
    positions: Any,
    facings: Sequence[str | None],
    folds: Sequence[int],
    *,
    alpha: float = DEFAULT_ALPHA,
) -> dict[int, ReadoutScores]:
    """Per layer, predict every row with a read-out fitted on the other folds' scenes.

    Args:
        acts: ``{layer: [N, d]}`` activations.
        positions: target positions ``[N, 2]``.
        facings: target facings (``None`` for objects without one).
        folds: the fold of each row (from the scene), e.g. via ``scene_folds``.
        alpha: ridge strength.

    Returns:
        ``{layer: ReadoutScores}``.

    Raises:
        ValueError: with fewer than two folds.
    """
    y = torch.as_tensor(positions, dtype=torch.float64)
    fold_t = torch.as_tensor(list(folds))
    ids = sorted(set(fold_t.tolist()))
    if len(ids) < 2:
        raise ValueError(f"expected rows from at least 2 folds, got {ids}")
    out: dict[int, ReadoutScores] = {}
    for layer, x in acts.items():
        pred = torch.zeros_like(y)
        face: list[str | None] = [None] * len(facings)
        for f in ids:
            test = (fold_t == f).nonzero().flatten()
            train = (fold_t != f).nonzero().flatten()
            r = LinearReadout(layer=layer, alpha=alpha).fit(x[train], y[train], [facings[i] for i in train.tolist()])
            pred[test] = r.predict_position(x[test])
            oriented = [i for i in test.tolist() if facings[i] is not None]
            if oriented and r.weight_facing is not None:
                for i, value in zip(oriented, r.predict_facing(x[oriented]), strict=True):
                    face[i] = value
        oriented_rows = [i for i, f in enumerate(facings) if f is not None]
        out[layer] = ReadoutScores(
            layer=layer,
            position_exact=float((pred.round() == y).all(1).double().mean()),
            position_rmse=float((pred - y).norm(dim=1).pow(2).mean().sqrt()),
            facing_accuracy=(
                sum(face[i] == facings[i] for i in oriented_rows) / len(oriented_rows) if oriented_rows else math.nan
            ),
            predictions=pred,
            facing_predictions=face,
        )
    return out


def encoded_state(predicted: torch.Tensor, old: torch.Tensor, new: torch.Tensor, *, margin: float = 0.0) -> list[str]:
    """For each row, whether the read-out is nearer the ``"new"`` or the ``"old"`` position.

    Rows whose two distances differ by at most ``margin`` are ``"neither"``.
    """
    d_new = (predicted - new).norm(dim=1)
    d_old = (predicted - old).norm(dim=1)
    return [
        "new" if a + margin < b else "old" if b + margin < a else "neither" for a, b in zip(d_new, d_old, strict=True)
    ]
