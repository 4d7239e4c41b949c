"""Steering and reading one decoder block of a HuggingFace model through forward hooks.

``attach`` adds a forward hook on block ``L`` that steers the due positions of every batch row,
and a forward pre-hook on the module that owns the decoder list, which tells the block hook the
absolute offset of each chunk (so cached and uncached generation steer the same positions).
Both hooks are removed in ``finally``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from .methods import Steerer
from .tokens import check_left_padded

PositionMode = Literal["from_prompt_end", "last", "all"]
Positions = PositionMode | Callable[[int, int, int], Sequence[int] | torch.Tensor]

KNOWN_LAYER_PATHS: tuple[str, ...] = (
    "model.layers",  # Llama, Mistral, Qwen2, Gemma and most decoder-only models
    "transformer.h",  # GPT-2, Falcon
    "gpt_neox.layers",  # GPT-NeoX, Pythia
    "model.language_model.layers",  # multimodal models, transformers >= 4.52
    "language_model.model.layers",  # multimodal models, older transformers
    "language_model.layers",
)
_NON_TEXT_PARTS = ("vision", "visual", "image", "audio", "encoder", "vit")
_CACHE_ARGS = ("cache", "past_key_values")  # transformers 5.x renamed past_key_values to cache


# -- layer resolution ---------------------------------------------------------------------------


def _get(root: nn.Module, dotted: str) -> Any:
    obj: Any = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def text_config(model: nn.Module) -> Any:
    """The text part of the model's config (the config itself for text-only models)."""
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def resolve_layers(model: nn.Module, layers_path: str | None = None) -> tuple[str, nn.ModuleList]:
    """Find the decoder block list of a causal LM or of a multimodal model's language tower.

    The user's ``layers_path`` wins; then the known paths are tried; then a structural search
    keeps the uniform ``ModuleList`` whose length is the text config's ``num_hidden_layers`` and
    that is not under a vision, image, audio or encoder module. The model's name is never used.

    Args:
        model: a HuggingFace model.
        layers_path: dotted path of the block list, e.g. ``"model.layers"``.

    Returns:
        The dotted path and the ``ModuleList``.

    Raises:
        ValueError: when ``layers_path`` is not a non-empty ``ModuleList``, or when the search
            finds no or several candidates (listed in the message).

    Example:
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> m = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50))
        >>> resolve_layers(m)[0]
        'transformer.h'
    """
    if layers_path is not None:
        found = _get(model, layers_path)
        if not isinstance(found, nn.ModuleList) or len(found) == 0:
            raise ValueError(f"`layers_path` {layers_path!r} does not name a non-empty ModuleList on the model")
        return layers_path, found
    n_layers = getattr(text_config(model), "num_hidden_layers", None)
    for path in KNOWN_LAYER_PATHS:
        found = _get(model, path)
        if isinstance(found, nn.ModuleList) and len(found) > 0 and (n_layers is None or len(found) == n_layers):
            return path, found
    candidates = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0 or len(module) != n_layers:
            continue
        if len({type(child) for child in module}) != 1:
            continue
        if any(part in name.lower() for part in _NON_TEXT_PARTS):
            continue
        candidates.append(name)
    if len(candidates) != 1:
        raise ValueError(
            f"cannot find the decoder layers: {len(candidates)} candidate ModuleLists of length {n_layers} "
            f"({candidates}); pass `layers_path`, e.g. layers_path='model.layers'"
        )
    return candidates[0], model.get_submodule(candidates[0])


def _layer_index(layer: int, n: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"expected an int for `layer`, got {type(layer).__name__}")
    if not -n <= layer < n:
        raise ValueError(f"expected `layer` in [{-n}, {n - 1}] for a model with {n} blocks, got {layer}")
    return layer % n


def _owner(model: nn.Module, path: str) -> nn.Module:
    """The module whose attribute is the block list (it receives ids and the cache)."""
    parent = path.rpartition(".")[0]
    return model.get_submodule(parent) if parent else model


def _check_eager(model: nn.Module) -> None:
    if hasattr(model, "_orig_mod"):
        raise TypeError("steering hooks need an eager model, got a torch.compile wrapper; pass model._orig_mod")


# -- block outputs -------------------------------------------------------------------------------


