"""Synthetic data with known log density ratios, shared by the steering tests."""

from __future__ import annotations

import math

import torch


def gaussians(
    n_pos: int, n_neg: int, mu_pos: torch.Tensor, mu_neg: torch.Tensor, sd_pos: float, sd_neg: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Isotropic Gaussian classes in float64."""
    g = torch.Generator().manual_seed(seed)
    d = mu_pos.shape[0]
    pos = mu_pos + sd_pos * torch.randn(n_pos, d, generator=g, dtype=torch.float64)
    neg = mu_neg + sd_neg * torch.randn(n_neg, d, generator=g, dtype=torch.float64)
    return pos, neg


def vmf(n: int, mean: torch.Tensor, kappa: float, g: torch.Generator) -> torch.Tensor:
    """Von Mises-Fisher directions by Wood's (1994) rejection sampler, float64 ``[n, d]``."""
    d = mean.shape[0]
    b = (-2 * kappa + math.sqrt(4 * kappa**2 + (d - 1) ** 2)) / (d - 1)
    x0 = (1 - b) / (1 + b)
    c = kappa * x0 + (d - 1) * math.log(1 - x0**2)
    ws: list[torch.Tensor] = []
    accepted = 0
    for _ in range(100):  # bounded: the acceptance rate is far above 1/100
        z = _beta(n, (d - 1) / 2, g)
        w = (1 - (1 + b) * z) / (1 - (1 - b) * z)
        u = torch.rand(n, generator=g, dtype=torch.float64)
        ok = kappa * w + (d - 1) * torch.log(1 - x0 * w) - c >= torch.log(u)
        ws.append(w[ok])
        accepted += int(ok.sum())
        if accepted >= n:
            break
    else:
        raise RuntimeError("Wood's sampler did not accept enough draws in 100 rounds")
    w = torch.cat(ws)[:n].unsqueeze(1)  # [n, 1]
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    v = v - (v @ mean).unsqueeze(1) * mean
    v = v / v.norm(dim=1, keepdim=True)
    return w * mean + torch.sqrt(1 - w**2) * v


def _beta(n: int, a: float, g: torch.Generator) -> torch.Tensor:
    """Symmetric Beta(a, a) draws from two Gamma draws made with the seeded generator."""
    x = torch._standard_gamma(torch.full((n,), a, dtype=torch.float64), generator=g)
    y = torch._standard_gamma(torch.full((n,), a, dtype=torch.float64), generator=g)
    return x / (x + y)


def shells(n: int, d: int, radius: float, width: float, g: torch.Generator) -> torch.Tensor:
    """Uniform directions with radii uniform in ``radius ± width``, float64 ``[n, d]``."""
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    r = radius + width * (2 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 1)
    return v * r


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def assert_close_to_scale(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    """Max-abs difference at most ``tol`` times the largest magnitude of ``b``.

    The tiny random models have residual streams with norms near 100, where float32 round-off
    alone exceeds a fixed absolute tolerance of 1e-5.
    """
    err = float((a - b).abs().max())
    assert err <= tol * float(b.abs().max()), f"max difference {err:.3g} exceeds {tol:g} x scale"
