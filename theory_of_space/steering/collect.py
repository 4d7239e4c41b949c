"""Activation collection: the residual stream after block ``L`` at one token per item, with a disk cache."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .hooks import resolve_layers, split_output, text_config
from .rendering import DEFAULT_PLAIN_FORMAT, Messages, Rendered, Template, render, uses_chat_template
from .tokens import encode, left_pad, model_device, pad_token_id, position_ids

ReadPosition = Literal["last", "completion_last"]
Item = str | tuple[str | Messages, str | None]
CACHE_VERSION = 1
_FINGERPRINT_VALUES = 256  # values hashed from each weight slice


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def model_fingerprint(model: nn.Module, layers: Sequence[int] = (), layers_path: str | None = None) -> str:
    """SHA-256 of the config and of fixed small slices of the input embedding and of each block's first weight.

    Two random models with the same config therefore get different fingerprints.

    Example:
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> m = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50))
        >>> len(model_fingerprint(m, [0]))
        64
    """
    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    slices = [model.get_input_embeddings().weight]
    if layers:
        _, blocks = resolve_layers(model, layers_path)
        slices += [next(blocks[i].parameters()) for i in layers]
    for w in slices:
        h.update(w.detach().reshape(-1)[:_FINGERPRINT_VALUES].float().cpu().numpy().tobytes())
    return h.hexdigest()


def model_hooks(model: nn.Module) -> list[list[str]]:
    """The forward hooks and pre-hooks registered on ``model`` and its submodules, for the cache key.

    Hooks change activations (a planted direction, a steering vector left attached), but their
    effect cannot be hashed: each is named by its module, kind, qualified name and object id, so a
    hooked model never reuses activations cached without those very hooks, and never across
    processes (the ids differ).
    """
    found = []
    for name, module in model.named_modules():
        for kind in ("_forward_pre_hooks", "_forward_hooks"):
            for hook in getattr(module, kind, {}).values():
                qualname = getattr(hook, "__qualname__", type(hook).__qualname__)
                found.append([name, kind.strip("_"), qualname, str(id(hook))])
    return found


def token_limit(model: nn.Module, max_length: int | None = None) -> int | None:
    """The longest item :func:`collect_activations` reads: ``max_length``, else the model's context length."""
    config = text_config(model)
    return max_length or getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)


def too_long(
    model: nn.Module,
    tokenizer: Any,
    items: Sequence[Item],
    *,
    read: ReadPosition = "last",
    template: Template = "auto",
    plain_format: str = DEFAULT_PLAIN_FORMAT,
    system_prompt: str | None = None,
    max_length: int | None = None,
    **_: Any,
) -> list[int]:
    """Indices of the items :func:`collect_activations` would skip as longer than its limit.

    Takes the same keyword arguments as :func:`collect_activations` (unused ones are ignored), so
    a caller that needs rows aligned across two item lists can check both before collecting.
    """
    limit = token_limit(model, max_length)
    if limit is None:
        return []
    opts = {"template": template, "plain_format": plain_format, "system_prompt": system_prompt}
    out = []
    for index, item in enumerate(items):
        rendered = _render_item(tokenizer, item, index, opts)
        upto = rendered.completion_end if read == "completion_last" else None
        if len(encode(tokenizer, rendered, upto=upto)) > limit:
            out.append(index)
    return out


def _render_item(tokenizer: Any, item: Item, index: int, opts: dict[str, Any]) -> Rendered:
    if isinstance(item, str):
        return Rendered(item, add_special_tokens=True, completion_end=None)
    if isinstance(item, tuple) and len(item) == 2:
        return render(tokenizer, item[0], item[1], **opts)
    raise TypeError(f"expected a string or a (prompt, completion) pair for `items[{index}]`, got {type(item).__name__}")


@dataclass(frozen=True)
class _Batchable:
    index: int
    ids: list[int]


