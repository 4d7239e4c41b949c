"""Scripted map writers: what the ``oracle`` and ``belief`` agents reply to a probe.

Both read the probe from the last user message (its prompt says which kind) and the exploration from
the assistant replies before it (or the history prompt of a passive episode), which they replay on the
scene, so they answer through the same path as a model.

- **oracle** writes the true map of what was observed: every observed item and door and its true pose
  (global), the items in view (local), and the truly unexplored letters (fog). It scores 1.0 on every
  per-turn diagnostic it is eligible for.
- **belief** writes the knowledge solver's best guess (a non-model baseline): each observed item at the
  candidate cell nearest the centre of its candidate set, the agent at its anchor's guessed cell, facings
  as observed; the fog letters are judged from the guessed cells of its own observations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from theory_of_space.agents.base import Message
from theory_of_space.env.knowledge import INITIAL_POS, KnowledgeSolver
from theory_of_space.probes.cogmap import AGENT, MAP_PROMPTS, MapEntry, true_cogmap
from theory_of_space.probes.fog import ObserveRecord, is_explored, read_fog_map
from theory_of_space.probes.replay import EpisodeReplay, replay_episode
from theory_of_space.world.geometry import Cell, Facing, to_local
from theory_of_space.world.scene import Scene

FOG_HEADING = "## Unexplored regions"
Writer = Literal["oracle", "belief"]
_LOCAL_FACINGS = {Facing.NORTH: "+y", Facing.EAST: "+x", Facing.SOUTH: "-y", Facing.WEST: "-x"}


def probe_kind_of(text: str) -> str | None:
    """The probe a user message asks for (``global``, ``local``, ``global_fb``, ``fog``), or ``None``."""
    for kind in ("local", "global_fb", "global"):
        if MAP_PROMPTS[kind] in text:
            return kind
    return "fog" if FOG_HEADING in text else None


def write_probe_reply(
    writer: Writer, scene: Scene, messages: Sequence[Message], *, query_enabled: bool = True
) -> str | None:
    """The writer's reply to the probe in the last user message, or ``None`` when it asks no probe."""
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    kind = probe_kind_of(last)
    if kind is None:
        return None
    # the writers read the final knowledge only: no per-turn candidate counts
    replay = replay_episode(scene, messages, query_enabled=query_enabled, solver=False)
    if kind == "fog":
        letters = read_fog_map(last)
        guess = _oracle_fog(replay, letters) if writer == "oracle" else _belief_fog(replay, letters)
        answer = json.dumps({"unexplored": guess})
    else:
        entries = _oracle_map(replay, kind) if writer == "oracle" else _belief_map(replay, kind)
        answer = json.dumps(_as_json(scene, entries, kind))
    return f"THINK: Written by the {writer} map writer.\nFINAL ANSWER: {answer}"


def _oracle_map(replay: EpisodeReplay, kind: str) -> dict[str, MapEntry]:
    scene = replay.scene
    if not replay.turns:
        return true_cogmap(scene, "global", names=[])
    last = replay.turns[-1]
    if kind == "local":
        return true_cogmap(scene, "local", pose=last.pose, names=last.visible)
    names = None if kind == "global_fb" else last.observed
    return true_cogmap(scene, "global", pose=last.pose, names=names)


def _oracle_fog(replay: EpisodeReplay, letters: dict[str, Cell]) -> list[str]:
    scene, observations = replay.scene, replay.observations
    return sorted(letter for letter, cell in letters.items() if not is_explored(scene, observations, cell))


def _guess(solver: KnowledgeSolver, name: str) -> tuple[float, float]:
    """The candidate cell nearest the centre of ``name``'s candidate set (the origin for ``initial_pos``)."""
    if name == INITIAL_POS:
        return (0.0, 0.0)
    cells = solver.candidates(name)
    mx = sum(c[0] for c in cells) / len(cells)
    my = sum(c[1] for c in cells) / len(cells)
    best = min(cells, key=lambda c: ((c[0] - mx) ** 2 + (c[1] - my) ** 2, c))
    return (float(best[0]), float(best[1]))


def _belief_map(replay: EpisodeReplay, kind: str) -> dict[str, MapEntry]:
    session = replay.session
    assert session is not None
    solver = session.knowledge()
    scene = replay.scene
    observed = [item for item in scene.items if session.coverage.has_observed(item.name)]
    here = _guess(solver, session.anchor)
    if kind == "local":
        visible = set(replay.turns[-1].visible) if replay.turns else set()
        local = {}
        for item in observed:
            if item.name not in visible:
                continue
            x, y = _guess(solver, item.name)
            offset = to_local((round(x - here[0]), round(y - here[1])), session.facing)
            facing = None if item.facing is None else Facing((item.facing - session.facing) % 4)
            local[item.name] = MapEntry((float(offset[0]), float(offset[1])), facing)
        return local
    entries = {item.name: MapEntry(_guess(solver, item.name), item.facing) for item in observed}
    entries[AGENT] = MapEntry(here, session.facing)
    return entries


def _belief_fog(replay: EpisodeReplay, letters: dict[str, Cell]) -> list[str]:
    session = replay.session
    assert session is not None
    solver = session.knowledge()
    start = replay.scene.start.cell
    guessed = []
    for o in replay.observations:
        x, y = _guess(solver, o.anchor)
        guessed.append(ObserveRecord((start[0] + round(x), start[1] + round(y)), o.facing, o.rooms, o.anchor))
    return sorted(letter for letter, cell in letters.items() if not is_explored(replay.scene, guessed, cell))


def _as_json(scene: Scene, entries: dict[str, MapEntry], kind: str) -> dict:
    """A map in the probe's JSON format: integer positions, facing keys only where there is a facing."""
    out = {}
    for name, entry in entries.items():
        item = scene.item(name)
        label = AGENT if name == AGENT or item is None else item.name
        record: dict = {"position": [round(entry.position[0]), round(entry.position[1])]}
        if entry.facing is not None:
            record["facing"] = _LOCAL_FACINGS[entry.facing] if kind == "local" else entry.facing.label
        out[label] = record
    return {"origin": "agent", "objects": out} if kind == "local" else out
