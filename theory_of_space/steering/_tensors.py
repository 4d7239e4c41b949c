"""Input validation and small tensor helpers shared by barriers and steerers."""

from __future__ import annotations

from typing import Any, Literal

import torch

DTypeName = Literal["float32", "float64"]

_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}
NORM_EPS = 1e-12  # guards x / ||x|| at the origin


def dtype_from_name(name: str, field: str = "compute_dtype") -> torch.dtype:
    """Map ``"float32"``/``"float64"`` to a torch dtype, naming ``field`` on error."""
    if name not in _DTYPES:
        raise ValueError(f"expected 'float32' or 'float64' for `{field}`, got {name!r}")
    return _DTYPES[name]


def as_matrix(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` (torch tensor or numpy array) as a finite 2-D floating tensor.

    Integer or boolean input is rejected rather than silently cast, because it almost always
    means token ids were passed where activations were expected.
    """
    if not isinstance(x, torch.Tensor):
        try:
            import numpy as np
        except ImportError as exc:  # pragma: no cover - numpy ships with torch
            raise TypeError(f"expected a torch.Tensor for `{name}`, got {type(x).__name__}") from exc
        if not isinstance(x, np.ndarray):
            raise TypeError(f"expected a torch.Tensor or numpy array for `{name}`, got {type(x).__name__}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not x.is_floating_point():
        raise ValueError(f"expected floating-point activations for `{name}`, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array [N, d] for `{name}`, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"`{name}` contains non-finite values (NaN or inf)")
    return x


def check_classes(pos: Any, neg: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a positive/negative pair of activation matrices.

    Raises:
        ValueError: on non-2-D input, unequal widths, fewer than 2 rows per class or
            non-finite values.
    """
    p = as_matrix(pos, "pos")
    n = as_matrix(neg, "neg")
    if p.shape[1] != n.shape[1]:
        raise ValueError(f"`pos` and `neg` must have the same width d, got {p.shape[1]} and {n.shape[1]}")
    for name, a in (("pos", p), ("neg", n)):
        if a.shape[0] < 2:
            raise ValueError(f"expected at least 2 rows in `{name}`, got {a.shape[0]}")
    return p, n


def check_width(x: torch.Tensor, d: int, name: str = "x") -> None:
    """Raise unless ``x`` is a floating tensor whose last dimension is ``d``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor for `{name}`, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != d:
        raise ValueError(f"expected `{name}` with last dimension {d}, got shape {tuple(x.shape)}")


def median_norm(*xs: torch.Tensor) -> float:
    """Median Euclidean row norm over the given matrices."""
    norms = torch.cat([x.double().norm(dim=-1) for x in xs])
    return float(norms.median())


def tangent_vjp(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Pull a gradient ``g`` with respect to ``x / (||x|| + eps)`` back to ``x``.

    The exact Jacobian of ``x / (r + eps)`` is ``I / (r + eps) - x x^T / (r (r + eps)^2)``; it is
    symmetric, so the vector-Jacobian product is the Jacobian applied to ``g``. For ``eps -> 0``
    this is the tangent projection ``(I - x̂ x̂^T) g / r``.
    """
    r = x.norm(dim=-1, keepdim=True)  # [..., 1]
    re = r + NORM_EPS
    radial = (x * g).sum(-1, keepdim=True) / (r.clamp_min(torch.finfo(x.dtype).tiny) * re)
    return (g - x * radial) / re