def split_output(output: Any, d: int) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    """Split a block's output into the hidden state ``[B, S, d]`` and a function that rebuilds it.

    Handles plain tensors (transformers >= 4.57), tuples/lists (older versions) and
    ``ModelOutput`` objects. A plain tensor is the hidden state itself; taking ``output[0]`` of it
    would silently select batch row 0.
    """
    if isinstance(output, torch.Tensor):
        hidden, rebuild = output, (lambda h: h)
    elif isinstance(output, tuple | list):
        hidden = output[0]

        def rebuild(h: torch.Tensor) -> Any:
            return type(output)([h, *output[1:]])
    elif hasattr(output, "to_tuple") and hasattr(output, "keys"):
        key = next(iter(output.keys()))
        hidden = output[key]

        def rebuild(h: torch.Tensor) -> Any:
            new = output.__class__(**{k: output[k] for k in output})
            new[key] = h
            return new
    else:
        raise TypeError(f"unsupported block output of type {type(output).__name__}")
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3 or hidden.shape[-1] != d:
        shape = tuple(hidden.shape) if isinstance(hidden, torch.Tensor) else type(hidden).__name__
        raise ValueError(f"expected a block hidden state of shape [B, S, {d}], got {shape}")
    return hidden, rebuild


# -- attach ----------------------------------------------------------------------------------------


def _check_positions(positions: Any) -> None:
    if not callable(positions) and positions not in ("from_prompt_end", "last", "all"):
        raise ValueError(f"expected 'from_prompt_end', 'last', 'all' or a callable for `positions`, got {positions!r}")


@dataclass
class SteeringHandle:
    """State of one ``attach`` context, shared by the blocks it steers.

    Attributes:
        steerers: the steerer of each steered block, by (non-negative) block index.
        positions: the position rule, the same for every block.
        T: strength override for every block; ``None`` uses each steerer's ``T`` at each call.
        calls: number of block forwards that steered at least one position (summed over blocks).
        prompt_len: the left-padded prompt length ``P`` of the current sequence.
    """

    steerers: dict[int, Steerer]
    positions: Positions
    T: float | None = None
    calls: int = 0
    prompt_len: int | None = None
    _pinned: bool = False
    _prompt_ids: torch.Tensor | None = field(default=None, repr=False)
    _chunk: tuple[int, int] | None = None
    _param_names: tuple[str, ...] = ()

    @property
    def layers(self) -> tuple[int, ...]:
        """The steered block indices, in ascending order."""
        return tuple(sorted(self.steerers))

    @property
    def layer(self) -> int:
        """The steered block of a single-layer context.

        Raises:
            AttributeError: when the context steers several blocks (use ``layers``).
        """
        if len(self.steerers) != 1:
            raise AttributeError(f"this context steers blocks {self.layers}; use `layers`")
        return next(iter(self.steerers))

    @property
    def steerer(self) -> Steerer:
        """The steerer of a single-layer context (see ``steerers`` for several)."""
        return self.steerers[self.layer]

    def begin(self, prompt_len: int | None) -> None:
        """Pin the prompt length ``P`` for the following forwards (``None`` returns to detection).

        Package helpers call it; call it yourself before uncached forwards or forwards that pass
        only ``inputs_embeds``.
        """
        if prompt_len is not None and (isinstance(prompt_len, bool) or not isinstance(prompt_len, int)):
            raise TypeError(f"expected an int or None for `prompt_len`, got {type(prompt_len).__name__}")
        if prompt_len is not None and prompt_len < 1:
            raise ValueError(f"expected a positive `prompt_len`, got {prompt_len}")
        self.prompt_len = prompt_len
        self._pinned = prompt_len is not None
        self._prompt_ids = None

    # The pre-hook runs on the module owning the block list, before any block.
    def _pre_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        named = dict(zip(self._param_names, args, strict=False)) | kwargs
        cache = next((named[k] for k in _CACHE_ARGS if named.get(k) is not None), None)
        ids = named.get("input_ids")
        embeds = named.get("inputs_embeds")
        source = ids if ids is not None else embeds
        if source is None:
            raise RuntimeError("steering pre-hook found neither `input_ids` nor `inputs_embeds` in the forward call")
        length = source.shape[1]
        offset = _cache_length(cache)
        if offset == 0 and not self._pinned:
            if ids is None:
                raise RuntimeError("forwards with `inputs_embeds` only need handle.begin(prompt_len) first")
            if cache is not None or not self._continues_prompt(ids):
                self.prompt_len = length
                self._prompt_ids = ids.detach().clone()
        if self.prompt_len is None:
            raise RuntimeError("the prompt length is unknown; call handle.begin(prompt_len) before this forward")
        mask = named.get("attention_mask")
        if offset == 0 and self.positions == "from_prompt_end" and isinstance(mask, torch.Tensor) and mask.ndim == 2:
            # P-1 is the last prompt token of every row only under left padding.
            check_left_padded(mask[:, : self.prompt_len])
        self._chunk = (offset, length)

    def _continues_prompt(self, ids: torch.Tensor) -> bool:
        """Whether an uncached offset-0 forward recomputes the current sequence."""
        prev, p = self._prompt_ids, self.prompt_len
        if prev is None or p is None or ids.shape[1] <= p or ids.shape[0] != prev.shape[0]:
            return False
        return torch.equal(ids[:, :p], prev.to(ids.device))

    def _due(self, offset: int, length: int) -> slice | torch.Tensor | None:
        p = self.prompt_len
        assert p is not None
        if self.positions == "from_prompt_end":
            start = max(0, p - 1 - offset)
            return slice(start, length) if start < length else None
        if self.positions == "last":
            return slice(length - 1, length)
        if self.positions == "all":
            return slice(0, length)
        assert callable(self.positions)
        idx = torch.as_tensor(self.positions(offset, length, p), dtype=torch.long).reshape(-1)
        return idx if idx.numel() > 0 else None

    def _hook_for(self, layer: int) -> Callable[[nn.Module, tuple[Any, ...], Any], Any]:
        steerer = self.steerers[layer]

        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            return self._steer_block(steerer, output)

        return hook

    def _steer_block(self, steerer: Steerer, output: Any) -> Any:
        if self._chunk is None:
            raise RuntimeError("steered block ran without the pre-hook on its parent; is the model split oddly?")
        T = steerer.T if self.T is None else self.T
        hidden, rebuild = split_output(output, steerer.d)
        due = self._due(self._chunk[0], hidden.shape[1])
        if T == 0 or due is None:
            return None
        if isinstance(due, torch.Tensor):
            due = due.to(hidden.device)
        chosen = hidden[:, due, :]  # [B, m, d]
        b, m, d = chosen.shape
        steered = steerer.steer(chosen.reshape(b * m, d).float(), T)  # every row, one call
        new = hidden.clone()
        new[:, due, :] = steered.to(hidden.dtype).view(b, m, d)
        self.calls += 1
        return rebuild(new)


