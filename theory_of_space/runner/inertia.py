"""False-belief episodes as the plain records the belief-inertia pipeline reads.

The steering pipeline builds contrastive pairs from :class:`~theory_of_space.steering.inertia.InertiaEpisode`
records, which know nothing of scenes or the env. This module turns a played false-belief episode
into one: changed objects in the start frame (origin at the start cell, north up), and for each
probed false-belief turn the conversation its ``global_fb`` probe sees (the env message's budget
line and footer removed) and that probe's prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from theory_of_space.probes.cogmap import MapEntry, map_prompt
from theory_of_space.probes.false_belief_requests import FalseBeliefEpisode
from theory_of_space.probes.replay import strip_budget_and_footer
from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    ObjectState,
    write_jsonl,
)


def inertia_episode(
    episode: FalseBeliefEpisode, *, seed: int = 0, exploration_map: Mapping[str, MapEntry] | None = None
) -> InertiaEpisode:
    """The pair builder's view of a false-belief episode.

    Args:
        episode: a played episode (``false_belief_episode(result, changed)``).
        seed: the episode seed, kept with every pair.
        exploration_map: the model's last exploration-phase global map (parsed), for pairs whose
            negative repeats the model's own old belief.

    Returns:
        An :class:`InertiaEpisode` whose turns are the probed false-belief turns.
    """
    scene = episode.scene
    changes = tuple(
        ChangedObject(
            name=c.name,
            kind=c.kind,
            old=ObjectState(scene.allocentric(c.cell_from), None if c.facing_from is None else c.facing_from.label),
            new=ObjectState(scene.allocentric(c.cell_to), None if c.facing_to is None else c.facing_to.label),
        )
        for c in episode.changes
    )
    changed_names = {c.name for c in episode.changes}
    turns = []
    for turn in episode.turns:
        messages = list(episode.messages[: turn.message_index + 1])
        context = [{"role": m.role, "content": m.content} for m in messages]
        context[-1]["content"] = strip_budget_and_footer(context[-1]["content"])
        first = tuple(sorted(n for n, t in episode.first_seen.items() if t == turn.turn and n in changed_names))
        turns.append(FalseBeliefTurn(turn.turn, tuple(context), first, global_fb_prompt=map_prompt("global_fb")))
    model_map = None
    if exploration_map is not None:
        model_map = {name: entry.to_dict() for name, entry in exploration_map.items()}
    return InertiaEpisode(scene.scene_id, seed, changes, tuple(turns), model_map)


def write_inertia_episodes(episodes: Iterable[InertiaEpisode], path: str | Path) -> Path:
    """Write episodes as JSON lines, the file ``tos steer pairs --runs`` reads.

    Returns:
        The file written.
    """
    out = Path(path)
    if out.suffix != ".jsonl":
        out = out / "inertia_episodes.jsonl"
    write_jsonl(out, (e.to_dict() for e in episodes))
    return out
