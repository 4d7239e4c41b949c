"""``tos steer fit`` and ``tos steer generate`` on a tiny model saved to disk."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pytest

from theory_of_space.steering import load_steerer
from theory_of_space.steering.cli import add_steer_parser, read_items

from .conftest import WORDS, make_model, make_tokenizer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tos")
    add_steer_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-llama")
    make_model("llama").save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def item_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("items")
    half = len(WORDS) // 2
    pos, neg = root / "pos.txt", root / "neg.jsonl"
    pos.write_text("\n".join(f"{WORDS[i]} {WORDS[(i * 7) % half]}" for i in range(half)) + "\n")
    rows = [{"prompt": WORDS[half + i], "completion": WORDS[half + (i * 3) % half]} for i in range(half)]
    neg.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return pos, neg


@pytest.mark.parametrize("method", ["odesteer", "caa", "repe"])
def test_fit_then_generate_reports_h_rising(saved_model, item_files, tmp_path, capsys, method):
    out = tmp_path / method
    argv = ["steer", "fit", "--model", str(saved_model), "--layer", "1", "--pos", str(item_files[0])]
    argv += ["--neg", str(item_files[1]), "--method", method, "--T", "20", "--n-components", "512", "--out", str(out)]
    assert _run(argv) == 0
    assert (out / "config.json").is_file() and (out / "tensors.safetensors").is_file()
    steerer = load_steerer(out)
    assert steerer.provenance["layer"] == 1 and len(steerer.provenance["model_fingerprint"]) == 64
    assert "median |a|" in capsys.readouterr().out

    argv = ["steer", "generate", "--model", str(saved_model), "--steer", str(out), "--prompt", "w60 w61"]
    argv += ["--prompt", "w70", "--T", "5", "--max-new-tokens", "4", "--show-unsteered"]
    assert _run(argv) == 0
    text = capsys.readouterr().out
    pairs = re.findall(r"h before: (\S+)\s+h after: (\S+)", text)
    assert len(pairs) == 2 and text.count("steered:") == 4
    assert all(float(after) > float(before) for before, after in pairs)


def test_generate_writes_jsonl_for_a_file_of_prompts_in_batches(saved_model, item_files, tmp_path, monkeypatch):
    from theory_of_space.steering import cli as steer_cli
    from theory_of_space.steering import generate

    out = tmp_path / "caa"
    argv = ["steer", "fit", "--model", str(saved_model), "--layer", "1", "--pos", str(item_files[0])]
    assert _run([*argv, "--neg", str(item_files[1]), "--method", "caa", "--T", "3", "--out", str(out)]) == 0
    prompts = tmp_path / "prompts.jsonl"
    rows = ["w60 w61", {"prompt": "w70"}, {"prompt": [{"role": "user", "content": "w71 w72"}]}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    batches: list[int] = []
    real = generate.steered_generate

    def counting(model, tokenizer, batch, *a, **kw):
        batches.append(len(batch))
        return real(model, tokenizer, batch, *a, **kw)

    monkeypatch.setattr(generate, "steered_generate", counting)
    result = tmp_path / "gen" / "out.jsonl"
    argv = ["steer", "generate", "--model", str(saved_model), "--steer", str(out), "--prompts", str(prompts)]
    argv += ["--max-new-tokens", "3", "--batch-size", "2", "--show-unsteered", "--out", str(result)]
    assert _run(argv) == 0
    assert batches == [2, 2, 1, 1]  # steered and unsteered, per batch of two prompts
    written = [json.loads(line) for line in result.read_text().splitlines()]
    assert [w["prompt"] for w in written] == ["w60 w61", "w70", rows[2]["prompt"]]
    for w in written:
        assert set(w) == {"prompt", "completion", "unsteered", "h_before", "h_after", "settings"}
        assert w["h_after"] > w["h_before"]
        assert w["settings"]["method"] == "CAA" and w["settings"]["layer"] == 1 and w["settings"]["T"] == 3.0
    solo = tmp_path / "solo.jsonl"
    argv = ["steer", "generate", "--model", str(saved_model), "--steer", str(out), "--prompt", "w70"]
    assert _run([*argv, "--max-new-tokens", "3", "--out", str(solo)]) == 0
    assert json.loads(solo.read_text())["completion"] == written[1]["completion"]  # batching changes nothing
    with pytest.raises(ValueError, match=re.escape("give at least one prompt")):
        _run(["steer", "generate", "--model", str(saved_model), "--steer", str(out)])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": 3}\n')
    with pytest.raises(ValueError, match=re.escape(f"`--prompts` {bad}:1: expected a string")):
        steer_cli.read_prompts(bad, "--prompts")


def test_through_the_main_cli(saved_model, item_files, tmp_path, capsys):
    from theory_of_space import cli

    assert "steer" in cli.build_parser().format_help()
    argv = ["steer", "fit", "--model", str(saved_model), "--layer", "-1", "--pos", str(item_files[0])]
    argv += ["--neg", str(item_files[1]), "--method", "iti", "--out", str(tmp_path / "iti")]
    assert cli.main(argv) == 0
    assert cli.main([*argv[:4], "--layer", "9", *argv[6:]]) == 2
    assert "`--layer`: expected a block index in [-3, 2]" in capsys.readouterr().err


def test_bad_input_names_the_option(saved_model, item_files, tmp_path):
    base = ["steer", "fit", "--layer", "0", "--pos", str(item_files[0]), "--neg", str(item_files[1])]
    with pytest.raises(FileNotFoundError, match=re.escape("`--model`")):
        _run([*base, "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    with pytest.raises(
        ValueError, match=re.escape("`--layer`: expected a block index in [-3, 2] for this model, got 7")
    ):
        _run([*base[:2], "--layer", "7", *base[4:], "--model", str(saved_model), "--out", str(tmp_path / "o")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"w1"\n{"oops": 1}\n')
    with pytest.raises(ValueError, match=re.escape(f"`--pos` {bad}:2: expected a string")):
        read_items(bad, "--pos")
    with pytest.raises(FileNotFoundError, match=re.escape("`--neg`: no such file")):
        read_items(tmp_path / "none.txt", "--neg")
    with pytest.raises(SystemExit):
        _parser().parse_args([*base, "--model", "m", "--out", "o", "--method", "mimic"])


@pytest.mark.parametrize("command", ["fit", "sweep", "score", "readout", "generate", "eval"])
def test_model_commands_without_torch_name_the_install_command(command, monkeypatch, capsys):
    from theory_of_space.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the local extra were missing
    argv = {
        "fit": ["--layer", "1", "--pairs", "p.jsonl", "--out", "o"],
        "sweep": ["--pairs", "p.jsonl", "--out", "o"],
        "score": ["--steerer", "s", "--pairs", "p.jsonl", "--out", "o"],
        "readout": ["--pairs", "p.jsonl", "--layers", "1", "--out", "o"],
        "generate": ["--steer", "s", "--prompt", "hi"],
        "eval": ["--steerer", "s", "--scenes", "0", "--out", "o"],
    }[command]
    assert main(["steer", command, "--model", "m", *argv]) == 2
    assert 'torch is not installed; in your clone of theory_of_space run `pip install -e ".[local]"`' in (
        capsys.readouterr().err
    )
