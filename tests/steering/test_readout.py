"""Linear read-outs: recovery of a linearly encoded state, scene cross-fitting, persistence."""

from __future__ import annotations

import re

import pytest
import torch

from theory_of_space.steering.readout import LinearReadout, cross_fit_readouts, encoded_state

FACINGS = ["north", "east", "south", "west"]


def _data(n: int = 200, d: int = 24, seed: int = 0):
    """Activations with a large shared mean, a position written along two directions, a facing along four."""
    g = torch.Generator().manual_seed(seed)
    pos = torch.randint(-4, 5, (n, 2), generator=g).double()
    facing = [FACINGS[i] for i in torch.randint(0, 4, (n,), generator=g).tolist()]
    basis = torch.linalg.qr(torch.randn(d, 6, generator=g, dtype=torch.float64))[0].T  # [6, d]
    onehot = torch.zeros(n, 4, dtype=torch.float64)
    onehot[torch.arange(n), torch.tensor([FACINGS.index(f) for f in facing])] = 1.0
    noise = 0.05 * torch.randn(n, d, generator=g, dtype=torch.float64)
    acts = 50.0 + pos @ basis[:2] + 2.0 * onehot @ basis[2:] + noise
    return acts.float(), pos, facing


def test_cross_fitted_readout_recovers_position_and_facing_only_where_encoded():
    acts, pos, facing = _data()
    folds = [i % 2 for i in range(len(facing))]
    shuffled = acts[torch.randperm(len(acts), generator=torch.Generator().manual_seed(1))]
    scores = cross_fit_readouts({3: acts, 5: shuffled}, pos, facing, folds, alpha=1e-3)
    assert scores[3].position_exact >= 0.98 and scores[3].position_rmse < 0.3
    assert scores[3].facing_accuracy >= 0.98
    assert scores[5].position_exact < 0.2 and scores[5].facing_accuracy < 0.5  # no information there
    assert scores[3].to_dict()["layer"] == 3


def test_readout_save_load_and_errors(tmp_path):
    acts, pos, facing = _data(80)
    r = LinearReadout(layer=2, alpha=1e-2).fit(acts, pos, facing)
    r.provenance = {"scenes": ["a"]}
    r.save(tmp_path / "ro")
    back = LinearReadout.load(tmp_path / "ro")
    torch.testing.assert_close(back.predict_position(acts), r.predict_position(acts), rtol=0, atol=0)
    assert back.predict_facing(acts) == r.predict_facing(acts) and back.provenance == {"scenes": ["a"]}
    with pytest.raises(ValueError, match=re.escape("expected `positions` of shape (80, 2)")):
        LinearReadout(layer=0).fit(acts, pos[:5])
    with pytest.raises(RuntimeError, match="not fitted"):
        LinearReadout(layer=0).predict_position(acts)
    with pytest.raises(RuntimeError, match="without facings"):
        LinearReadout(layer=0).fit(acts, pos).predict_facing(acts)


def test_encoded_state_says_which_position_the_readout_is_nearer():
    pred = torch.tensor([[3.9, 1.0], [0.1, 0.0], [2.0, 0.5]], dtype=torch.float64)
    old = torch.zeros(3, 2, dtype=torch.float64)
    new = torch.tensor([[4.0, 1.0], [4.0, 1.0], [4.0, 1.0]], dtype=torch.float64)
    assert encoded_state(pred, old, new, margin=0.1) == ["new", "old", "neither"]
