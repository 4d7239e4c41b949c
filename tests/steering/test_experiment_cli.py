"""``tos steer experiment`` end to end on a tiny random model saved to disk."""

from __future__ import annotations

import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from theory_of_space.steering import CAA
from theory_of_space.steering.experiment_cli import parse_ints

from .conftest import HIDDEN, make_tokenizer
from .test_cli import _run


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiment")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=HIDDEN,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        initializer_range=0.3,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(root / "model")
    make_tokenizer().save_pretrained(root / "model")
    g = torch.Generator().manual_seed(0)
    caa = CAA(T=40.0).fit(torch.randn(8, HIDDEN, generator=g) + 2, torch.randn(8, HIDDEN, generator=g))
    caa.provenance = {"layer": 1}
    caa.save(root / "caa-L1")
    return root


def test_experiment_command_writes_the_run_and_resumes(saved, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["steer", "experiment", "--model", str(saved / "model"), "--steerer", str(saved / "caa-L1")]
    argv += ["--seeds", "2,5", "--player", "updating", "--apply-to", "fb_phase", "--max-false-belief-steps", "2"]
    argv += ["--max-new-tokens", "3", "--device", "cpu", "--batch-size", "4", "--out", str(out)]
    argv += ["--readout-layers", "0,1"]
    assert _run(argv) == 0
    printed = capsys.readouterr().out
    assert "# False-belief probes, steering applied to: fb_phase" in printed and "layer 1: position exact" in printed
    readout = json.loads((out / "readout" / "map_readout.json").read_text())
    assert set(readout["layers"]) == {"0", "1"} and readout["n_rows"] > 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["conditions"]) == {"unsteered", "caa-L1"} and summary["steered_requests"]["caa-L1"] > 0
    assert sorted(p.name for p in (out / "base").iterdir()) == ["seed2.json", "seed5.json"]
    stored = sorted(out.glob("episodes/*/*.json"))
    assert len(stored) == 2 * 2 * 2  # scenes x conditions x (record, transcript)
    stamps = [p.stat().st_mtime_ns for p in stored]

    assert _run(argv) == 0  # resumed: nothing asked again, nothing rewritten
    assert [p.stat().st_mtime_ns for p in stored] == stamps
    assert json.loads((out / "summary.json").read_text()) == summary

    with pytest.raises(ValueError, match=re.escape("holds a run with other settings (apply_to)")):
        _run([*argv[: argv.index("fb_phase")], "all", *argv[argv.index("fb_phase") + 1 :]])


def test_seeds_and_bad_input():
    assert parse_ints("0:3") == [0, 1, 2] and parse_ints("4,1") == [4, 1]
    with pytest.raises(ValueError, match="`--seeds`: expected START:STOP"):
        parse_ints("a:b")
    with pytest.raises(ValueError, match="`--readout-layers`: no integer"):
        parse_ints(",", "--readout-layers")
    with pytest.raises(FileNotFoundError, match="`--model`"):
        _run(["steer", "experiment", "--model", "/nonexistent", "--steerer", "x", "--seeds", "0", "--out", "o"])
