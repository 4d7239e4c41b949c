"""Random feature maps on data shaped like activations: a shared non-zero mean."""

from __future__ import annotations

import math

import torch

from theory_of_space.steering.features import CountSketch

F64 = torch.float64


def test_count_sketch_is_unbiased_on_data_with_a_shared_mean():
    # Real activations share a large mean direction. With random signs the hash collisions of a
    # count sketch cancel in expectation; with every sign +1 they add up along the shared mean
    # (zero-mean isotropic data would hide that, because the collisions cancel there anyway).
    g = torch.Generator().manual_seed(12)
    d, n, gamma, c = 64, 2000, 0.1, 1.0
    mean = 3.0 * torch.ones(d, dtype=F64)
    x = mean + torch.randn(200, d, generator=g, dtype=F64)
    y = mean + torch.randn(200, d, generator=g, dtype=F64)
    xh, yh = x / x.norm(dim=1, keepdim=True), y / y.norm(dim=1, keepdim=True)

    def aug(a: torch.Tensor) -> torch.Tensor:
        return torch.cat([math.sqrt(gamma) * a, torch.full((a.shape[0], 1), math.sqrt(c), dtype=F64)], 1)

    exact = (gamma * (xh * yh).sum(1) + c) ** 2
    estimates = []
    for seed in range(20):
        sketch = CountSketch.draw(2, d + 1, n, torch.Generator().manual_seed(seed)).to(torch.device("cpu"), F64)
        estimates.append((sketch.features(aug(xh)) * sketch.features(aug(yh))).sum(1))
    mean_estimate = torch.stack(estimates).mean(0)  # averaging draws leaves only the bias
    bias = float(((mean_estimate - exact) / exact).mean())
    assert abs(bias) <= 0.01, bias