def _cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    if isinstance(cache, tuple | list):  # legacy tuple-of-tuples cache
        return int(cache[0][0].shape[-2]) if len(cache) > 0 else 0
    raise TypeError(f"unsupported cache object of type {type(cache).__name__}")


def _forward_params(module: nn.Module) -> tuple[str, ...]:
    params = inspect.signature(module.forward).parameters.values()
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


@contextmanager
def attach(
    model: nn.Module,
    steerer: Steerer | Mapping[int, Steerer],
    layer: int | None = None,
    *,
    positions: Positions = "from_prompt_end",
    layers_path: str | None = None,
    T: float | None = None,
) -> Iterator[SteeringHandle]:
    """Steer block ``layer``'s output (or several blocks' outputs) while the context is open.

    By default every position from the last prompt token onward is steered: with the KV cache
    that is the newest token of each forward; without it, all positions ``>= P-1`` of each
    recompute, so both give the same logits. The hooks are removed on exit, also on errors.

    Several blocks are steered in one context by passing a mapping ``{layer: steerer}`` (and no
    ``layer``); they share one position rule and one prompt length, and each block's hook runs
    when the model reaches that block.

    Args:
        model: an eager HuggingFace causal LM (or multimodal model with a language tower).
        steerer: a fitted steerer whose ``d`` is the model's hidden size, or a mapping from block
            index to steerer.
        layer: block index (negative counts from the end); ``None`` with a mapping.
        positions: ``"from_prompt_end"``, ``"last"`` (position -1 of every forward), ``"all"``, or
            a callable ``(offset, chunk_len, P) -> indices``.
        layers_path: dotted path of the block list, when the search cannot find it.
        T: strength override for every block (default: each steerer's ``T`` at each call).

    Yields:
        A :class:`SteeringHandle`.

    Raises:
        ValueError: on a width mismatch, a bad or repeated layer, a bad position rule, or a
            mapping given together with ``layer``.
        TypeError: for a ``torch.compile``-wrapped model.

    Example:
        >>> with attach(model, steerer, layer=13) as handle:  # doctest: +SKIP
        ...     out = model.generate(**inputs, max_new_tokens=20)
        >>> with attach(model, {12: s12, 13: s13}) as handle:  # doctest: +SKIP
        ...     out = model.generate(**inputs, max_new_tokens=20)
    """
    _check_eager(model)
    _check_positions(positions)
    if isinstance(steerer, Mapping):
        if layer is not None:
            raise ValueError("pass either one steerer and `layer`, or a mapping {layer: steerer} without `layer`")
        if len(steerer) == 0:
            raise ValueError("expected at least one {layer: steerer} entry for `steerer`")
        chosen = dict(steerer)
    else:
        if layer is None:
            raise ValueError("`layer` is required with a single steerer")
        chosen = {layer: steerer}
    hidden_size = getattr(text_config(model), "hidden_size", None)
    path, blocks = resolve_layers(model, layers_path)
    steerers: dict[int, Steerer] = {}
    for raw, one in chosen.items():
        if one.d != hidden_size:
            raise ValueError(f"steerer width d={one.d} does not match the model's hidden_size {hidden_size}")
        index = _layer_index(raw, len(blocks))
        if index in steerers:
            raise ValueError(f"block {index} is given twice in `steerer`")
        steerers[index] = one
    owner = _owner(model, path)
    handle = SteeringHandle(steerers=steerers, positions=positions, T=T)
    handle._param_names = _forward_params(owner)
    pre = owner.register_forward_pre_hook(handle._pre_hook, with_kwargs=True)
    posts: list[Any] = []
    try:
        for index in handle.layers:
            posts.append(blocks[index].register_forward_hook(handle._hook_for(index)))
        yield handle
    finally:
        for post in posts:
            post.remove()
        pre.remove()


