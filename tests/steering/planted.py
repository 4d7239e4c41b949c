"""A tiny model with a planted "old versus new" belief direction, and synthetic false-belief episodes.

The episodes: each scene's exploration message shows objects as global-map JSON entries; the
false-belief turn says ``changed`` and shows one changed object's new entry. The model is a tiny
random Llama plus fixed hooks (the plant), built with the tokenizer so it can read token strings:

* At the output of block ``PLANTED_LAYER`` the component along a unit direction ``u`` is set to a
  belief variable ``s``: ``-BIAS`` up to the answer start (the model leans to its old belief),
  then ``+BETA`` after a token seen only in the recent observation, ``-BETA`` after a token seen
  only in memory (and unchanged otherwise). Along two more directions it writes the recent
  observation's ``x`` and ``y`` (the representation holds the new state).
* At the input of the next block it reads ``s`` (after any steering at the planted layer) and
  erases ``u``, so steering elsewhere cannot reach ``s``.
* At answer positions whose next token is a value (after ``{"position":``, after an ``x`` and
  after ``"facing":``), the LM head adds ``GAIN * s`` to the logits of value tokens seen only in
  the recent observation and subtracts it from those seen only in memory: the answer copies from
  the recent observation when ``s > 0`` and from memory when ``s < 0``.

So inertia lives in ``s`` at one layer; the test checks the pipeline finds it there.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    ObjectState,
    pairs_from_episodes,
)

from .conftest import CHAT_TEMPLATE, SPECIALS

N_LAYERS = 4
HIDDEN = 64
PLANTED_LAYER = 2
BIAS, BETA, GAIN, SCALE = 1.0, 30.0, 2.0, 30.0
NAMES = ["lamp", "cup", "vase", "sofa", "desk", "plant", "clock", "chair"]
ORIENTED = {"lamp", "sofa", "chair", "desk"}
FACINGS = ["north", "east", "south", "west"]
MARKER = "changed"


def _entry(name: str, state: ObjectState) -> str:
    return json.dumps({name: state.entry()})


def make_episodes(n_scenes: int, seed: int = 0) -> list[InertiaEpisode]:
    """Scenes of 4 objects each; 2 change (moved or rotated), each seen at its own false-belief turn."""
    rng = random.Random(seed)
    episodes = []
    for k in range(n_scenes):
        names = rng.sample(NAMES, 4)
        states = {
            n: ObjectState((rng.randint(-4, 4), rng.randint(-4, 4)), rng.choice(FACINGS) if n in ORIENTED else None)
            for n in names
        }
        memory = "seen " + " ".join(_entry(n, s) for n, s in states.items())
        context: list[dict[str, Any]] = [{"role": "user", "content": memory}, {"role": "assistant", "content": "ok"}]
        changes, turns = [], []
        for t, name in enumerate(names[:2]):
            old = states[name]
            if old.facing is not None and rng.random() < 0.5:
                new = ObjectState(old.position, rng.choice([f for f in FACINGS if f != old.facing]))
                kind = "rotate"
            else:
                while True:
                    pos = (rng.randint(-4, 4), rng.randint(-4, 4))
                    if pos[0] != old.position[0] and pos[1] != old.position[1]:
                        break
                new, kind = ObjectState(pos, old.facing), "move"
            changes.append(ChangedObject(name, kind, old, new))
            context = [*context, {"role": "user", "content": f"{MARKER} seen {_entry(name, new)}"}]
            turns.append(FalseBeliefTurn(t, tuple(context), (name,)))
            context = [*context, {"role": "assistant", "content": "ok"}]
        episodes.append(InertiaEpisode(f"scene{k:02d}", k, tuple(changes), tuple(turns)))
    return episodes


def make_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over every word of ``texts`` plus the chat markers."""
    words = sorted({w for t in texts for w in t.split()} - set(SPECIALS))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + words)}
    core = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def corpus(episodes: list[InertiaEpisode]) -> list[str]:
    """Every text the pairs and prompts can contain."""
    pairs = pairs_from_episodes(episodes)
    texts = [m["content"] for p in pairs for m in p.prompt] + [p.positive for p in pairs] + [p.negative for p in pairs]
    return [*texts, "ok", "<|user|> <|assistant|> <|end|> <|system|>"]


