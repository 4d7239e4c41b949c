"""A tiny tool-calling causal LM built from a config (nothing is downloaded), for TRL tests.

The tokenizer is word-level over the few words of a Qwen3-style tool call, with TRL's Qwen3 chat template
(so TRL recognises the template and parses tool calls). The model is a 2-layer Qwen3 whose attention and
MLP outputs start at zero and whose output head is set so that each token predicts its successor in a
tool call: after the assistant header it writes ``<tool_call>\n{"name": "Observe", "arguments": {}}\n</tool_call>``
(half the time; otherwise ``Rotate`` by 90 degrees or ``Term``), then ``<|im_end|>``. Sampling therefore gives
real, varied tool calls from the first step, and training moves every weight.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<unk>",
]
# The pieces of a call carry their own whitespace: the decoder concatenates tokens as they are.
WORDS = [
    "assistant\n",
    "user",
    "system",
    "tool",
    '\n{"name":',
    ' "Observe",',
    ' "Term",',
    ' "arguments":',
    " {}}\n",
    ' "Rotate",',
    ' "arguments": {"degrees": 90}}\n',
]
# successor -> weight, per token: a bigram policy that writes one tool call per assistant turn
CHAIN = {
    "assistant\n": {"<tool_call>": 1.0},
    "</think>": {"<tool_call>": 1.0},
    "<tool_call>": {'\n{"name":': 1.0},
    '\n{"name":': {' "Observe",': 0.5, ' "Rotate",': 0.35, ' "Term",': 0.15},
    ' "Rotate",': {' "arguments": {"degrees": 90}}\n': 1.0},
    ' "arguments": {"degrees": 90}}\n': {"</tool_call>": 1.0},
    ' "Observe",': {' "arguments":': 1.0},
    ' "Term",': {' "arguments":': 1.0},
    ' "arguments":': {" {}}\n": 1.0},
    " {}}\n": {"</tool_call>": 1.0},
    "</tool_call>": {"<|im_end|>": 1.0},
}


def _tokenizer():
    import trl
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    # Split on spaces only: "assistant\n" stays one word, so the prompt decodes back to the template's
    # "<|im_start|>assistant\n" anchor, which TRL's response parser looks for.
    backend.pre_tokenizer = pre_tokenizers.Split(" ", "removed")
    backend.decoder = decoders.Fuse()  # concatenates tokens as they are
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<|endoftext|>", eos_token="<|im_end|>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIALS[1:7]})
    template = Path(trl.__file__).parent / "chat_templates" / "qwen3.jinja"
    tokenizer.chat_template = template.read_text()
    return tokenizer


def build_tiny_tool_model(folder: Path, *, seed: int = 0) -> Path:
    """Save the tiny tool-calling model and its tokenizer under ``folder``; returns the folder."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, Qwen3Config

    tokenizer = _tokenizer()
    vocab = tokenizer.get_vocab()
    size = len(vocab)
    config = Qwen3Config(
        vocab_size=size,
        hidden_size=size,
        intermediate_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=32768,
        tie_word_embeddings=False,
        pad_token_id=vocab["<|endoftext|>"],
        eos_token_id=vocab["<|im_end|>"],
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.eye(size))  # one token, one axis of the residual stream
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        head = torch.zeros(size, size)
        scale = 12.0 / math.sqrt(size)  # RMSNorm scales a one-hot vector to sqrt(size)
        for token, successors in CHAIN.items():
            for successor, weight in successors.items():
                head[vocab[successor], vocab[token]] = scale * (1 + math.log(weight) / 12)
        model.lm_head.weight.copy_(head)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
