"""A planted "model" that plays the real false-belief env, with its belief read from its residual stream.

The steering pipeline's last step runs through the local client and the env; a random tiny model
writes neither actions nor maps, so it cannot show that steering there moves inertia. The puppet is
a module the local client drives like a causal LM (``generate`` on left-padded ids, a byte-level
tokenizer that decodes exactly, a block list the steering hooks find):

* Its residual stream holds a belief value: block 0 writes 0 along a unit direction ``u`` at every
  position. ``s`` is the value along ``u`` at the last prompt position after the blocks, so a
  steerer on block 0 moves ``s`` and nothing else does.
* Block 1 writes, at the last position of a prompt that ends with the start of an object's JSON
  entry (``{"lamp": {"position": [``), that object's last observed state: ``x`` and ``y`` in the
  start frame along two more directions and its facing one-hot along four others. The
  representation therefore always holds the new state of a changed object seen again, whatever
  the map says (an object counts as seen again when its name appears in an env message of the
  false-belief phase).
* In a false-belief turn it plays the scripted ``updating`` plan, and its ``THINK:`` line notes
  the change when ``s > 0.5`` (``noted: things changed``) or denies it when ``s < -0.5``
  (``noted: nothing changed``).
* Asked a map, it writes the true map, except that each changed object is shown in its new state
  when ``e + offset(object) > 0`` and in its old state otherwise, with ``e = s + 2·(notes for −
  notes against)`` over its own earlier replies and ``offset`` a fixed value in (−1, 1) per name.

So unsteered (``s = 0``) about half the changed objects show inertia; steering towards ``u`` lowers
it, away from ``u`` raises it; steering the phase acts through the notes, steering the probes
through ``s`` directly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from torch import nn
from transformers import GenerationConfig, PretrainedConfig, PreTrainedTokenizerFast

from theory_of_space.agents.base import Message
from theory_of_space.agents.false_belief import FalseBeliefAgent, belief_map, map_reply
from theory_of_space.env.false_belief import FALSE_BELIEF_HEADING
from theory_of_space.probes.cogmap import map_prompt
from theory_of_space.world.scene import Scene

HIDDEN = 8
ROLES = ("system", "user", "assistant")
MARKS = {role: f"<|{role}|>" for role in ROLES}
END = "<|end|>"
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NOTE_FOR, NOTE_AGAINST = "noted: things changed", "noted: nothing changed"
NOTE_WEIGHT = 2.0
U = torch.eye(HIDDEN)[0]
FACING_DIMS = {"north": 3, "east": 4, "south": 5, "west": 6}
ENTRY = re.compile(r'\{"([^"]+)": \{"position": \[$')


def make_tokenizer() -> PreTrainedTokenizerFast:
    """Bytes as tokens (no merges), so any text round-trips exactly; chat markers as special tokens."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tok.add_special_tokens({"additional_special_tokens": [*MARKS.values(), END]})
    tok.chat_template = TEMPLATE
    return tok