class Plant:
    """The fixed hooks of the planted model (see the module docstring)."""

    def __init__(self, model: Any, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(HIDDEN, 3, generator=g))
        self.u, self.rx, self.ry = basis.T  # orthonormal
        self.marker = tokenizer.convert_tokens_to_ids(MARKER)
        self.end = tokenizer.convert_tokens_to_ids("<|end|>")
        self.answer = tokenizer.convert_tokens_to_ids("<|assistant|>")
        vocab = tokenizer.get_vocab()
        self.coord = {i: int(m.group(1)) for t, i in vocab.items() if (m := re.match(r"^\[?(-?\d+)[\],]", t))}
        # Only value tokens (coordinates, facings) are copied; structure tokens are left alone.
        self.values = {i for t, i in vocab.items() if re.search(r"\d|north|east|south|west", t)}
        # Positions whose next token is a value: after `{"position":`, after an x (`[3,`) and
        # after `"facing":`. The head acts only there, as a model that knows the format would.
        self.slots = {i for t, i in vocab.items() if t in ('{"position":', '"facing":') or t.startswith("[")}
        self.vocab_size = len(vocab)
        self.ids: torch.Tensor | None = None
        self.s: torch.Tensor | None = None
        self.info: list[dict[str, Any]] = []
        inner = model.model
        inner.register_forward_pre_hook(self._capture, with_kwargs=True)
        inner.layers[PLANTED_LAYER].register_forward_hook(self._write)
        inner.layers[PLANTED_LAYER + 1].register_forward_pre_hook(self._read)
        model.lm_head.register_forward_hook(self._head)

    def _capture(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids")
        if ids is None:
            ids = args[0]
        if ids.shape[1] == 1 and self.ids is not None:
            raise RuntimeError("the planted model needs uncached forwards (use_cache=False)")
        self.ids = ids
        self.info = [self._row(row.tolist()) for row in ids]

    def _row(self, ids: list[int]) -> dict[str, Any]:
        mark = max((i for i, t in enumerate(ids) if t == self.marker), default=-1)
        start = max((i for i, t in enumerate(ids) if t == self.answer), default=len(ids))
        stop = next((i for i in range(mark + 1, len(ids)) if ids[i] == self.end), len(ids)) if mark >= 0 else -1
        recent = set(ids[mark + 1 : stop]) if mark >= 0 else set()
        memory = set(ids[: max(mark, 0)])
        xy = [self.coord[t] for t in ids[mark + 1 : stop] if t in self.coord][-2:] if mark >= 0 else []
        return {
            "start": start,
            "new_only": (recent - memory) & self.values,
            "old_only": (memory - recent) & self.values,
            "xy": ([*xy, 0, 0])[:2],
        }

    def _write(self, module: Any, args: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        new = hidden.clone()
        assert self.ids is not None
        for b, info in enumerate(self.info):
            row = self.ids[b].tolist()
            s = torch.full((len(row),), -BIAS)
            value = -BIAS
            for t in range(info["start"] + 1, len(row)):
                if row[t] in info["new_only"]:
                    value = BETA
                elif row[t] in info["old_only"]:
                    value = -BETA
                s[t] = value
            h = new[b]
            h = h - (h @ self.u)[:, None] * self.u + s[:, None] * self.u
            h = h - (h @ self.rx)[:, None] * self.rx - (h @ self.ry)[:, None] * self.ry
            h = h + SCALE * (info["xy"][0] * self.rx + info["xy"][1] * self.ry)
            new[b] = h
        return (new, *output[1:]) if isinstance(output, tuple) else new

    def _read(self, module: Any, args: Any) -> Any:
        hidden = args[0]
        self.s = hidden @ self.u  # [B, S], after any steering at the planted layer
        return (hidden - self.s[..., None] * self.u, *args[1:])

    def _head(self, module: Any, args: Any, logits: torch.Tensor) -> torch.Tensor:
        assert self.s is not None
        out = logits.clone()
        for b, info in enumerate(self.info):
            sign = torch.zeros(logits.shape[-1])
            sign[list(info["new_only"])] = 1.0
            sign[list(info["old_only"])] = -1.0
            assert self.ids is not None
            for t in range(info["start"], logits.shape[1]):
                if int(self.ids[b, t]) in self.slots:
                    out[b, t] += GAIN * self.s[b, t] * sign
        return out


def make_planted_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> tuple[Any, Plant]:
    """The tiny Llama with the plant attached."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=HIDDEN,
        intermediate_size=128,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = AutoModelForCausalLM.from_config(config).eval()
    return model, Plant(model, tokenizer, seed)
