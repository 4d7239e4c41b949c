"""Steerers: reductions between methods, solvers, RepE's sign, the steer contract."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.steering import (
    CAA,
    ITI,
    GaussianBarrier,
    LinearBarrier,
    ODESteer,
    RepE,
    SketchBarrier,
    StepODESteer,
)

from .helpers import gaussians

F64 = torch.float64


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    mu = torch.zeros(8, dtype=F64)
    mu[0] = 1.5
    return gaussians(300, 200, mu, -mu, 1.0, 1.0, 0)


@pytest.fixture(scope="module")
def sketch(data) -> SketchBarrier:
    return SketchBarrier(n_components=512, compute_dtype="float64").fit(*data)


def test_gaussian_one_step_moves_along_unit_mean_difference(data):
    pos, neg = data
    x = torch.randn(5, 8, dtype=F64)
    out = ODESteer(GaussianBarrier(compute_dtype="float64"), T=2.0, steps=1).fit(pos, neg).steer(x)
    diff = pos.mean(0) - neg.mean(0)
    torch.testing.assert_close(out, x + 2.0 * diff / diff.norm())
    caa = CAA(T=2.0 / float(diff.norm())).fit(pos, neg)
    torch.testing.assert_close(out, caa.steer(x))


def test_unit_variance_unnormalised_gaussian_equals_caa(data):
    pos, neg = data
    x = torch.randn(5, 8, dtype=F64)
    ode = ODESteer(GaussianBarrier(variance=1.0, compute_dtype="float64"), T=1.0, steps=1, normalize_field=False)
    torch.testing.assert_close(ode.fit(pos, neg).steer(x), CAA(T=1.0).fit(pos, neg).steer(x))
    torch.testing.assert_close(CAA(T=1.0).fit(pos, neg).steer(x), x + (pos.mean(0) - neg.mean(0)))


@pytest.mark.parametrize("steps", [1, 7])
def test_iti_equals_odesteer_with_linear_barrier(data, steps: int):
    pos, neg = data
    x = torch.randn(5, 8, dtype=F64)
    iti = ITI(T=1.5, compute_dtype="float64").fit(pos, neg)
    ode = ODESteer(LinearBarrier(compute_dtype="float64"), T=1.5, steps=steps).fit(pos, neg)
    torch.testing.assert_close(iti.steer(x), ode.steer(x))
    assert iti.displacement() == pytest.approx(1.5)


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4"])
def test_constant_field_multi_step_equals_one_step(data, solver: str):
    pos, neg = data
    x = torch.randn(6, 8, dtype=F64) * 3
    for barrier in (LinearBarrier(compute_dtype="float64"), GaussianBarrier(compute_dtype="float64")):
        barrier.fit(pos, neg)
        many = ODESteer(barrier, T=2.0, steps=12, solver=solver).steer(x)
        one = ODESteer(barrier, T=2.0, steps=1, solver=solver).steer(x)
        torch.testing.assert_close(many, one, rtol=0, atol=1e-6)
    turning = LinearBarrier(normalize=True, compute_dtype="float64").fit(pos, neg)
    many = ODESteer(turning, T=4.0, steps=12, solver=solver).steer(x)
    one = ODESteer(turning, T=4.0, steps=1, solver=solver).steer(x)
    assert float((many - one).abs().max()) > 1e-4  # RK4's single step is already close


def test_step_odesteer_equals_one_euler_step(sketch):
    x = torch.randn(4, 8, dtype=F64)
    step = StepODESteer(sketch, T=0.7).steer(x)
    torch.testing.assert_close(step, ODESteer(sketch, T=0.7, steps=1, solver="euler").steer(x), rtol=0, atol=0)
    torch.testing.assert_close(step, x + 0.7 * ODESteer(sketch).vector_field(x))


@pytest.mark.parametrize("seed", range(20))
def test_repe_positives_project_higher(seed: int):
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randn(40, 6, generator=g)
    axis = torch.randn(6, generator=g)
    pos = prompts + axis * (1 + 0.3 * torch.rand(40, 1, generator=g))
    neg = prompts - axis * (1 + 0.3 * torch.rand(40, 1, generator=g))
    perm = torch.randperm(40, generator=g)  # shuffled pair order, pairs kept
    repe = RepE(T=1.0).fit(pos[perm], neg[perm])
    u = repe.direction.float()
    assert float((pos @ u).mean()) > float((neg @ u).mean())
    assert abs(float(torch.nn.functional.cosine_similarity(u, axis, dim=0))) > 0.9


def test_repe_finds_the_paired_shift_in_high_dimension():
    # Pairs share a prompt-specific base; the positive adds a fixed shift along `axis`, and each
    # side carries its own isotropic noise. Same-order differences are shift + noise, so
    # centring them leaves only noise; random-order differences keep the shift as variance.
    g = torch.Generator().manual_seed(3)
    d, n = 256, 400
    axis = torch.randn(d, generator=g, dtype=F64)
    axis = axis / axis.norm()
    base = 4.0 * torch.randn(n, d, generator=g, dtype=F64)
    pos = base + 5.0 * axis + torch.randn(n, d, generator=g, dtype=F64)
    neg = base + torch.randn(n, d, generator=g, dtype=F64)
    caa = CAA().fit(pos, neg).direction
    assert abs(float(torch.nn.functional.cosine_similarity(caa, axis, dim=0))) >= 0.95
    for seed in range(3):
        u = RepE(seed=seed).fit(pos, neg).direction
        assert float(torch.nn.functional.cosine_similarity(u, axis, dim=0)) >= 0.95  # sign fixed too
    again = RepE(seed=1).fit(pos, neg).direction
    assert torch.equal(again, RepE(seed=1).fit(pos, neg).direction)


def test_repe_truncates_unequal_counts_with_warning():
    g = torch.Generator().manual_seed(0)
    with pytest.warns(UserWarning, match=re.escape("truncating `pos` (12) and `neg` (10) to 10")):
        RepE().fit(torch.randn(12, 4, generator=g) + 1, torch.randn(10, 4, generator=g))


def test_euler_with_many_steps_approaches_rk4(sketch):
    x = torch.randn(8, 8, dtype=F64) * 2
    rk4 = ODESteer(sketch, T=2.0, steps=20, solver="rk4").steer(x)
    err_10 = (ODESteer(sketch, T=2.0, steps=10).steer(x) - rk4).norm()
    err_400 = (ODESteer(sketch, T=2.0, steps=400).steer(x) - rk4).norm()
    mid = (ODESteer(sketch, T=2.0, steps=10, solver="midpoint").steer(x) - rk4).norm()
    assert float(err_400) < float(err_10) / 10
    assert float(mid) < float(err_10)


def _great_circle(x: torch.Tensor, w: torch.Tensor, T: float) -> torch.Tensor:
    """Exact flow of the unit field of ``h = w·x/||x||``: the norm is kept and ``x`` turns towards ``w``.

    The field is the unit tangent towards ``w``, so ``x`` moves along the great circle through
    ``x`` and ``w`` at angular speed ``1/||x||`` (valid until it reaches ``w``).
    """
    r = x.norm(dim=-1, keepdim=True)
    xh = x / r
    perp = w - (xh @ w).unsqueeze(-1) * xh
    perp = perp / perp.norm(dim=-1, keepdim=True)
    phi = T / r
    return r * (torch.cos(phi) * xh + torch.sin(phi) * perp)


@pytest.mark.parametrize("solver, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_solvers_converge_at_their_order_on_an_exact_flow(data, solver: str, order: int):
    pos, neg = data
    barrier = LinearBarrier(normalize=True, compute_dtype="float64").fit(pos, neg)
    w = barrier.state_dict()["w"].double()
    g = torch.Generator().manual_seed(4)
    x = -2.0 * w / w.norm() + 0.5 * torch.randn(5, 8, generator=g, dtype=F64)  # far from w: no overshoot
    T = 1.0
    exact = _great_circle(x, w, T)
    errors = [float((ODESteer(barrier, T=T, steps=k, solver=solver).steer(x) - exact).norm()) for k in (8, 16)]
    ratio = errors[0] / errors[1]  # halving the step divides the error by 2**order
    assert 2**order * 0.7 <= ratio <= 2**order * 1.4, (solver, errors, ratio)


@pytest.mark.parametrize("make", [lambda b: ODESteer(b), lambda b: StepODESteer(b)])
def test_zero_strength_is_identity_and_negative_lowers_h(sketch, make):
    steerer = make(sketch)
    x = torch.randn(16, 8, dtype=F64)
    assert torch.equal(steerer.steer(x, T=0.0), x)
    assert bool((sketch.value(steerer.steer(x, T=-0.5)) < sketch.value(x)).all())
    assert bool((sketch.value(steerer.steer(x, T=0.5)) > sketch.value(x)).all())


def _fitted_steerers(pos: torch.Tensor, neg: torch.Tensor):
    barrier = SketchBarrier(n_components=256).fit(pos, neg)
    return [
        ODESteer(barrier, T=0.8, steps=4),
        ODESteer(barrier, T=0.8, steps=3, solver="rk4"),
        StepODESteer(barrier, T=0.8),
        CAA(T=0.8).fit(pos, neg),
        ITI(T=0.8).fit(pos, neg),
        RepE(T=0.8).fit(pos, neg),
    ]


@pytest.fixture(scope="module")
def steerers(data):
    pos, neg = data
    return _fitted_steerers(pos.float(), neg.float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_steer_keeps_shape_dtype_and_input(steerers, dtype):
    x = torch.randn(2, 3, 8).to(dtype)
    before = x.clone()
    for s in steerers:
        out = s.steer(x)
        assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
        assert torch.equal(x, before)
        assert not torch.equal(out, x)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 6), seed=st.integers(0, 10_000), T=st.floats(-3, 3))
def test_rows_are_steered_independently(steerers, rows: int, seed: int, T: float):
    x = torch.randn(rows, 8, generator=torch.Generator().manual_seed(seed))
    for s in steerers:
        batch = s.steer(x, T=T)
        for i in range(rows):
            torch.testing.assert_close(batch[i : i + 1], s.steer(x[i : i + 1], T=T), rtol=1e-5, atol=1e-5)


def test_displacement_puts_methods_on_one_scale(data, steerers):
    pos, neg = data
    ode, caa = steerers[0], steerers[3]
    assert ode.displacement() == pytest.approx(0.8)
    assert ode.displacement(-2.0) == pytest.approx(2.0)
    assert caa.displacement() == pytest.approx(0.8 * float((pos.mean(0) - neg.mean(0)).norm()))
    x = torch.randn(5, 8)
    for s in steerers:
        moved = (s.steer(x) - x).norm(dim=-1)
        expected = s.displacement()
        # Unit fields travel T along a curve, so the chord is at most T.
        assert bool((moved <= expected * (1 + 1e-4)).all())
        if not isinstance(s, ODESteer) or s.steps == 1:
            torch.testing.assert_close(moved, torch.full_like(moved, expected), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="normalize_field=False"):
        ODESteer(GaussianBarrier(), normalize_field=False).displacement()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "expected a positive integer for `steps`, got 0"),
        ({"solver": "heun"}, "expected one of ('euler', 'midpoint', 'rk4') for `solver`, got 'heun'"),
        ({"T": math.inf}, "expected a finite real number for `T`, got inf"),
    ],
)
def test_odesteer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ODESteer(GaussianBarrier(), **kwargs)


def test_steer_rejects_wrong_width_and_unfitted(steerers):
    for s in steerers:
        with pytest.raises(ValueError, match=re.escape("expected `x` with last dimension 8")):
            s.steer(torch.zeros(2, 5))
    with pytest.raises(RuntimeError, match="not fitted"):
        CAA().steer(torch.zeros(2, 5))
    with pytest.raises(TypeError, match="expected a Barrier for `barrier`"):
        ODESteer("sketch")  # type: ignore[arg-type]