def offset(name: str) -> float:
    """A fixed value in (−1, 1) per object name: how readily the puppet updates that object."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * 2 - 1


class _Block(nn.Module):
    def __init__(self, write: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]) -> None:
        super().__init__()
        self.write = write

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.write(hidden, attention_mask)


class _Body(nn.Module):
    def __init__(self, state: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.state = state
        self.layers = nn.ModuleList([_Block(self._belief), _Block(self._object)])
        self._ids: torch.Tensor | None = None

    def _belief(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return hidden - (hidden @ U)[..., None] * U  # s = 0 unless steered here

    def _object(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        assert self._ids is not None
        out = hidden.clone()
        for b in range(hidden.shape[0]):
            row = self._ids[b] if mask is None else self._ids[b][mask[b].bool()]
            out[b, -1] = out[b, -1] + self.state(row)
        return out

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        self._ids = input_ids
        hidden = torch.zeros(*input_ids.shape, HIDDEN)
        for block in self.layers:
            hidden = block(hidden, attention_mask)
        return hidden


class Puppet(nn.Module):
    """See the module docstring. ``scenes`` maps each episode's first env message to its scene."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast, scenes: dict[str, tuple[Scene, Scene, Any]]) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.scenes = scenes
        self.config = PretrainedConfig(hidden_size=HIDDEN, num_hidden_layers=2)
        self.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id)
        self.model = _Body(self._state)
        self.embed = nn.Embedding(len(tokenizer), HIDDEN)  # where inputs go; its values are never used
        self.beliefs: list[float] = []
        """``s`` of every request, in order."""

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask)

    def _state(self, ids: torch.Tensor) -> torch.Tensor:
        """At the start of an object's JSON entry, its last observed state along x, y and facing dims."""
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        out = torch.zeros(HIDDEN)
        answer = text.rsplit(MARKS["assistant"], 1)[-1]
        match = ENTRY.search(answer)
        if match is None:
            return out
        messages = parse_chat(text)
        scene, changed, _ = self.scenes[messages[1].content]
        name = match.group(1)
        phase = next((i for i, m in enumerate(messages) if FALSE_BELIEF_HEADING in m.content), None)
        seen = phase is not None and any(name in m.content for m in messages[phase + 1 :] if m.role == "user")
        entry = belief_map(changed if seen else scene, [name], scene.start).get(name)
        if entry is not None:
            out[1], out[2] = entry.position
            if entry.facing is not None:
                out[FACING_DIMS[entry.facing.label]] = 1.0
        return out

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int, **_: Any):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)
        rows = []
        for b in range(input_ids.shape[0]):
            s = float(hidden[b, -1] @ U)
            self.beliefs.append(s)
            text = self.tokenizer.decode(input_ids[b][attention_mask[b].bool()], skip_special_tokens=False)
            reply = self.reply(parse_chat(text), s)
            ids = self.tokenizer(reply, add_special_tokens=False)["input_ids"][: max_new_tokens - 1]
            rows.append([*ids, self.tokenizer.eos_token_id])
        width = max(len(r) for r in rows)
        new = torch.tensor([r + [self.tokenizer.pad_token_id] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)

    def reply(self, messages: list[Message], s: float) -> str:
        scene, changed, changes = self.scenes[messages[1].content]
        last = messages[-1].content
        if map_prompt("global_fb") in last or map_prompt("global") in last:
            return self._map(messages, s, scene, changed, changes, fb=map_prompt("global_fb") in last)
        agent = FalseBeliefAgent("updating", scene, changed, changes)
        text = agent.act(messages).text
        if FALSE_BELIEF_HEADING in "".join(m.content for m in messages if m.role == "user"):
            note = NOTE_FOR if s > 0.5 else NOTE_AGAINST if s < -0.5 else "no note"
            text = text.replace("THINK:", f"THINK: {note}.", 1)
        return text

    def _map(self, messages: list[Message], s: float, scene: Scene, changed: Scene, changes: Any, *, fb: bool) -> str:
        names = [o.name for o in scene.objects]
        entries = belief_map(scene, names, scene.start)
        if fb:
            replies = [m.content for m in messages if m.role == "assistant"]
            notes = sum(NOTE_FOR in r for r in replies) - sum(NOTE_AGAINST in r for r in replies)
            e = s + NOTE_WEIGHT * max(-1, min(1, notes))
            updated = [c.name for c in changes if e + offset(c.name) > 0]
            entries.update(belief_map(changed, updated, scene.start))
        return map_reply(entries)


def parse_chat(text: str) -> list[Message]:
    """The messages of a prompt rendered with :data:`TEMPLATE` (the open assistant turn dropped)."""
    out = []
    rest = text
    while True:
        starts = [(rest.find(mark), role) for role, mark in MARKS.items() if rest.find(mark) >= 0]
        if not starts:
            return out
        at, role = min(starts)
        body = rest[at + len(MARKS[role]) :]
        end = body.find(END)
        if end < 0:
            return out
        out.append(Message(role, body[:end]))  # type: ignore[arg-type]
        rest = body[end + len(END) :]


def scene_index(scenes: Sequence[Scene], env_id: str, **env_kwargs: Any) -> dict[str, tuple[Scene, Scene, Any]]:
    """First env message → (scene, changed scene, changes), as the env makes them."""
    index = {}
    for scene in scenes:
        env = gym.make(env_id, reward="none", **env_kwargs)
        obs, _ = env.reset(options={"scene": scene})
        u = env.unwrapped
        index[obs["text"]] = (scene, u.false_belief_scene, u.false_belief_changes)
        env.close()
    return index


def planted_steerer(sign: float, theta: float) -> Any:
    """A CAA steerer along ``u`` whose strength moves ``s`` by ``sign · theta`` median norms."""
    from theory_of_space.steering import CAA
    from theory_of_space.steering.inertia import theta_to_T

    g = torch.Generator().manual_seed(0)
    pos = U + 0.05 * torch.randn(64, HIDDEN, generator=g)
    neg = -U + 0.05 * torch.randn(64, HIDDEN, generator=g)
    caa = CAA().fit(pos, neg)
    assert caa.fit_info is not None
    caa.T = theta_to_T(sign * theta, caa.displacement(1.0), caa.fit_info.median_norm)
    return caa
