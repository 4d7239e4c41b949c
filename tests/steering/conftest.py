"""Tiny random models and a word-level tokenizer with a chat template, all built offline."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    LlamaConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from theory_of_space.steering import ODESteer, SketchBarrier

VOCAB_SIZE = 128
HIDDEN = 64
N_LAYERS = 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
WORDS = [f"w{i}" for i in range(100)]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def make_tokenizer(chat: bool = True) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over ``w0 .. w99`` plus chat markers."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def make_config(family: str):
    common = {"vocab_size": VOCAB_SIZE, "initializer_range": 0.3, "bos_token_id": 1, "eos_token_id": 2}
    if family == "gpt2":
        return GPT2Config(n_embd=HIDDEN, n_layer=N_LAYERS, n_head=4, n_positions=128, **common)
    if family == "llama":
        return LlamaConfig(
            hidden_size=HIDDEN,
            intermediate_size=128,
            num_hidden_layers=N_LAYERS,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            **common,
        )
    if family == "qwen2":
        return Qwen2Config(
            hidden_size=HIDDEN,
            intermediate_size=128,
            num_hidden_layers=N_LAYERS,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            **common,
        )
    raise ValueError(family)


def make_model(family: str, seed: int = 0, dtype: torch.dtype = torch.float32):
    torch.manual_seed(seed)  # from_config draws the initial weights from the global generator
    model = AutoModelForCausalLM.from_config(make_config(family), dtype=dtype)
    model.generation_config.pad_token_id = 0
    return model.eval()


FAMILIES = ["gpt2", "llama", "qwen2"]


@pytest.fixture(scope="session", params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def model(family):
    return make_model(family)


@pytest.fixture(scope="session")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="session")
def steerer() -> ODESteer:
    """An ODESteer of width 64 whose strength is large next to the tiny models' hidden norms."""
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(200, HIDDEN, generator=g) + 1.0
    neg = torch.randn(200, HIDDEN, generator=g) - 1.0
    return ODESteer(SketchBarrier(n_components=512), T=30.0, steps=5).fit(pos, neg)


def random_ids(batch: int, length: int, seed: int) -> torch.Tensor:
    """Word token ids (no special tokens)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(len(SPECIALS), len(SPECIALS) + len(WORDS), (batch, length), generator=g)
