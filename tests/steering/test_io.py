"""Save and load every barrier and steerer."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from theory_of_space.steering import (
    CAA,
    ITI,
    GaussianBarrier,
    LinearBarrier,
    ODESteer,
    RepE,
    RFFBarrier,
    SketchBarrier,
    StepODESteer,
    load_barrier,
    load_steerer,
    save_barrier,
)
from theory_of_space.steering.io import CONFIG_FILE, FALLBACK_TENSORS_FILE, TENSORS_FILE


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(60, 12, generator=g) + 0.7, torch.randn(50, 12, generator=g) - 0.2


def _barriers():
    return [
        SketchBarrier(n_components=200, seed=7),
        SketchBarrier(n_components=200, degree=3, grad="autograd", compute_dtype="float64"),
        RFFBarrier(n_components=100),
        LinearBarrier(normalize=True),
        GaussianBarrier(tied=False),
        GaussianBarrier(variance=2.0),
    ]


def _steerers():
    return [
        ODESteer(SketchBarrier(n_components=200), T=1.3, steps=5, solver="midpoint"),
        ODESteer(RFFBarrier(n_components=100), T=0.4, steps=3, solver="rk4"),
        ODESteer(GaussianBarrier(variance=1.0), T=1.0, steps=1, normalize_field=False),
        StepODESteer(SketchBarrier(n_components=200), T=0.9),
        CAA(T=0.5),
        ITI(T=2.0),
        RepE(T=1.5),
    ]


@pytest.mark.parametrize("index", range(len(_barriers())))
def test_barrier_round_trip_is_bitwise(tmp_path: Path, data, index: int):
    barrier = _barriers()[index].fit(*data)
    save_barrier(barrier, tmp_path, provenance={"layer": 3})
    loaded = load_barrier(tmp_path)
    x = torch.randn(4, 12)
    assert type(loaded) is type(barrier)
    assert torch.equal(loaded.value(x), barrier.value(x))
    assert torch.equal(loaded.grad(x), barrier.grad(x))
    assert loaded.config() == barrier.config()
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["provenance"] == {"layer": 3}


@pytest.mark.parametrize("index", range(len(_steerers())))
def test_steerer_round_trip_is_bitwise(tmp_path: Path, data, index: int):
    steerer = _steerers()[index].fit(*data)
    steerer.provenance = {"model": "tiny", "layer": 1}
    steerer.save(tmp_path)
    loaded = load_steerer(tmp_path)
    assert type(loaded) is type(steerer)
    assert loaded.T == steerer.T and loaded.d == steerer.d
    assert loaded.provenance == steerer.provenance
    assert loaded.fit_info == steerer.fit_info
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(3, 2, 12).to(dtype)
        assert torch.equal(loaded.steer(x), steerer.steer(x))
        assert torch.equal(loaded.value(x), steerer.value(x))
    assert type(steerer).load(tmp_path).T == steerer.T
    # The fingerprint survives the round trip and changes with the strength or the fitted tensors.
    assert loaded.fingerprint() == steerer.fingerprint()
    other = _steerers()[index].fit(data[0] + 0.5, data[1])
    assert other.fingerprint() != steerer.fingerprint()
    loaded.T = steerer.T + 1.0
    assert loaded.fingerprint() != steerer.fingerprint()


def test_config_records_versions_prior_and_median_norm(tmp_path: Path, data):
    steerer = ODESteer(SketchBarrier(n_components=64)).fit(*data)
    steerer.save(tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["format_version"] == 1 and config["class"] == "ODESteer"
    assert set(config["versions"]) >= {"torch", "transformers", "theory_of_space"}
    assert config["fit"]["prior"] == pytest.approx(60 / 110)
    assert config["fit"]["n_pos"] == 60 and config["fit"]["median_norm"] > 0
    assert config["fit"]["logistic"]["n_iter"] >= 1
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / TENSORS_FILE))
    assert tensors["barrier.bucket"].dtype == torch.int64 and tensors["barrier.bucket"].shape == (2, 13)
    assert tensors["barrier.sign"].dtype == torch.int8


def test_fallback_to_torch_save_without_safetensors(tmp_path: Path, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # makes the import fail
    steerer = CAA(T=1.0).fit(*data)
    steerer.save(tmp_path)
    assert (tmp_path / FALLBACK_TENSORS_FILE).is_file() and not (tmp_path / TENSORS_FILE).exists()
    x = torch.randn(2, 12)
    assert torch.equal(load_steerer(tmp_path).steer(x), steerer.steer(x))


def test_load_errors_name_the_problem(tmp_path: Path, data):
    with pytest.raises(FileNotFoundError, match=re.escape(f"no {CONFIG_FILE} in {tmp_path}")):
        load_steerer(tmp_path)
    CAA().fit(*data).save(tmp_path / "caa")
    with pytest.raises(ValueError, match="holds a 'steerer', expected a 'barrier'"):
        load_barrier(tmp_path / "caa")
    with pytest.raises(ValueError, match="holds a 'CAA', expected 'ITI'"):
        ITI.load(tmp_path / "caa")
    config = json.loads((tmp_path / "caa" / CONFIG_FILE).read_text())
    config["class"] = "MiMiC"
    (tmp_path / "caa" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown steerer class 'MiMiC'"):
        load_steerer(tmp_path / "caa")
    with pytest.raises(RuntimeError, match="not fitted"):
        ODESteer().save(tmp_path / "unfitted")
