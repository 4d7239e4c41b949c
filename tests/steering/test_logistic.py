"""Logistic regression: the stationarity conditions of the objective, intercept unpenalised."""

from __future__ import annotations

import torch

from theory_of_space.steering import fit_logistic

F64 = torch.float64


def _shifted_data(n: int = 80, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features far from the origin and imbalanced labels, so the intercept is large (about -3)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g, dtype=F64) + torch.tensor([4.0, -2.0, 1.0], dtype=F64)
    logit = 1.5 * (z[:, 0] - 4.0) - 1.0
    y = (torch.rand(n, generator=g, dtype=F64) < torch.sigmoid(logit)).to(F64)
    return z, y


def test_intercept_is_not_penalised():
    # The derivative of J/N in b is mean(sigmoid(z·w + b) - y); with b unpenalised it is zero, so
    # the mean predicted probability equals the positive rate exactly. A penalty b²/(2CN) would
    # shift it by b/(CN), about 0.04 here.
    z, y = _shifted_data()
    fit = fit_logistic(z, y, C=1.0)
    p = torch.sigmoid(z @ fit.w + fit.b)
    assert abs(float(p.mean() - y.mean())) <= 1e-6
    assert float(fit.b) < -1.0  # the test is only meaningful with a sizeable intercept


def test_weights_satisfy_the_penalised_stationarity_condition():
    # The derivative of J/N in w is z^T (p - y) / N + w / (C N) = 0.
    z, y = _shifted_data(seed=1)
    for C in (0.1, 1.0):
        fit = fit_logistic(z, y, C=C)
        p = torch.sigmoid(z @ fit.w + fit.b)
        grad_w = z.T @ (p - y) / z.shape[0] + fit.w / (C * z.shape[0])
        assert float(grad_w.abs().max()) <= 1e-6
        assert fit.diagnostics.converged
