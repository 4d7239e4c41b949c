"""Hooks on tiny random GPT-2, Llama and Qwen2 models."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    FalconConfig,
    GPTNeoXConfig,
    MistralConfig,
    PretrainedConfig,
    StoppingCriteria,
    StoppingCriteriaList,
)

from theory_of_space.steering import (
    CAA,
    ODESteer,
    SketchBarrier,
    attach,
    load_steerer,
    record,
    resolve_layers,
    score_completions,
    steered_generate,
)
from theory_of_space.steering.hooks import split_output

from .conftest import HIDDEN, N_LAYERS, make_model, random_ids

LAYER = 1


def _logits(model, ids, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False, **kwargs).logits


def _hook_counts(model: nn.Module) -> tuple[int, int, int]:
    mods = list(model.modules())
    return (
        sum(len(m._forward_hooks) for m in mods),
        sum(len(m._forward_pre_hooks) for m in mods),
        sum(len(m._forward_pre_hooks_with_kwargs) for m in mods),
    )


def _generate(model, ids, steerer, positions="from_prompt_end", use_cache=True, new=4):
    with attach(model, steerer, LAYER, positions=positions) as handle, torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            use_cache=use_cache,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=0,
        )
    return out, handle


# -- B1, B2, B3: what the hook sees and changes --------------------------------------------------


def test_block_hook_sees_hidden_states_below_last_block(model):
    ids = random_ids(2, 7, 0)
    for layer in range(N_LAYERS - 1):
        with record(model, layer) as rec, torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        torch.testing.assert_close(rec.states[0], out.hidden_states[layer + 1])


def test_steering_changes_recorded_states_and_logits(model, steerer):
    ids = random_ids(2, 7, 1)
    with record(model, LAYER) as plain, torch.no_grad():
        base = _logits(model, ids)
    with attach(model, steerer, LAYER, positions="all") as handle, record(model, LAYER) as rec:
        steered = _logits(model, ids)
    torch.testing.assert_close(rec.states[0], steerer.steer(plain.states[0]), rtol=1e-5, atol=1e-4)
    assert handle.calls == 1
    assert float((steered - base).abs().max()) > 1e-2


def test_hook_sees_prompt_then_one_token_per_decode_step(model, steerer):
    ids = random_ids(3, 5, 2)
    with record(model, LAYER) as rec:
        _, handle = _generate(model, ids, steerer, new=3)
    assert [tuple(s.shape) for s in rec.states] == [(3, 5, HIDDEN), (3, 1, HIDDEN), (3, 1, HIDDEN)]
    assert handle.calls == 3 and handle.prompt_len == 5


# -- B4: cached, uncached and teacher-forced agree ---------------------------------------------------


def test_cached_uncached_and_teacher_forced_logits_agree(model, steerer):
    ids = random_ids(2, 6, 3)
    cached, _ = _generate(model, ids, steerer, use_cache=True)
    uncached, _ = _generate(model, ids, steerer, use_cache=False)
    a, b = torch.stack(cached.logits, 1), torch.stack(uncached.logits, 1)  # [B, new, V]
    assert torch.equal(cached.sequences, uncached.sequences)
    assert float((a - b).abs().max()) <= 1e-4
    with attach(model, steerer, LAYER) as handle:
        handle.begin(ids.shape[1])
        forced = _logits(model, cached.sequences[:, :-1])[:, ids.shape[1] - 1 :]
    assert float((forced - a).abs().max()) <= 1e-4
    last, _ = _generate(model, ids, steerer, positions="last", use_cache=False)
    assert float((torch.stack(last.logits, 1) - a).abs().max()) > 1e-2


def test_score_completions_matches_steered_forward(model, tokenizer, steerer):
    pairs = [("w1 w2 w3", "w4 w5"), ("w7", "w8 w9 w10 w11")]
    scores = score_completions(model, tokenizer, pairs, steerer, LAYER)
    assert scores.shape == (2,)
    for i, pair in enumerate(pairs):
        solo = score_completions(model, tokenizer, [pair], steerer, LAYER)
        torch.testing.assert_close(solo, scores[i : i + 1], rtol=1e-4, atol=1e-4)
    plain = score_completions(model, tokenizer, pairs)
    assert not torch.allclose(plain, scores)


# -- B5, B6: padding and batches ---------------------------------------------------------------------


def test_left_padded_batch_reproduces_solo_rows(model, tokenizer, steerer):
    prompts = ["w1 w2 w3 w4 w5", "w9", "w20 w21 w22"]
    kwargs = {"max_new_tokens": 3, "do_sample": False, "return_logits": True}
    batch = steered_generate(model, tokenizer, prompts, steerer, LAYER, **kwargs)
    for i, prompt in enumerate(prompts):
        solo = steered_generate(model, tokenizer, [prompt], steerer, LAYER, **kwargs)
        assert solo.logits is not None and batch.logits is not None
        torch.testing.assert_close(batch.logits[i], solo.logits[0], rtol=1e-4, atol=1e-4)
        assert batch.texts[i] == solo.texts[0]


def test_right_padding_is_rejected(model, steerer):
    ids = random_ids(2, 5, 4)
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0
    with attach(model, steerer, LAYER), pytest.raises(ValueError, match="needs left padding"):
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=2, pad_token_id=0)


def test_every_batch_row_is_steered(model, steerer):
    row = random_ids(1, 6, 5)
    ids = torch.cat([row, row, random_ids(2, 6, 6)])
    base = _logits(model, ids)
    with attach(model, steerer, LAYER):
        steered = _logits(model, ids)
    change = (steered - base)[:, -1]  # the last prompt token is steered
    torch.testing.assert_close(change[0], change[1])
    assert bool((change.abs().amax(-1) > 1e-2).all())


# -- B7: positions ------------------------------------------------------------------------------------


def test_all_positions_match_a_hand_written_hook(model, steerer):
    ids = random_ids(2, 6, 7)
    _, blocks = resolve_layers(model)
    hand = blocks[LAYER].register_forward_hook(lambda m, a, out: steerer.steer(split_output(out, HIDDEN)[0]))
    try:
        expected = _logits(model, ids)
    finally:
        hand.remove()
    with attach(model, steerer, LAYER, positions="all"):
        got = _logits(model, ids)
    torch.testing.assert_close(got, expected)


def test_from_prompt_end_leaves_earlier_positions_bit_identical(model, steerer):
    ids = random_ids(2, 9, 8)
    base = _logits(model, ids)
    with attach(model, steerer, LAYER) as handle:
        handle.begin(6)
        steered = _logits(model, ids)
    assert torch.equal(steered[:, :5], base[:, :5])
    assert bool(((steered[:, 5:] - base[:, 5:]).abs().amax(-1) > 1e-3).all())


def test_callable_positions(model, steerer):
    ids = random_ids(1, 6, 9)
    base = _logits(model, ids)
    with attach(model, steerer, LAYER, positions=lambda offset, length, p: [2]):
        steered = _logits(model, ids)
    assert torch.equal(steered[:, :2], base[:, :2])
    assert not torch.allclose(steered[:, 2:], base[:, 2:])


# -- B8: hook hygiene ---------------------------------------------------------------------------------


class _Boom(StoppingCriteria):
    def __call__(self, input_ids, scores, **kwargs):
        raise RuntimeError("boom")


class _FailingSteerer:
    d, T = HIDDEN, 1.0

    def steer(self, x, T=None):
        raise ArithmeticError("steerer failed")


def test_hooks_are_removed_also_after_errors(model, steerer):
    before = _hook_counts(model)
    ids = random_ids(1, 4, 10)
    with attach(model, steerer, LAYER):
        assert _hook_counts(model) != before
        model(input_ids=ids)
    assert _hook_counts(model) == before
    with pytest.raises(RuntimeError, match="boom"), attach(model, steerer, LAYER):
        model.generate(input_ids=ids, max_new_tokens=3, stopping_criteria=StoppingCriteriaList([_Boom()]))
    assert _hook_counts(model) == before
    with pytest.raises(ArithmeticError, match="steerer failed"), attach(model, _FailingSteerer(), LAYER):
        model(input_ids=ids)
    assert _hook_counts(model) == before


def test_stacked_contexts_apply_in_order(model, steerer):
    ids = random_ids(1, 5, 11)
    caa = CAA(T=1.0).fit(torch.randn(10, HIDDEN) + 3, torch.randn(10, HIDDEN))
    with record(model, LAYER) as plain:
        _logits(model, ids)
    first = attach(model, steerer, LAYER, positions="all")
    with first, attach(model, caa, LAYER, positions="all"), record(model, LAYER) as rec:
        _logits(model, ids)
    torch.testing.assert_close(rec.states[0], caa.steer(steerer.steer(plain.states[0])), rtol=1e-5, atol=1e-4)


def test_one_context_steers_several_layers_like_stacked_contexts(model, steerer):
    ids = random_ids(2, 6, 12)
    caa = CAA(T=1.0).fit(torch.randn(10, HIDDEN) + 3, torch.randn(10, HIDDEN))
    before = _hook_counts(model)
    with attach(model, {0: steerer, -1: caa}) as handle, record(model, 0) as r0:
        both = _logits(model, ids, attention_mask=torch.ones_like(ids))
    assert handle.layers == (0, N_LAYERS - 1) and handle.calls == 2
    assert _hook_counts(model) == before
    with attach(model, steerer, 0), attach(model, caa, N_LAYERS - 1):
        stacked = _logits(model, ids, attention_mask=torch.ones_like(ids))
    torch.testing.assert_close(both, stacked)
    with attach(model, steerer, 0):
        first_only = _logits(model, ids, attention_mask=torch.ones_like(ids))
    assert float((both - first_only).abs().max()) > 1e-3  # the second block is steered too
    with record(model, 0) as plain:
        _logits(model, ids, attention_mask=torch.ones_like(ids))
    # Only the last prompt token (P-1) is steered, at each block.
    torch.testing.assert_close(r0.states[0][:, :-1], plain.states[0][:, :-1], rtol=0, atol=0)
    torch.testing.assert_close(r0.states[0][:, -1], steerer.steer(plain.states[0][:, -1]), rtol=1e-5, atol=1e-4)
    with pytest.raises(AttributeError, match=re.escape("use `layers`")):
        _ = handle.layer


def test_several_layers_rejects_ambiguous_arguments(model, steerer):
    with pytest.raises(ValueError, match="either one steerer"), attach(model, {0: steerer}, 0):
        pass
    with pytest.raises(ValueError, match=re.escape("block 2 is given twice")), attach(model, {2: steerer, -1: steerer}):
        pass
    with pytest.raises(ValueError, match="`layer` is required"), attach(model, steerer):
        pass


# -- B9: dtype ----------------------------------------------------------------------------------------


class _Spy:
    """Wraps a steerer and remembers the dtypes it was given."""

    def __init__(self, inner):
        self.inner, self.d, self.T, self.seen = inner, inner.d, inner.T, []

    def steer(self, x, T=None):
        self.seen.append(x.dtype)
        return self.inner.steer(x, T)


def test_bf16_model_steers_in_float32(family, steerer):
    model = make_model(family, dtype=torch.bfloat16)
    spy = _Spy(steerer)
    ids = random_ids(2, 5, 12)
    with attach(model, spy, LAYER), record(model, LAYER, device=None) as rec:
        model.generate(input_ids=ids, max_new_tokens=2, do_sample=False, pad_token_id=0)
    assert spy.seen and set(spy.seen) == {torch.float32}
    assert next(model.parameters()).dtype == torch.bfloat16
    with attach(model, spy, LAYER):
        out = model(input_ids=ids, use_cache=False, output_hidden_states=True)
    assert out.logits.dtype == torch.bfloat16 and rec.states[0].dtype == torch.float32


# -- C1: reload steers generation identically --------------------------------------------------------


def test_reloaded_steerer_gives_identical_generation_logits(model, steerer, tmp_path):
    steerer.save(tmp_path)
    loaded = load_steerer(tmp_path)
    ids = random_ids(2, 5, 13)
    a, _ = _generate(model, ids, steerer)
    b, _ = _generate(model, ids, loaded)
    assert torch.equal(torch.stack(a.logits), torch.stack(b.logits))


# -- B10: layer resolution ------------------------------------------------------------------------------


def _tiny(config) -> nn.Module:
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize(
    "config, path",
    [
        (
            GPTNeoXConfig(
                vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
            ),
            "gpt_neox.layers",
        ),
        (FalconConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4), "transformer.h"),
        (
            MistralConfig(
                vocab_size=64,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                intermediate_size=64,
            ),
            "model.layers",
        ),
    ],
    ids=["gpt-neox", "falcon", "mistral"],
)
def test_resolves_and_steers_other_families(config, path):
    model = _tiny(config).eval()
    assert resolve_layers(model)[0] == path
    caa = CAA(T=5.0).fit(torch.randn(10, 32) + 1, torch.randn(10, 32))
    ids = torch.randint(0, 64, (2, 5))
    base = _logits(model, ids)
    with attach(model, caa, 0) as handle:
        out = model.generate(input_ids=ids, max_new_tokens=2, do_sample=False, pad_token_id=0)
        steered = _logits(model, ids)
    assert out.shape == (2, 7) and handle.calls >= 1
    assert not torch.allclose(steered[:, -1], base[:, -1])


def test_resolves_known_families(model):
    path, blocks = resolve_layers(model)
    assert path in ("transformer.h", "model.layers") and len(blocks) == N_LAYERS


class _Block(nn.Module):
    """A block that returns a tuple, as in older transformers."""

    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, h):
        return (h + torch.tanh(self.lin(h)), None)


class _Tower(nn.Module):
    def __init__(self, d: int, n: int, vocab: int = 20):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([_Block(d) for _ in range(n)])

    def forward(self, input_ids=None, cache=None):
        h = self.embed(input_ids)
        for block in self.layers:
            h = block(h)[0]
        return h


class _Multimodal(nn.Module):
    """A fake image-text model: a vision list and a language list of the same length."""

    def __init__(self, d: int = 8, n: int = 2):
        super().__init__()
        self.config = PretrainedConfig(hidden_size=d, num_hidden_layers=n)
        self.vision_tower = nn.Module()
        self.vision_tower.blocks = nn.ModuleList([_Block(d) for _ in range(n)])
        self.text = _Tower(d, n)

    def forward(self, input_ids=None):
        return self.text(input_ids=input_ids)


def test_structural_search_skips_vision_and_handles_tuple_outputs():
    torch.manual_seed(0)
    mm = _Multimodal()
    path, _ = resolve_layers(mm)
    assert path == "text.layers"
    caa = CAA(T=1.0).fit(torch.ones(3, 8), torch.zeros(3, 8))
    ids = torch.tensor([[1, 2, 3]])
    base = mm(ids)
    with attach(mm, caa, -1, positions="all") as handle:
        out = mm(ids)
    torch.testing.assert_close(out, base + 1.0)  # the last block's output is the model output
    assert handle.layer == 1


def test_override_and_ambiguity_errors():
    mm = _Multimodal()
    mm.vision_tower = mm.vision_tower.blocks  # now an unlabelled second candidate
    mm.extra = nn.ModuleList([_Block(8), _Block(8)])
    with pytest.raises(ValueError, match=re.escape("pass `layers_path`")):
        resolve_layers(mm)
    assert resolve_layers(mm, layers_path="extra")[0] == "extra"
    with pytest.raises(ValueError, match=re.escape("`layers_path` 'text.embed' does not name a non-empty ModuleList")):
        resolve_layers(mm, layers_path="text.embed")


def test_attach_rejects_bad_arguments(model, steerer):
    expected = re.escape(f"expected `layer` in [-{N_LAYERS}, {N_LAYERS - 1}]")
    with pytest.raises(ValueError, match=expected), attach(model, steerer, N_LAYERS):
        pass
    narrow = CAA().fit(torch.randn(4, 8), torch.randn(4, 8))
    with (
        pytest.raises(
            ValueError, match=re.escape(f"steerer width d=8 does not match the model's hidden_size {HIDDEN}")
        ),
        attach(model, narrow, 0),
    ):
        pass
    with pytest.raises(ValueError, match="for `positions`"), attach(model, steerer, 0, positions="first"):
        pass
    with pytest.raises(TypeError, match=re.escape("torch.compile")), attach(torch.compile(model), steerer, 0):
        pass


def test_split_output_never_takes_row_zero_of_a_tensor():
    h = torch.randn(3, 4, 8)
    hidden, rebuild = split_output(h, 8)
    assert hidden is h and rebuild(h) is h
    hidden, rebuild = split_output((h, "cache"), 8)
    assert hidden is h and rebuild(h + 1)[1] == "cache"
    with pytest.raises(ValueError, match=re.escape("expected a block hidden state of shape [B, S, 8], got (4, 8)")):
        split_output(h[0], 8)


def test_steering_a_fresh_odesteer_on_model_activations(model):
    """Sanity: a steerer fitted on the model's own activations raises its barrier when attached."""
    pos_ids, neg_ids = random_ids(40, 6, 14), random_ids(40, 6, 15)
    with record(model, LAYER, positions="last") as rec:
        _logits(model, pos_ids)
        _logits(model, neg_ids)
    pos, neg = rec.states[0][:, 0], rec.states[1][:, 0]
    steerer = ODESteer(SketchBarrier(n_components=256), T=float(pos.norm(dim=-1).median()) * 0.3).fit(pos, neg)
    with attach(model, steerer, LAYER), record(model, LAYER, positions="last") as after:
        _logits(model, neg_ids)
    assert float(steerer.value(after.states[0][:, 0]).mean()) > float(steerer.value(neg).mean())
