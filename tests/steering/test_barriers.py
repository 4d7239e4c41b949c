"""Barriers: closed-form oracles, geometry of the sketch barrier, gradients and validation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.steering import (
    GaussianBarrier,
    LinearBarrier,
    ODESteer,
    RFFBarrier,
    SketchBarrier,
)
from theory_of_space.steering.features import CountSketch

from .helpers import cosine, gaussians, vmf

F64 = torch.float64


def _tied(d: int = 16, n_pos: int = 4000, n_neg: int = 4000, seed: int = 0):
    mu_p = torch.zeros(d, dtype=F64)
    mu_p[0] = 1.0
    mu_n = torch.zeros(d, dtype=F64)
    mu_n[1] = 1.0
    return gaussians(n_pos, n_neg, mu_p, mu_n, 1.0, 1.0, seed), mu_p - mu_n


@pytest.fixture(scope="module")
def sketch64() -> SketchBarrier:
    """A float64 sketch barrier fitted on two vMF classes with random radii."""
    g = torch.Generator().manual_seed(0)
    d = 16
    pos = vmf(600, _unit(d, 0), 8.0, g) * (0.5 + 2 * torch.rand(600, 1, generator=g, dtype=F64))
    neg = vmf(600, _unit(d, 1), 8.0, g) * (0.5 + 2 * torch.rand(600, 1, generator=g, dtype=F64))
    return SketchBarrier(n_components=1024, compute_dtype="float64").fit(pos, neg)


def _unit(d: int, i: int) -> torch.Tensor:
    e = torch.zeros(d, dtype=F64)
    e[i] = 1.0
    return e


# --- A1: tied Gaussians -------------------------------------------------------------------------


def test_tied_gaussians_linear_direction_matches_mean_difference():
    (pos, neg), diff = _tied()
    lin = LinearBarrier(compute_dtype="float64").fit(pos, neg)
    w = lin.state_dict()["w"].double()
    assert float(cosine(w, diff)) >= 0.99


def test_gaussian_barrier_gives_sample_mean_difference_exactly():
    (pos, neg), _ = _tied(n_pos=300, n_neg=200)
    gb = GaussianBarrier(variance=1.0, compute_dtype="float64").fit(pos, neg)
    expected = pos.mean(0) - neg.mean(0)
    torch.testing.assert_close(gb.grad(torch.zeros(3, 16, dtype=F64)), expected.expand(3, 16), rtol=0, atol=1e-15)


def test_gaussian_pooled_variance_matches_formula():
    (pos, neg), _ = _tied(n_pos=300, n_neg=200)
    gb = GaussianBarrier(compute_dtype="float64").fit(pos, neg)
    ss = ((pos - pos.mean(0)) ** 2).sum() + ((neg - neg.mean(0)) ** 2).sum()
    var = ss / ((300 + 200 - 2) * 16)
    torch.testing.assert_close(gb.state_dict()["var_pos"], var)
    assert math.isnan(gb.prior)


def test_untied_gaussian_is_exact_log_ratio():
    z = torch.zeros(4, dtype=F64)
    pos, neg = gaussians(5000, 5000, z + 0.5, z, 1.0, 2.0, 1)
    gb = GaussianBarrier(tied=False, compute_dtype="float64").fit(pos, neg)
    x = torch.randn(50, 4, dtype=F64)
    p = torch.distributions.Normal(pos.mean(0), gb.state_dict()["var_pos"].sqrt()).log_prob(x).sum(-1)
    q = torch.distributions.Normal(neg.mean(0), gb.state_dict()["var_neg"].sqrt()).log_prob(x).sum(-1)
    torch.testing.assert_close(gb.value(x), p - q)


# --- A4 and A5: closed-form oracles for the kernel barrier ----------------------------------------


def test_quadratic_case_recovers_true_gradient_and_h_rises():
    d, sp, sn = 8, 1.0, 2.0
    z = torch.zeros(d, dtype=F64)
    pos, neg = gaussians(2000, 2000, z, z, sp, sn, 0)
    barrier = SketchBarrier(n_components=2000, normalize=False, compute_dtype="float64").fit(pos, neg)
    test_pos, test_neg = gaussians(200, 200, z, z, sp, sn, 1)
    x = torch.cat([test_pos, test_neg])
    true_grad = x * (1 / sn**2 - 1 / sp**2)
    assert float(cosine(barrier.grad(x), true_grad).median()) >= 0.9

    def true_h(a: torch.Tensor) -> torch.Tensor:
        return (a**2).sum(-1) * (1 / (2 * sn**2) - 1 / (2 * sp**2)) - d * math.log(sp / sn)

    h = true_h(ODESteer(barrier, T=1.0, steps=10).trajectory(test_neg))  # [K+1, N]
    mean_h = h.mean(1)
    assert bool((mean_h[1:] > mean_h[:-1]).all()), mean_h
    assert bool((h[-1] > h[0]).all())


def test_sphere_data_normalised_sketch_matches_vmf_gradient():
    g = torch.Generator().manual_seed(0)
    d, kappa = 16, 8.0
    mp, mn = _unit(d, 0), _unit(d, 1)
    pos = vmf(2000, mp, kappa, g) * (0.5 + 2 * torch.rand(2000, 1, generator=g, dtype=F64))
    neg = vmf(2000, mn, kappa, g) * (0.5 + 2 * torch.rand(2000, 1, generator=g, dtype=F64))
    barrier = SketchBarrier(n_components=2000, compute_dtype="float64").fit(pos, neg)
    x = torch.cat([vmf(200, mp, kappa, g), vmf(200, mn, kappa, g)]) * 3.0
    xh = x / x.norm(dim=1, keepdim=True)
    true_grad = kappa * ((mp - mn) - xh * (xh @ (mp - mn)).unsqueeze(1)) / x.norm(dim=1, keepdim=True)
    cos = cosine(barrier.grad(x), true_grad)
    assert float(cos.median()) >= 0.99
    assert float(cos.quantile(0.05)) >= 0.98


# --- A6 and A7: invariants and monotonicity --------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_sketch_gradient_is_orthogonal_to_x(dtype: str, tol: float):
    g = torch.Generator().manual_seed(1)
    pos = torch.randn(100, 12, generator=g) + 1
    neg = torch.randn(100, 12, generator=g) - 1
    barrier = SketchBarrier(n_components=512, compute_dtype=dtype).fit(pos, neg)
    x = torch.randn(64, 12, generator=g, dtype=F64) * 5
    assert float(cosine(barrier.grad(x).double(), x).abs().max()) < tol


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(min_value=1e-2, max_value=1e3), seed=st.integers(0, 1000))
def test_sketch_value_is_scale_invariant(sketch64: SketchBarrier, scale: float, seed: int):
    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(seed), dtype=F64)
    # Exact up to the 1e-12 guard in x / (||x|| + eps), which matters only for tiny ||x||.
    torch.testing.assert_close(sketch64.value(scale * x), sketch64.value(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("T, K", [(1.0, 10), (2.5, 5), (0.3, 1)])
def test_euler_adds_t_squared_over_k_to_squared_norm(sketch64: SketchBarrier, T: float, K: int):
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(2), dtype=F64)
    out = ODESteer(sketch64, T=T, steps=K).steer(x)
    growth = (out**2).sum(-1) - (x**2).sum(-1)
    torch.testing.assert_close(growth, torch.full_like(growth, T**2 / K), rtol=1e-9, atol=0)


def test_euler_norm_identity_in_float32():
    g = torch.Generator().manual_seed(3)
    barrier = SketchBarrier(n_components=512).fit(
        torch.randn(64, 16, generator=g) + 1, torch.randn(64, 16, generator=g)
    )
    x = torch.randn(32, 16, generator=g)
    out = ODESteer(barrier, T=1.0, steps=10).steer(x)
    growth = (out.double() ** 2).sum(-1) - (x.double() ** 2).sum(-1)
    assert float(((growth - 0.1) / (x.double() ** 2).sum(-1)).abs().max()) < 1e-4


def test_h_rises_at_every_small_step(sketch64: SketchBarrier):
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(4), dtype=F64)
    h = ODESteer(sketch64, T=0.5, steps=50).h_trajectory(x)  # [K+1, N]
    assert bool((h[1:] >= h[:-1] - 1e-9).all())
    assert bool((h[-1] > h[0]).all())


# --- A8: kernel approximation -------------------------------------------------------------------


def test_count_sketch_approximates_polynomial_kernel():
    g = torch.Generator().manual_seed(5)
    d, n, gamma, c = 32, 4000, 0.1, 1.0
    x = torch.randn(200, d, generator=g, dtype=F64)
    y = torch.randn(200, d, generator=g, dtype=F64)
    xh, yh = x / x.norm(dim=1, keepdim=True), y / y.norm(dim=1, keepdim=True)

    def aug(a: torch.Tensor) -> torch.Tensor:
        return torch.cat([math.sqrt(gamma) * a, torch.full((a.shape[0], 1), math.sqrt(c), dtype=F64)], 1)

    exact = (gamma * (xh * yh).sum(1) + c) ** 2
    estimates = []
    for seed in range(10):
        sketch = CountSketch.draw(2, d + 1, n, torch.Generator().manual_seed(seed)).to(torch.device("cpu"), F64)
        estimates.append((sketch.features(aug(xh)) * sketch.features(aug(yh))).sum(1))
    errors = torch.stack([((e - exact).abs() / exact).median() for e in estimates])
    # A draw whose hash puts the constant coordinate in a bucket with a data coordinate is
    # about ten times worse than typical (a 1-2 % event at d=32), so judge the typical draw.
    assert float(errors.median()) <= 0.02
    assert float(errors[0]) <= 0.02  # the barrier's default seed
    unbiased = torch.stack(estimates).mean(0)
    assert float(((unbiased - exact).abs() / exact).median()) <= 0.01


# --- A9: gradients ----------------------------------------------------------------------------------


def _fit_all(pos: torch.Tensor, neg: torch.Tensor):
    return [
        SketchBarrier(n_components=256, compute_dtype="float64").fit(pos, neg),
        SketchBarrier(n_components=256, degree=3, coef0=0.5, compute_dtype="float64").fit(pos, neg),
        SketchBarrier(n_components=256, normalize=False, coef0=0.0, compute_dtype="float64").fit(pos, neg),
        RFFBarrier(n_components=256, compute_dtype="float64").fit(pos, neg),
        RFFBarrier(n_components=256, normalize=False, compute_dtype="float64").fit(pos, neg),
        LinearBarrier(compute_dtype="float64").fit(pos, neg),
        LinearBarrier(normalize=True, compute_dtype="float64").fit(pos, neg),
        GaussianBarrier(compute_dtype="float64").fit(pos, neg),
        GaussianBarrier(tied=False, compute_dtype="float64").fit(pos, neg),
    ]


@pytest.fixture(scope="module")
def all_barriers():
    g = torch.Generator().manual_seed(6)
    return _fit_all(torch.randn(80, 10, generator=g, dtype=F64) + 0.5, torch.randn(60, 10, generator=g, dtype=F64))


def test_grad_is_exact_gradient_of_value(all_barriers):
    x = torch.randn(3, 7, 10, generator=torch.Generator().manual_seed(7), dtype=F64)
    for barrier in all_barriers:
        leaf = x.clone().requires_grad_(True)
        with torch.enable_grad():
            # value() is a no-grad entry point, so differentiate its body.
            flat, bufs = barrier._inputs(leaf)
            (expected,) = torch.autograd.grad(barrier._value(flat, bufs).sum(), leaf)
        got = barrier.grad(x)
        assert got.shape == x.shape
        rel = float((got - expected).norm() / expected.norm())
        assert rel <= 1e-4, (type(barrier).__name__, rel)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_analytic_and_autograd_paths_agree_without_grad(mode: str):
    g = torch.Generator().manual_seed(8)
    pos, neg = torch.randn(60, 10, generator=g) + 0.5, torch.randn(60, 10, generator=g)
    analytic = SketchBarrier(n_components=300).fit(pos, neg)
    auto = SketchBarrier(n_components=300, grad="autograd").fit(pos, neg)
    x = torch.randn(12, 10, generator=g)
    ctx = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
    with ctx:
        x_in = x.clone()
        ga, gb = analytic.grad(x_in), auto.grad(x_in)
    assert not ga.requires_grad and not gb.requires_grad and gb.grad_fn is None
    assert float(cosine(ga.double(), gb.double()).min()) >= 1 - 1e-6


# --- A10: logistic regression -----------------------------------------------------------------------


def test_prior_correction_recovers_log_ratio_with_imbalanced_classes():
    (pos, neg), diff = _tied(d=4, n_pos=1000, n_neg=4000, seed=9)
    lin = LinearBarrier(compute_dtype="float64").fit(pos, neg)
    assert lin.prior == pytest.approx(0.2)
    mu_p, mu_n = diff.clamp(min=0), (-diff).clamp(min=0)
    x = torch.cat([pos, neg])
    true_h = ((x - 0.5 * (mu_p + mu_n)) @ diff).double()
    h = lin.value(x)
    assert abs(float((h - true_h).mean())) < 0.1
    # Without the correction the mean offset would be log(4) ≈ 1.39.
    assert abs(float((h - lin.log_prior_ratio - true_h).mean()) + math.log(4)) < 0.1


def test_separable_data_give_finite_weights():
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(10), dtype=F64)
    pos, neg = x[x[:, 0] > 0.2], x[x[:, 0] < -0.2]
    lin = LinearBarrier(compute_dtype="float64").fit(pos, neg)
    assert bool(torch.isfinite(lin.state_dict()["w"]).all())
    assert lin.fit_info is not None and lin.fit_info.logistic is not None
    assert lin.fit_info.logistic.train_accuracy == 1.0


# --- A12: determinism, validation -----------------------------------------------------------------


def test_same_seed_gives_bitwise_identical_barriers():
    g = torch.Generator().manual_seed(11)
    pos, neg = torch.randn(50, 6, generator=g) + 1, torch.randn(50, 6, generator=g)
    a = SketchBarrier(n_components=128, seed=3).fit(pos, neg).state_dict()
    b = SketchBarrier(n_components=128, seed=3).fit(pos, neg).state_dict()
    c = SketchBarrier(n_components=128, seed=4).fit(pos, neg).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["bucket"], c["bucket"])


def test_fit_accepts_numpy_of_any_float_dtype():
    rng = np.random.default_rng(0)
    pos = rng.normal(1, 1, (30, 5)).astype(np.float16)
    neg = rng.normal(-1, 1, (30, 5))
    barrier = SketchBarrier(n_components=64).fit(pos, neg)
    assert barrier.d == 5 and barrier.value(torch.zeros(2, 5)).dtype == torch.float32


@pytest.mark.parametrize(
    "pos, neg, message",
    [
        (torch.zeros(5), torch.zeros(5, 3), "expected a 2-D array [N, d] for `pos`, got shape (5,)"),
        (torch.zeros(5, 3), torch.zeros(5, 4), "`pos` and `neg` must have the same width d, got 3 and 4"),
        (torch.zeros(1, 3), torch.zeros(5, 3), "expected at least 2 rows in `pos`, got 1"),
        (torch.zeros(5, 3), torch.full((5, 3), float("nan")), "`neg` contains non-finite values"),
        (torch.zeros(5, 3, dtype=torch.long), torch.zeros(5, 3), "expected floating-point activations for `pos`"),
        ([[0.0]], torch.zeros(5, 3), "expected a torch.Tensor or numpy array for `pos`, got list"),
    ],
)
def test_fit_rejects_bad_input_naming_the_problem(pos, neg, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        GaussianBarrier().fit(pos, neg)


def test_value_rejects_wrong_width_and_unfitted_use(sketch64: SketchBarrier):
    with pytest.raises(ValueError, match=re.escape("expected `x` with last dimension 16, got shape (2, 3)")):
        sketch64.value(torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="not fitted"):
        SketchBarrier().grad(torch.zeros(2, 3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_components": 1}, "expected an integer >= 2 for `n_components`"),
        ({"degree": 0}, "expected a positive integer for `degree`"),
        ({"gamma": 0.0}, "expected a positive number for `gamma`"),
        ({"grad": "numeric"}, "expected 'analytic' or 'autograd' for `grad`"),
        ({"compute_dtype": "bfloat16"}, "expected 'float32' or 'float64' for `compute_dtype`"),
    ],
)
def test_sketch_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SketchBarrier(**kwargs)
