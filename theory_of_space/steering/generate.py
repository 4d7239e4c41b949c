"""Steered generation and teacher-forced scoring helpers built on ``attach``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .hooks import Positions, attach
from .methods import Steerer
from .rendering import DEFAULT_PLAIN_FORMAT, Messages, Template, render
from .tokens import encode, left_pad, model_device, pad_token_id, position_ids

SteererArg = Steerer | Mapping[int, Steerer] | None  # one steerer with `layer`, or {layer: steerer}


@dataclass(frozen=True)
class GenerationResult:
    """Output of :func:`steered_generate`.

    Attributes:
        texts: decoded new tokens per prompt.
        sequences: prompt and new token ids ``[B, P + new]``.
        prompt_len: the left-padded prompt length ``P``.
        logits: per-step logits ``[B, new, V]`` (float32) when requested.
    """

    texts: list[str]
    sequences: torch.Tensor
    prompt_len: int
    logits: torch.Tensor | None = None


def _steering(model: nn.Module, steerer: SteererArg, layer: int | None, **kwargs: Any) -> Any:
    if steerer is None:
        return nullcontext(None)
    if isinstance(steerer, Mapping):
        return attach(model, steerer, layer, **kwargs)
    if layer is None:
        raise ValueError("`layer` is required when a steerer is given")
    return attach(model, steerer, layer, **kwargs)


@torch.no_grad()
def steered_generate(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str | Messages],
    steerer: SteererArg = None,
    layer: int | None = None,
    *,
    positions: Positions = "from_prompt_end",
    template: Template = "auto",
    system_prompt: str | None = None,
    layers_path: str | None = None,
    return_logits: bool = False,
    **generate_kwargs: Any,
) -> GenerationResult:
    """Render, left-pad and generate, steering block ``layer`` (unsteered when ``steerer`` is None).

    Args:
        model: an eager HuggingFace causal LM.
        tokenizer: its tokenizer (not modified; a missing pad token falls back to EOS).
        prompts: strings or chat message lists, rendered as prompt-only items.
        steerer: the steerer, a mapping ``{layer: steerer}``, or ``None`` for the unsteered baseline.
        layer: the steered block.
        positions: the position rule of :func:`attach`.
        template: ``"auto"``, ``"chat"`` or ``"plain"``.
        system_prompt: optional system message.
        layers_path: dotted path of the block list, when the search cannot find it.
        return_logits: also return the per-step logits.
        **generate_kwargs: passed to ``model.generate`` (e.g. ``max_new_tokens``).

    Returns:
        A :class:`GenerationResult`.

    Example:
        >>> out = steered_generate(model, tok, ["Where is the lamp?"], steerer, layer=13,
        ...                        max_new_tokens=20, do_sample=False)  # doctest: +SKIP
        >>> print(out.texts[0])  # doctest: +SKIP
    """
    if isinstance(prompts, str):
        raise TypeError("expected a sequence of prompts for `prompts`, got a single string; wrap it in a list")
    seqs = [
        encode(tokenizer, render(tokenizer, p, None, template=template, system_prompt=system_prompt)) for p in prompts
    ]
    pad = pad_token_id(tokenizer)
    ids, mask = left_pad(seqs, pad)
    device = model_device(model)
    ids, mask = ids.to(device), mask.to(device)
    prompt_len = ids.shape[1]
    kwargs = {"pad_token_id": pad, **generate_kwargs}
    if return_logits:
        kwargs.update(output_logits=True, return_dict_in_generate=True)
    with _steering(model, steerer, layer, positions=positions, layers_path=layers_path) as handle:
        if handle is not None:
            handle.begin(prompt_len)
        out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
    sequences = out.sequences if return_logits else out
    logits = torch.stack(out.logits, dim=1).float() if return_logits else None
    texts = tokenizer.batch_decode(sequences[:, prompt_len:], skip_special_tokens=True)
    return GenerationResult(texts=list(texts), sequences=sequences, prompt_len=prompt_len, logits=logits)


@torch.no_grad()
def score_completions(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[tuple[str | Messages, str]],
    steerer: SteererArg = None,
    layer: int | None = None,
    *,
    template: Template = "auto",
    plain_format: str = DEFAULT_PLAIN_FORMAT,
    system_prompt: str | None = None,
    layers_path: str | None = None,
) -> torch.Tensor:
    """Teacher-forced log-probability of each completion given its prompt, in one uncached forward.

    Prompts are left-padded to a common length ``P`` and completions right-padded after them, so
    the positions ``>= P-1`` steered here are exactly those steered during cached generation.

    Args:
        model: an eager HuggingFace causal LM.
        tokenizer: its tokenizer.
        pairs: ``(prompt, completion)`` pairs.
        steerer: the steerer, a mapping ``{layer: steerer}``, or ``None`` for unsteered scores.
        layer: the steered block.
        template: ``"auto"``, ``"chat"`` or ``"plain"``.
        plain_format: format with ``{prompt}`` and ``{completion}`` fields.
        system_prompt: optional system message.
        layers_path: dotted path of the block list, when the search cannot find it.

    Returns:
        Summed log-probabilities ``[N]`` (float32, CPU).

    Raises:
        ValueError: when a prompt's tokens are not a prefix of its full rendering's tokens.

    Example:
        >>> margin = score_completions(model, tok, [(q, good)], s, 13) - score_completions(
        ...     model, tok, [(q, bad)], s, 13)  # doctest: +SKIP
    """
    opts = {"template": template, "plain_format": plain_format, "system_prompt": system_prompt}
    heads, tails = [], []
    for i, (prompt, completion) in enumerate(pairs):
        head = encode(tokenizer, render(tokenizer, prompt, None, **opts))
        full = encode(tokenizer, render(tokenizer, prompt, completion, **opts))
        if full[: len(head)] != head or len(full) == len(head):
            raise ValueError(f"pairs[{i}]: the prompt's tokens are not a strict prefix of the prompt+completion tokens")
        heads.append(head)
        tails.append(full[len(head) :])
    pad = pad_token_id(tokenizer)
    head_ids, head_mask = left_pad(heads, pad)
    prompt_len = head_ids.shape[1]
    width = max(len(t) for t in tails)
    tail_ids = torch.full((len(tails), width), pad, dtype=torch.long)
    tail_mask = torch.zeros((len(tails), width), dtype=torch.long)
    for i, t in enumerate(tails):
        tail_ids[i, : len(t)] = torch.tensor(t)
        tail_mask[i, : len(t)] = 1
    device = model_device(model)
    ids = torch.cat([head_ids, tail_ids], 1).to(device)  # [N, P + C]
    mask = torch.cat([head_mask, tail_mask], 1).to(device)
    with _steering(model, steerer, layer, layers_path=layers_path) as handle:
        if handle is not None:
            handle.begin(prompt_len)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=False).logits
    logp = torch.log_softmax(logits[:, prompt_len - 1 : -1].float(), dim=-1)  # predicts the tail
    token_logp = logp.gather(-1, tail_ids.to(device).unsqueeze(-1)).squeeze(-1)  # [N, C]
    return (token_logp * tail_mask.to(device)).sum(-1).cpu()
