"""The inertia sweep on a model with a planted belief direction, and the commands end to end."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from theory_of_space.steering import load_steerer
from theory_of_space.steering.cli import add_steer_parser
from theory_of_space.steering.inertia import pairs_from_episodes, write_jsonl
from theory_of_space.steering.inertia_run import (
    SweepConfig,
    prompt_activations,
    readout_report,
    run_inertia_sweep,
)
from theory_of_space.steering.readout import LinearReadout

from .planted import PLANTED_LAYER, corpus, make_episodes, make_planted_model, make_tokenizer


@pytest.mark.slow
def test_sweep_finds_the_planted_layer_and_steering_moves_inertia_both_ways(tmp_path):
    episodes = make_episodes(40)
    tokenizer = make_tokenizer(corpus(episodes))
    model, _plant = make_planted_model(tokenizer)
    pairs = pairs_from_episodes(episodes[:16])  # the sweep; the read-out below uses all 40 scenes
    config = SweepConfig(
        layers=[1, 2, 3], methods=("caa", "odesteer"), thetas=(-0.2, 0.0, 0.1), generate=False, n_components=256
    )
    summary = run_inertia_sweep(model, tokenizer, pairs, tmp_path / "run", config)
    held = summary["held_out"]
    print("\nplanted check:", json.dumps(summary["choices"]), json.dumps(held))
    assert [c["layer_by_caa"] for c in summary["choices"]] == [PLANTED_LAYER, PLANTED_LAYER]
    assert all(c["layer"] == PLANTED_LAYER and c["theta"] > 0 for c in summary["choices"])
    assert held["inertia_unsteered"] >= 0.3  # the plant leans to the old belief
    assert held["inertia_steered"] <= held["inertia_unsteered"] - 0.3
    assert held["inertia_delta"]["high"] < 0  # the bootstrap interval over scenes excludes 0
    assert held["inertia_control"] >= held["inertia_unsteered"] + 0.1 and held["control_delta"]["low"] > 0
    curves = {(c["method"], c["layer"], c["theta"]): c for c in summary["validation_curves"]}
    base = curves[("unsteered", PLANTED_LAYER, 0.0)]["inertia"]
    for method in ("caa", "odesteer"):
        assert curves[(method, PLANTED_LAYER, -0.2)]["inertia"] > base > curves[(method, PLANTED_LAYER, 0.1)]["inertia"]
        assert curves[(method, PLANTED_LAYER, 0.1)]["h_after"] > curves[(method, PLANTED_LAYER, 0.1)]["h_before"]
    for name in ("config.json", "pairs.jsonl", "sweep.jsonl", "summary.json", "summary.md"):
        assert (tmp_path / "run" / name).is_file()
    rows = [json.loads(line) for line in (tmp_path / "run" / "sweep.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"validation", "held_out"} and {r["fold"] for r in rows} == {0, 1}
    assert len(list((tmp_path / "run" / "steerers").iterdir())) == 2 * 3 * 2  # methods x layers x folds
    assert load_steerer(tmp_path / "run" / "steerers" / "caa-L2-fold0").provenance["layer"] == 2

    # The read-out finds the planted state (the new position) at the planted layer, not before it,
    # also on the pairs where the answer shows inertia.
    pairs = pairs_from_episodes(episodes)
    report = readout_report(model, tokenizer, pairs, [1, PLANTED_LAYER], tmp_path / "ro", generate=False, alpha=1e-3)
    print("read-out:", json.dumps(report))
    planted, before = report["layers"][str(PLANTED_LAYER)], report["layers"]["1"]
    assert planted["position_exact"] >= 0.9 and before["position_exact"] <= 0.2
    assert report["report_inertia"] >= 0.3 and report["n_inertia_moves"] >= 3
    assert planted["inertia_moves_encoding_new"] == 1.0  # inertia in the report, not in the representation
    saved = LinearReadout.load(tmp_path / "ro" / "readouts" / f"L{PLANTED_LAYER}")
    acts = prompt_activations(model, tokenizer, pairs[:4], [PLANTED_LAYER])[PLANTED_LAYER]
    expected = torch.tensor([p.new["position"] for p in pairs[:4]], dtype=torch.float64)
    assert float((saved.predict_position(acts) - expected).abs().max()) < 0.5


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tos")
    add_steer_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.slow
def test_pairs_fit_sweep_and_score_commands_write_their_files(tmp_path: Path, capsys):
    from transformers import AutoModelForCausalLM

    episodes = make_episodes(6, seed=1)
    tokenizer = make_tokenizer(corpus(episodes))
    model, _ = make_planted_model(tokenizer, seed=1)
    plain = AutoModelForCausalLM.from_config(model.config)  # saved without the plant
    plain.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    write_jsonl(tmp_path / "runs" / "inertia_episodes.jsonl", (e.to_dict() for e in episodes))
    m = ["--model", str(tmp_path / "model")]

    assert _run(["steer", "pairs", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]) == 0
    pairs_file = tmp_path / "out" / "pairs.jsonl"
    assert len(pairs_file.read_text().splitlines()) == 12 and "wrote 12 pairs" in capsys.readouterr().out

    fit = ["steer", "fit", *m, "--layer", "1", "--pairs", str(pairs_file), "--method", "repe"]
    assert _run([*fit, "--out", str(tmp_path / "repe")]) == 0
    assert load_steerer(tmp_path / "repe").provenance["collection"]["pairs"] == str(pairs_file)
    with pytest.raises(ValueError, match="either --pairs or --pos"):
        _run([*fit, "--pos", str(pairs_file), "--out", str(tmp_path / "x")])

    sweep = ["steer", "sweep", *m, "--pairs", str(pairs_file), "--layers", "1:3", "--methods", "caa,repe"]
    sweep += ["--theta=-0.2,0.1", "--no-generate", "--out", str(tmp_path / "sweep")]
    assert _run(sweep) == 0
    assert "Belief-inertia sweep" in capsys.readouterr().out
    for name in ("config.json", "pairs.jsonl", "sweep.jsonl", "summary.json", "summary.md"):
        assert (tmp_path / "sweep" / name).is_file()
    with pytest.raises(ValueError, match="`--methods`"):
        _run([*sweep[:9], "caa,mimic", *sweep[10:]])

    scenes = sorted({e.scene for e in episodes})[:3]
    ev = ["steer", "score", *m, "--steerer", str(tmp_path / "repe"), "--pairs", str(pairs_file)]
    ev += ["--scenes", ",".join(scenes), "--T", "5", "--max-new-tokens", "3", "--out", str(tmp_path / "score")]
    assert _run(ev) == 0
    summary = json.loads((tmp_path / "score" / "summary.json").read_text())
    assert summary["n_pairs"] == 6 and summary["steerer"]["T"] == 5.0
    assert set(summary["probe_steered"]) >= {"inertia_pos", "inertia_ori", "parse_valid"}
    answers = [json.loads(line) for line in (tmp_path / "score" / "answers.jsonl").read_text().splitlines()]
    assert {a["scene"] for a in answers} == set(scenes) and "answer_steered" in answers[0]
    ro = ["steer", "readout", *m, "--pairs", str(pairs_file), "--layers", "1,2", "--no-generate"]
    assert _run([*ro, "--out", str(tmp_path / "ro")]) == 0
    assert "layer 2: position exact" in capsys.readouterr().out
    assert (tmp_path / "ro" / "readout.json").is_file() and (tmp_path / "ro" / "readouts" / "L1").is_dir()
    with pytest.raises(ValueError, match="`--scenes`: not in"):
        _run([*ev[:-2], "--scenes", "nowhere", "--out", str(tmp_path / "e2")])


def test_pairs_too_long_on_one_side_are_refused_or_dropped_never_misaligned():
    from dataclasses import replace

    from theory_of_space.steering.collect import collect_activations
    from theory_of_space.steering.inertia_run import collect_pair_activations, fitting_pairs

    episodes = make_episodes(3)
    pairs = pairs_from_episodes(episodes)
    # One pair's positive grows by many tokens: only its positive item passes the limit.
    long_positive = " ".join([pairs[1].positive] * 30)
    tokenizer = make_tokenizer([*corpus(episodes), long_positive])
    model, _plant = make_planted_model(tokenizer)
    pairs[1] = replace(pairs[1], positive=long_positive)
    from theory_of_space.steering import render
    from theory_of_space.steering.tokens import encode

    lengths = [len(encode(tokenizer, render(tokenizer, p.prompt, c))) for p in pairs for c in (p.positive, p.negative)]
    limit = sorted(lengths)[-2] + 2  # all but the long positive fit
    with pytest.raises(ValueError, match=rf"1 pair\(s\) longer .*{pairs[1].id}.*fitting_pairs"):
        collect_pair_activations(model, tokenizer, pairs, [1], max_length=limit)
    with pytest.warns(UserWarning, match="dropped 1 pair"):
        kept = fitting_pairs(model, tokenizer, pairs, max_length=limit)
    assert [p.id for p in kept] == [p.id for i, p in enumerate(pairs) if i != 1]
    pos, neg = collect_pair_activations(model, tokenizer, kept, [1], max_length=limit)
    for i, p in enumerate(kept):  # row i is pair i on both sides
        one = collect_activations(model, tokenizer, [(p.prompt, p.negative)], 1, max_length=limit)
        assert torch.allclose(neg[1][i], one[0], rtol=1e-4, atol=1e-3)
        one = collect_activations(model, tokenizer, [(p.prompt, p.positive)], 1, max_length=limit)
        assert torch.allclose(pos[1][i], one[0], rtol=1e-4, atol=1e-3), (pos[1][i] - one[0]).abs().max()


def test_fit_command_drops_pairs_too_long_on_either_side(tmp_path, capsys):
    from dataclasses import replace

    from transformers import AutoModelForCausalLM, LlamaConfig

    from theory_of_space.steering import render
    from theory_of_space.steering.tokens import encode

    episodes = make_episodes(3)
    pairs = pairs_from_episodes(episodes)
    long_positive = " ".join([pairs[1].positive] * 30)
    tokenizer = make_tokenizer([*corpus(episodes), long_positive])
    pairs[1] = replace(pairs[1], positive=long_positive)
    lengths = [len(encode(tokenizer, render(tokenizer, p.prompt, c))) for p in pairs for c in (p.positive, p.negative)]
    config = LlamaConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=sorted(lengths)[-2] + 2,  # all but the long positive fit
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in pairs))
    args = argparse.ArgumentParser(prog="tos")
    add_steer_parser(args.add_subparsers(dest="command", required=True))
    argv = ["steer", "fit", "--model", str(tmp_path / "model"), "--pairs", str(tmp_path / "pairs.jsonl")]
    argv += ["--layer", "1", "--method", "repe", "--out", str(tmp_path / "repe")]
    parsed = args.parse_args(argv)
    assert parsed.func(parsed) == 0
    assert "dropped 1 pair(s) longer than the model's context: line(s) [2]" in capsys.readouterr().out
    info = load_steerer(tmp_path / "repe").fit_info
    assert info is not None and info.n_pos == info.n_neg == len(pairs) - 1
