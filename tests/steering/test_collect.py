"""Activation collection, rendering and the disk cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from theory_of_space.steering import ODESteer, SketchBarrier, attach, collect_activations, record, render

from .conftest import WORDS, make_model, make_tokenizer
from .helpers import assert_close_to_scale

LAYER = 1


def _texts(seed: int, n: int, words: list[str]) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 9, (n,), generator=g)
    return [" ".join(words[int(j)] for j in torch.randint(0, len(words), (int(k),), generator=g)) for k in lengths]


def test_batched_collection_equals_per_item(model, tokenizer):
    items = [*_texts(0, 5, WORDS), *[(p, c) for p, c in zip(_texts(1, 3, WORDS), _texts(2, 3, WORDS), strict=True)]]
    batched = collect_activations(model, tokenizer, items, LAYER, batch_size=4)
    solo = torch.cat([collect_activations(model, tokenizer, [item], LAYER) for item in items])
    assert batched.shape == (8, 64) and batched.dtype == torch.float32
    assert not batched.is_inference()  # usable with autograd by callers
    assert_close_to_scale(batched, solo)


def test_rows_are_the_block_output_at_the_last_token(model, tokenizer):
    texts = _texts(3, 4, WORDS)
    several = collect_activations(model, tokenizer, texts, [0, LAYER])
    assert set(several) == {0, LAYER}
    for i, text in enumerate(texts):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        for layer in (0, LAYER):
            assert_close_to_scale(several[layer][i], out.hidden_states[layer + 1][0, -1])


def test_prompt_end_rows_are_where_steering_starts(model, tokenizer, steerer):
    prompt = "w3 w4 w5"
    acts = collect_activations(model, tokenizer, [(prompt, None)], LAYER)
    rendered = render(tokenizer, prompt)
    ids = tokenizer(rendered.text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with attach(model, steerer, LAYER) as handle, record(model, LAYER) as rec, torch.no_grad():
        model(input_ids=ids)
    assert handle.prompt_len == ids.shape[1]
    torch.testing.assert_close(rec.states[0][0, -1], steerer.steer(acts[0]), rtol=1e-5, atol=1e-4)


def test_completion_last_reads_the_completion_token(model, tokenizer):
    item = ("w1 w2", "w7 w8")
    last = collect_activations(model, tokenizer, [item], LAYER, read="last")
    own = collect_activations(model, tokenizer, [item], LAYER, read="completion_last")
    text = render(tokenizer, *item).text
    assert text.endswith("<|end|> ")
    cut = text[: text.rindex("w8") + 2]
    ids = tokenizer(cut, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=ids, output_hidden_states=True).hidden_states[LAYER + 1][0, -1]
    torch.testing.assert_close(own[0], expected)
    assert not torch.allclose(own, last)


def test_plain_rendering_without_chat_template():
    tok = make_tokenizer(chat=False)
    assert render(tok, "w1", "w2").text == "w1\nw2"
    assert render(tok, "w1", None, system_prompt="w0").text == "w0\nw1\n"
    assert render(tok, "w1", "w2", plain_format="Q: {prompt} A: {completion}").text == "Q: w1 A: w2"
    with pytest.raises(ValueError, match=re.escape("template='chat' but the tokenizer has no chat template")):
        render(tok, "w1", template="chat")
    with pytest.raises(TypeError, match=re.escape("expected a string or a list of chat messages for `prompt`")):
        render(make_tokenizer(), 3)


def test_chat_rendering_uses_template_and_system_prompt(tokenizer):
    msgs = [
        {"role": "user", "content": "w1"},
        {"role": "assistant", "content": "w2"},
        {"role": "user", "content": "w3"},
    ]
    r = render(tokenizer, msgs, "w4", system_prompt="w0")
    expected = "<|system|> w0 <|end|> <|user|> w1 <|end|> <|assistant|> w2 <|end|> <|user|> w3 <|end|> "
    assert r.text == expected + "<|assistant|> w4 <|end|> "
    assert r.text[: r.completion_end].endswith("w4") and not r.add_special_tokens
    assert render(tokenizer, "w1").text.endswith("<|assistant|> ")


def test_disk_cache_hits_and_keys(tmp_path: Path, tokenizer, monkeypatch):
    model = make_model("llama")
    items = [(p, "w9") for p in _texts(4, 6, WORDS)]
    first = collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path)
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".json", ".safetensors"]

    calls = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(1))
    again = collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path)
    assert torch.equal(first, again) and calls == []
    monkeypatch.undo()

    collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path, template="plain")
    assert len(list(tmp_path.iterdir())) == 4  # a new key for a new template
    other = make_model("llama", seed=1)  # same config, different weights
    collect_activations(other, tokenizer, items, LAYER, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 6

    files[1].write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="ignoring unreadable activation cache"):
        again = collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path)
    assert torch.equal(first, again)


def test_a_hook_on_the_model_changes_the_cache_key(tmp_path: Path, tokenizer):
    model = make_model("llama")
    items = [(p, "w9") for p in _texts(5, 4, WORDS)]
    plain = collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path)

    def shift(module, args, output):  # a planted change below the read block
        return (output[0] + 1.0, *output[1:]) if isinstance(output, tuple) else output + 1.0

    handle = model.model.layers[0].register_forward_hook(shift)
    hooked = collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path)
    handle.remove()
    assert not torch.allclose(plain, hooked)  # not the stale rows of the hookless model
    assert torch.equal(collect_activations(model, tokenizer, items, LAYER, cache_dir=tmp_path), plain)


def test_long_items_are_skipped_and_reported(model, tokenizer):
    items = ["w1 w2", " ".join(["w3"] * 20), "w4"]
    with pytest.warns(UserWarning, match=re.escape("skipped 1 item(s) longer than 10 tokens: indices [1]")):
        acts = collect_activations(model, tokenizer, items, LAYER, max_length=10)
    assert acts.shape[0] == 2
    with pytest.raises(ValueError, match=re.escape("expected 'last' or 'completion_last' for `read`")):
        collect_activations(model, tokenizer, items, LAYER, read="first")
    with pytest.raises(TypeError, match=re.escape("expected a string or a (prompt, completion) pair for `items[0]`")):
        collect_activations(model, tokenizer, [3], LAYER)


def test_smoke_fit_on_two_vocabulary_halves_and_steer(model, tokenizer):
    half = len(WORDS) // 2
    pos = collect_activations(model, tokenizer, _texts(5, 60, WORDS[:half]), LAYER)
    neg = collect_activations(model, tokenizer, _texts(6, 60, WORDS[half:]), LAYER)
    steerer = ODESteer(SketchBarrier(n_components=1024), steps=10).fit(pos, neg)
    unit = steerer.fit_info.median_norm
    held_out = collect_activations(model, tokenizer, _texts(7, 20, WORDS[half:]), LAYER)
    means = [float(steerer.value(steerer.steer(held_out, T=theta * unit)).mean()) for theta in (0, 0.05, 0.1, 0.2, 0.4)]
    assert means == sorted(means) and means[-1] > means[0]
