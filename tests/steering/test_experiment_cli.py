"""``tos steer eval`` end to end on a tiny random model saved to disk."""

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


def test_eval_command_writes_a_run_and_resumes(saved, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["steer", "eval", "--model", str(saved / "model"), "--steerer", str(saved / "caa-L1")]
    argv += ["--scenes", "2,5", "--player", "updating", "--apply-to", "fb_phase", "--max-false-belief-steps", "2"]
    argv += ["--max-steps", "4", "--max-new-tokens", "3", "--device", "cpu", "--batch-size", "4", "--quiet"]
    argv += ["--out", str(out), "--readout-layers", "0,1"]
    assert _run(argv) == 0
    printed = capsys.readouterr().out
    assert "# Belief inertia, steering applied to: fb_phase (base episodes: updating)" in printed
    assert "layer 1: position exact" in printed and f"tos report {out}" in printed
    readout = json.loads((out / "readout" / "map_readout.json").read_text())
    assert set(readout["layers"]) == {"0", "1"} and readout["n_rows"] > 0
    summary = json.loads((out / "steering_summary.json").read_text())
    assert list(summary["conditions"]) == ["updating", "unsteered", "caa-L1"]
    assert summary["conditions"]["caa-L1"]["steered_requests"] > 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["caa-L1", "readout", "unsteered", "updating"]
    stored = sorted(out.rglob("*.jsonl"))
    assert len(stored) == 3 * 2 * 2  # conditions x scenes x (explore, false_belief)
    stamps = [p.stat().st_mtime_ns for p in stored]

    assert _run(argv) == 0  # resumed: nothing asked again, nothing rewritten
    assert [p.stat().st_mtime_ns for p in stored] == stamps
    again = json.loads((out / "steering_summary.json").read_text())
    assert again == summary

    # The same map read-out from the stored run folder, with tos steer readout --runs.
    ro = ["steer", "readout", "--model", str(saved / "model"), "--runs", str(out), "--agent", "unsteered"]
    ro += ["--layers", "0,1", "--device", "cpu", "--batch-size", "4", "--out", str(tmp_path / "ro")]
    assert _run(ro) == 0
    assert json.loads((tmp_path / "ro" / "map_readout.json").read_text()) == readout
    assert "layer 0: position exact" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no finished false-belief episode of agent 'nobody'"):
        _run([*ro[:-2], "--agent", "nobody", "--out", str(tmp_path / "ro2")])

    with pytest.raises(ValueError, match=re.escape("apply_to: stored 'fb_phase', now 'all'")):
        _run([*argv[: argv.index("fb_phase")], "all", *argv[argv.index("fb_phase") + 1 :]])


def test_bad_input():
    assert parse_ints("0:3", "--layers") == [0, 1, 2] and parse_ints("4,1", "--layers") == [4, 1]
    with pytest.raises(ValueError, match="`--readout-layers`: expected START:STOP"):
        parse_ints("a:b", "--readout-layers")
    with pytest.raises(ValueError, match="`--readout-layers`: no integer"):
        parse_ints(",", "--readout-layers")
    with pytest.raises(FileNotFoundError, match="`--model`"):
        _run(["steer", "eval", "--model", "/nonexistent", "--steerer", "x", "--scenes", "0", "--out", "o"])
