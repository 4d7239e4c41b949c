"""End to end on synthetic data that no linear direction separates: two concentric shells."""

from __future__ import annotations

import torch

from theory_of_space.steering import CAA, ODESteer, SketchBarrier

from .helpers import shells

R_POS, R_NEG, WIDTH, D = 2.0, 4.0, 0.5, 16


def _in_positive_class(x: torch.Tensor) -> torch.Tensor:
    """The Bayes rule of the two shells: nearer the positive radius."""
    return x.double().norm(dim=-1) < (R_POS + R_NEG) / 2


def test_odesteer_moves_held_out_negatives_into_positive_class_more_often_than_caa():
    g = torch.Generator().manual_seed(0)
    pos = shells(1500, D, R_POS, WIDTH, g).float()
    neg = shells(1500, D, R_NEG, WIDTH, g).float()
    held_out = shells(500, D, R_NEG, WIDTH, g).float()
    # The shells differ only in radius, so the barrier must see raw activations, not directions.
    ode = ODESteer(SketchBarrier(n_components=2000, normalize=False), T=R_NEG - R_POS, steps=10).fit(pos, neg)
    caa = CAA().fit(pos, neg)
    distance = ode.displacement()
    caa_T = distance / caa.displacement(1.0)  # same travelled distance
    assert caa.displacement(caa_T) == distance
    ode_rate = float(_in_positive_class(ode.steer(held_out)).double().mean())
    caa_rate = float(_in_positive_class(caa.steer(held_out, T=caa_T)).double().mean())
    print(f"\nconcentric shells, distance {distance}: ODESteer {ode_rate:.3f}, CAA {caa_rate:.3f}")
    assert float(_in_positive_class(held_out).double().mean()) == 0.0
    assert ode_rate >= 0.9
    assert ode_rate > caa_rate + 0.5
    # The barrier itself agrees: h rises along every held-out trajectory.
    h = ode.h_trajectory(held_out)
    assert bool((h[-1] > h[0]).all())