def _forward_batch(
    model: nn.Module, blocks: nn.ModuleList, layers: list[int], batch: list[_Batchable], pad: int, d: int
) -> dict[int, torch.Tensor]:
    ids, mask = left_pad([b.ids for b in batch], pad)
    device = model_device(model)
    rows: dict[int, torch.Tensor] = {}

    def hook_for(layer: int):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            hidden, _ = split_output(output, d)
            rows[layer] = hidden[:, -1, :].float().cpu()  # left padding: the last token is at -1

        return hook

    handles = [blocks[i].register_forward_hook(hook_for(i)) for i in layers]
    try:
        model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=position_ids(mask).to(device),
            use_cache=False,
        )
    finally:
        for handle in handles:
            handle.remove()
    return rows


def _run(
    model: nn.Module,
    blocks: nn.ModuleList,
    layers: list[int],
    todo: list[_Batchable],
    pad: int,
    d: int,
    batch_size: int,
) -> dict[int, torch.Tensor]:
    todo = sorted(todo, key=lambda b: len(b.ids))
    out: dict[int, list[torch.Tensor]] = {i: [] for i in layers}
    start, size = 0, batch_size
    while start < len(todo):
        chunk = todo[start : start + size]
        try:
            rows = _forward_batch(model, blocks, layers, chunk, pad, d)
        except torch.cuda.OutOfMemoryError:
            if size == 1:
                raise
            size = max(1, size // 2)
            torch.cuda.empty_cache()
            continue
        for i in layers:
            out[i].append(rows[i])
        start += len(chunk)
    order = torch.argsort(torch.tensor([b.index for b in todo]))  # restore input order
    return {i: torch.cat(out[i])[order] for i in layers}


def _cache_key(fields: dict[str, Any]) -> str:
    return _sha(json.dumps(fields, sort_keys=True))


def _load_cached(path: Path, fields: dict[str, Any], layers: list[int], n: int) -> dict[int, torch.Tensor] | None:
    meta_file, tensor_file = path.with_suffix(".json"), path.with_suffix(".safetensors")
    if not (meta_file.is_file() and tensor_file.is_file()):
        return None
    try:
        from safetensors.torch import load_file

        meta = json.loads(meta_file.read_text())
        tensors = load_file(str(tensor_file))
        found = {i: tensors[f"layer_{i}"].clone() for i in layers}
        ok = meta.get("key_fields") == fields and all(t.shape[0] == n and t.ndim == 2 for t in found.values())
    except Exception as exc:  # a corrupt or truncated file is recomputed, never trusted
        warnings.warn(f"ignoring unreadable activation cache {tensor_file}: {exc}", stacklevel=3)
        return None
    return found if ok else None


def _save_cached(path: Path, fields: dict[str, Any], acts: dict[int, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(acts.values()))
    save_file({f"layer_{i}": t.contiguous() for i, t in acts.items()}, str(path.with_suffix(".safetensors")))
    meta = {"key_fields": fields, "n": first.shape[0], "d": first.shape[1], "created": time.time()}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def collect_activations(
    model: nn.Module,
    tokenizer: Any,
    items: Sequence[Item],
    layers: int | Sequence[int],
    *,
    read: ReadPosition = "last",
    template: Template = "auto",
    plain_format: str = DEFAULT_PLAIN_FORMAT,
    system_prompt: str | None = None,
    batch_size: int = 16,
    max_length: int | None = None,
    cache_dir: str | Path | None = None,
    layers_path: str | None = None,
) -> torch.Tensor | dict[int, torch.Tensor]:
    """Residual stream after block ``L`` at one token per item, as float32 CPU rows in input order.

    Items are raw strings, ``(prompt, completion)`` pairs (prompt: string or chat messages), or
    ``(prompt, None)`` for prompt-end activations, which are read exactly where steering starts.
    Rows are left-padded with explicit position ids, so batching does not change them.

    Args:
        model: a HuggingFace causal LM (or multimodal model; only text goes in).
        tokenizer: its tokenizer.
        items: what to read.
        layers: one block index (returns a tensor) or several (returns ``{layer: tensor}``).
        read: ``"last"`` token of the rendered text, or ``"completion_last"``, the completion's
            own last token.
        template: ``"auto"`` (chat template when the tokenizer has one), ``"chat"`` or ``"plain"``.
        plain_format: the plain rendering, with ``{prompt}`` and ``{completion}``.
        system_prompt: optional system message.
        batch_size: rows per forward (halved on CUDA out-of-memory).
        max_length: longer items are skipped with a warning (default: the model's maximum).
        cache_dir: directory of the on-disk cache, keyed by model, settings and texts.
        layers_path: dotted path of the block list, when the search cannot find it.

    Returns:
        ``[N, d]`` float32 (or a dict of them), one row per kept item.

    Raises:
        ValueError: for a bad ``read``, batch size, layer or when every item is too long.

    Example:
        >>> acts = collect_activations(model, tok, [("Where is the lamp?", None)], layers=13)  # doctest: +SKIP
        >>> acts.shape  # doctest: +SKIP
        torch.Size([1, 4096])
    """
    if read not in ("last", "completion_last"):
        raise ValueError(f"expected 'last' or 'completion_last' for `read`, got {read!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"expected a positive integer for `batch_size`, got {batch_size!r}")
    if isinstance(items, str | bytes):
        raise TypeError("expected a sequence of items for `items`, got a single string; wrap it in a list")
    single = isinstance(layers, int)
    _, blocks = resolve_layers(model, layers_path)
    layer_list = [int(layers)] if single else [int(i) for i in layers]  # type: ignore[arg-type]
    for i in layer_list:
        if not -len(blocks) <= i < len(blocks):
            raise ValueError(f"expected layers in [{-len(blocks)}, {len(blocks) - 1}], got {i}")
    layer_list = [i % len(blocks) for i in layer_list]
    d = text_config(model).hidden_size
    limit = token_limit(model, max_length)

    opts = {"template": template, "plain_format": plain_format, "system_prompt": system_prompt}
    todo, skipped, texts = [], [], []
    for index, item in enumerate(items):
        rendered = _render_item(tokenizer, item, index, opts)
        upto = rendered.completion_end if read == "completion_last" else None
        ids = encode(tokenizer, rendered, upto=upto)
        texts.append(rendered.text if upto is None else rendered.text[:upto])
        if limit is not None and len(ids) > limit:
            skipped.append(index)
            continue
        todo.append(_Batchable(index=len(todo), ids=ids))
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} item(s) longer than {limit} tokens: indices {skipped[:20]}", stacklevel=2
        )
    if not todo:
        raise ValueError(f"every item is longer than max_length={limit} tokens")

    fields: dict[str, Any] | None = None
    path: Path | None = None
    if cache_dir is not None:
        chat = uses_chat_template(tokenizer, template)
        fields = {
            "cache_version": CACHE_VERSION,
            "model": model_fingerprint(model, layer_list, layers_path),
            "hooks": model_hooks(model),
            "layers": layer_list,
            "read": read,
            "template": "chat" if chat else "plain",
            "chat_template": _sha(str(getattr(tokenizer, "chat_template", "") or "")) if chat else None,
            "plain_format": None if chat else plain_format,
            "system_prompt": None if system_prompt is None else _sha(system_prompt),
            "texts": _sha(json.dumps(texts)),
            "skipped": skipped,
            "dtype": str(next(model.parameters()).dtype),
            "transformers": _transformers_version(),
        }
        path = Path(cache_dir) / _cache_key(fields)
        cached = _load_cached(path, fields, layer_list, len(todo))
        if cached is not None:
            return cached[layer_list[0]] if single else cached

    with torch.inference_mode():
        inference_acts = _run(model, blocks, layer_list, todo, pad_token_id(tokenizer), d, batch_size)
    # Cloned outside inference mode, so callers get ordinary tensors that autograd may use.
    acts = {i: t.clone() for i, t in inference_acts.items()}
    if path is not None and fields is not None:
        _save_cached(path, fields, acts)
    return acts[layer_list[0]] if single else acts


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
