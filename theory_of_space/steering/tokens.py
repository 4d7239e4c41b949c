"""Tokenisation with left padding, shared by collection, generation and scoring."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .rendering import Rendered


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id, else its EOS id (the tokenizer itself is never changed).

    Raises:
        ValueError: when the tokenizer has neither.
    """
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    raise ValueError("the tokenizer has no pad_token_id and no eos_token_id; set one of them")


def encode(tokenizer: Any, item: Rendered, *, upto: int | None = None) -> list[int]:
    """Token ids of ``item.text`` (cut at character ``upto`` when given)."""
    text = item.text if upto is None else item.text[:upto]
    ids = tokenizer(text, add_special_tokens=item.add_special_tokens)["input_ids"]
    if len(ids) == 0:
        raise ValueError(f"the text {text[:60]!r} tokenises to no tokens")
    return list(ids)


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad id lists into ``input_ids`` and ``attention_mask`` ``[B, S]`` (int64)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s) :] = 1
    return ids, mask


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    """Positions that start at 0 on each row's first real token, so padded rows match solo rows."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def check_left_padded(mask: torch.Tensor) -> None:
    """Raise unless every row's mask is zeros followed by ones.

    Raises:
        ValueError: for right (or interior) padding, naming left padding as the fix.
    """
    if mask.ndim != 2:
        raise ValueError(f"expected `attention_mask` of shape [B, S], got {tuple(mask.shape)}")
    if bool((mask[:, 1:] < mask[:, :-1]).any()):
        raise ValueError("`attention_mask` has padding after real tokens; steering needs left padding")


def model_device(model: nn.Module) -> torch.device:
    """The device of the input embeddings, where inputs go."""
    return model.get_input_embeddings().weight.device