# -- record ----------------------------------------------------------------------------------------


@dataclass
class Recording:
    """States returned by one block, one ``[B, S_sel, d]`` float32 tensor per forward.

    Attributes:
        layer: the recorded block index.
        states: one tensor per forward of the block, in call order.
    """

    layer: int
    states: list[torch.Tensor] = field(default_factory=list)


@contextmanager
def record(
    model: nn.Module,
    layer: int,
    *,
    positions: Literal["all", "last"] = "all",
    layers_path: str | None = None,
    device: str | torch.device | None = "cpu",
) -> Iterator[Recording]:
    """Keep what block ``layer`` returns (detached, float32) while the context is open.

    Hooks run in registration order, so enter ``record`` inside ``attach`` to see steered
    values; ``output_hidden_states`` in transformers 5.x shows the unsteered ones.

    Args:
        model: a HuggingFace model.
        layer: block index; negative counts from the end.
        positions: ``"all"`` positions or the ``"last"`` one of each forward.
        layers_path: dotted path of the block list, when the search cannot find it.
        device: where to keep the states (``None``: where they were computed).

    Yields:
        A :class:`Recording` that fills up as the model runs.

    Example:
        >>> with attach(model, steerer, 3), record(model, 3) as rec:  # doctest: +SKIP
        ...     model(ids)
        >>> rec.states[0].shape  # doctest: +SKIP
        torch.Size([1, 7, 64])
    """
    if positions not in ("all", "last"):
        raise ValueError(f"expected 'all' or 'last' for `positions`, got {positions!r}")
    _check_eager(model)
    _path, blocks = resolve_layers(model, layers_path)
    index = _layer_index(layer, len(blocks))
    d = getattr(text_config(model), "hidden_size", None)
    rec = Recording(layer=index)

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        hidden, _ = split_output(output, d)
        kept = hidden if positions == "all" else hidden[:, -1:, :]
        kept = kept.detach().float()
        rec.states.append(kept.to(device) if device is not None else kept.clone())

    handle = blocks[index].register_forward_hook(hook)
    try:
        yield rec
    finally:
        handle.remove()
