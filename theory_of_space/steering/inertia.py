"""Belief-inertia pairs and the bookkeeping of a steering sweep: pure functions on plain records.

A false-belief episode is read as an :class:`InertiaEpisode`: the objects that changed (old and
new state in the start frame, where the origin is the agent's start cell and north is its start
facing), and the false-belief turns with their conversation so far. Each changed object gives one
contrastive pair at the turn where it is first re-observed: the same prompt, a completion that
reports the new state and one that repeats the old belief, differing only in the changed field.

Nothing here imports torch; the model-driven steps live in ``inertia_run.py``.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ChangeKind = Literal["move", "rotate"]
OldSource = Literal["ground_truth", "model"]
ProbeKind = Literal["object", "global_fb"]
FACINGS = ("north", "east", "south", "west")
PAIRS_VERSION = 1

OBJECT_PROBE_QUESTIONS = (
    "Represent what you now believe about the {name} as a JSON map. Origin [0, 0] is your initial "
    "position and your initial facing is north. Give its {fields}. Reply with the JSON only, e.g. {example}.",
    "Where is the {name} now, and {how}? Use the global map frame: [0, 0] is where you started and you "
    "started facing north. Reply with the JSON only, e.g. {example}.",
    "Update your map for the {name}. Report its {fields} in the frame of your start (origin [0, 0], "
    "facing north) as JSON only, e.g. {example}.",
)


@dataclass(frozen=True)
class ObjectState:
    """Where an object is and which way it faces (``None`` for objects without a facing)."""

    position: tuple[int, int]
    facing: str | None = None

    def __post_init__(self) -> None:
        if len(self.position) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in self.position):
            raise ValueError(f"expected two integers for `position`, got {self.position!r}")
        if self.facing is not None and self.facing not in FACINGS:
            raise ValueError(f"expected one of {FACINGS} or None for `facing`, got {self.facing!r}")

    def entry(self) -> dict[str, Any]:
        """The global-map JSON entry: ``{"position": [x, y]}`` plus ``"facing"`` when oriented."""
        out: dict[str, Any] = {"position": list(self.position)}
        if self.facing is not None:
            out["facing"] = self.facing
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> ObjectState:
        """Parse ``{"position": [x, y], "facing": ...}``, naming ``where`` on error."""
        try:
            x, y = data["position"]
            return cls(position=(x, y), facing=data.get("facing"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: expected {{'position': [x, y], 'facing': ...}}, got {data!r} ({exc})") from exc


@dataclass(frozen=True)
class ChangedObject:
    """One object of the false-belief perturbation: moved or rotated, never both."""

    name: str
    kind: ChangeKind
    old: ObjectState
    new: ObjectState

    def __post_init__(self) -> None:
        if self.kind not in ("move", "rotate"):
            raise ValueError(f"expected 'move' or 'rotate' for `kind` of {self.name!r}, got {self.kind!r}")
        moved = self.old.position != self.new.position
        turned = self.old.facing != self.new.facing
        if (self.kind == "move") != moved or (self.kind == "rotate") != turned:
            raise ValueError(f"object {self.name!r}: a {self.kind} must change exactly its {_field(self.kind)}")

    @property
    def field(self) -> str:
        """The changed field: ``"position"`` or ``"facing"``."""
        return _field(self.kind)


def _field(kind: str) -> str:
    return "position" if kind == "move" else "facing"


@dataclass(frozen=True)
class FalseBeliefTurn:
    """One false-belief turn, as the probe of that turn sees it.

    Attributes:
        turn: index of the turn within the false-belief phase (0-based).
        context: chat messages up to and including this turn's observation.
        first_seen: changed objects first re-observed at this turn.
        global_fb_prompt: the full-map probe asked after this turn, when stored.
    """

    turn: int
    context: tuple[dict[str, Any], ...]
    first_seen: tuple[str, ...]
    global_fb_prompt: str | None = None


@dataclass(frozen=True)
class InertiaEpisode:
    """What the pair builder needs from one false-belief episode.

    Attributes:
        scene: scene identifier (splits are by scene).
        seed: episode seed.
        changes: the changed objects.
        turns: the false-belief turns, in order.
        model_map: the model's last exploration-phase global map, name -> entry (for
            ``old_source="model"``); ``None`` when not stored.
    """

    scene: str
    seed: int
    changes: tuple[ChangedObject, ...]
    turns: tuple[FalseBeliefTurn, ...]
    model_map: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (one line of an episodes file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "episode") -> InertiaEpisode:
        """Inverse of :meth:`to_dict`, with errors that name ``where`` and the field."""
        try:
            changes = tuple(
                ChangedObject(
                    name=str(c["name"]),
                    kind=c["kind"],
                    old=ObjectState.from_dict(c["old"], f"{where}.changes[{i}].old"),
                    new=ObjectState.from_dict(c["new"], f"{where}.changes[{i}].new"),
                )
                for i, c in enumerate(data["changes"])
            )
            turns = tuple(
                FalseBeliefTurn(
                    turn=int(t["turn"]),
                    context=tuple(dict(m) for m in t["context"]),
                    first_seen=tuple(t["first_seen"]),
                    global_fb_prompt=t.get("global_fb_prompt"),
                )
                for t in data["turns"]
            )
            return cls(
                scene=str(data["scene"]),
                seed=int(data["seed"]),
                changes=changes,
                turns=turns,
                model_map=data.get("model_map"),
            )
        except KeyError as exc:
            raise ValueError(f"{where}: missing field {exc.args[0]!r}") from exc


@dataclass(frozen=True)
class InertiaPair:
    """One contrastive pair: the same prompt, the new state (positive) and the old belief (negative)."""

    id: str
    scene: str
    seed: int
    turn: int
    object: str
    kind: ChangeKind
    old: dict[str, Any]
    new: dict[str, Any]
    prompt: list[dict[str, Any]]
    positive: str
    negative: str
    probe: ProbeKind = "object"
    old_source: OldSource = "ground_truth"

    def to_dict(self) -> dict[str, Any]:
        """One line of ``pairs.jsonl``."""
        return {"version": PAIRS_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "pair") -> InertiaPair:
        """Inverse of :meth:`to_dict`."""
        names = {f for f in cls.__dataclass_fields__}
        missing = sorted(names - set(data) - {"probe", "old_source"})
        if missing:
            raise ValueError(f"{where}: missing field(s) {missing}")
        return cls(**{k: v for k, v in data.items() if k in names})


def _object_question(change: ChangedObject, rng: random.Random, paraphrase: bool) -> str:
    # An oriented object is always asked for position and facing, so the question does not
    # reveal whether it moved or turned.
    oriented = change.new.facing is not None
    fields = "position and facing" if oriented else "position"
    how = "which way does it face" if oriented else "what cell is it on"
    example = json.dumps({change.name: ObjectState((0, 0), "north" if oriented else None).entry()})
    template = rng.choice(OBJECT_PROBE_QUESTIONS) if paraphrase else OBJECT_PROBE_QUESTIONS[0]
    return template.format(name=change.name, fields=fields, how=how, example=example)


def _completion(name: str, state: ObjectState) -> str:
    return json.dumps({name: state.entry()})


def _model_old_state(change: ChangedObject, model_map: Mapping[str, Any] | None) -> ObjectState | None:
    """The model's stored belief in the changed field, with the other field from the new state."""
    if not model_map or not isinstance(model_map.get(change.name), Mapping):
        return None
    entry = model_map[change.name]
    if change.kind == "move":
        pos = entry.get("position")
        if not (isinstance(pos, list | tuple) and len(pos) == 2 and all(isinstance(v, int | float) for v in pos)):
            return None
        rounded = (round(pos[0]), round(pos[1]))
        return None if rounded == change.new.position else ObjectState(rounded, change.new.facing)
    facing = entry.get("facing")
    if facing not in FACINGS or facing == change.new.facing:
        return None
    return ObjectState(change.new.position, facing)


def pairs_from_episodes(
    episodes: Iterable[InertiaEpisode],
    *,
    old_source: OldSource = "ground_truth",
    probe: ProbeKind = "object",
    paraphrase: bool = False,
    seed: int = 0,
) -> list[InertiaPair]:
    """One pair per changed object, at the false-belief turn where it is first re-observed.

    Args:
        episodes: false-belief episodes.
        old_source: ``"ground_truth"`` (the negative repeats the pre-change state) or ``"model"``
            (it repeats the model's last exploration-phase map entry; the pair is skipped when
            that entry is missing or already correct).
        probe: ``"object"`` asks about that object alone; ``"global_fb"`` uses the stored
            full-map probe of the turn.
        paraphrase: draw the object question from a few paraphrases (seeded).
        seed: seed of the paraphrase draws.

    Returns:
        The pairs, in episode, turn and change order.

    Raises:
        ValueError: for bad settings, or ``probe="global_fb"`` on a turn without a stored probe.

    Example:
        >>> change = ChangedObject("lamp", "move", ObjectState((1, 2)), ObjectState((4, -1)))
        >>> turn = FalseBeliefTurn(0, ({"role": "user", "content": "You see the lamp."},), ("lamp",))
        >>> pair = pairs_from_episodes([InertiaEpisode("s0", 0, (change,), (turn,))])[0]
        >>> pair.positive, pair.negative
        ('{"lamp": {"position": [4, -1]}}', '{"lamp": {"position": [1, 2]}}')
    """
    if old_source not in ("ground_truth", "model"):
        raise ValueError(f"expected 'ground_truth' or 'model' for `old_source`, got {old_source!r}")
    if probe not in ("object", "global_fb"):
        raise ValueError(f"expected 'object' or 'global_fb' for `probe`, got {probe!r}")
    rng = random.Random(seed)
    pairs: list[InertiaPair] = []
    for episode in episodes:
        by_name = {c.name: c for c in episode.changes}
        done: set[str] = set()
        for turn in episode.turns:
            for name in turn.first_seen:
                change = by_name.get(name)
                if change is None or name in done:
                    continue
                done.add(name)
                old = change.old if old_source == "ground_truth" else _model_old_state(change, episode.model_map)
                if old is None:
                    continue
                if probe == "object":
                    question = _object_question(change, rng, paraphrase)
                elif turn.global_fb_prompt is None:
                    raise ValueError(f"scene {episode.scene!r} turn {turn.turn}: no stored `global_fb_prompt`")
                else:
                    question = turn.global_fb_prompt
                pairs.append(
                    InertiaPair(
                        id=f"{episode.scene}/{episode.seed}/{turn.turn}/{name}",
                        scene=episode.scene,
                        seed=episode.seed,
                        turn=turn.turn,
                        object=name,
                        kind=change.kind,
                        old=old.entry(),
                        new=change.new.entry(),
                        prompt=[*turn.context, {"role": "user", "content": question}],
                        positive=_completion(name, change.new),
                        negative=_completion(name, old),
                        probe=probe,
                        old_source=old_source,
                    )
                )
    return pairs


def build_inertia_pairs(runs: str | Path | Sequence[InertiaEpisode], **options: Any) -> list[InertiaPair]:
    """Pairs from stored episodes (see :func:`read_inertia_episodes`) or from episodes.

    ``options`` are those of :func:`pairs_from_episodes`.

    Example:
        >>> pairs = build_inertia_pairs("runs/fb-text")  # doctest: +SKIP
    """
    episodes = read_inertia_episodes(runs) if isinstance(runs, str | Path) else list(runs)
    return pairs_from_episodes(episodes, **options)


def read_inertia_episodes(source: str | Path) -> list[InertiaEpisode]:
    """The episodes of a run folder of ``tos run`` with the false-belief phase (every finished
    false-belief episode in it), of an episodes ``.jsonl`` file, or of a folder holding
    ``inertia_episodes.jsonl``.

    Raises:
        FileNotFoundError: naming the path, when it is none of these.
        ValueError: a run folder without a finished false-belief episode, or a malformed record.
    """
    path = Path(source)
    if (path / "run.json").is_file():
        from theory_of_space.runner.inertia import read_run_inertia_episodes

        episodes = read_run_inertia_episodes(path)
        if not episodes:
            raise ValueError(
                f"{path}: no finished false-belief episode in this run; run it with the false_belief phase "
                "(tos run --phases explore,false_belief) and a model, updating or inertial agent"
            )
        return episodes
    if path.is_dir():
        path = path / "inertia_episodes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{source}: not a run folder (no run.json) and no episodes file at {path}")
    return read_episodes(path)


def read_episodes(path: str | Path) -> list[InertiaEpisode]:
    """Episodes from a JSONL file of :meth:`InertiaEpisode.to_dict` lines.

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: naming the file, line and field of a malformed record.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no episodes file {p}")
    episodes = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}:{n}: invalid JSON ({exc.msg})") from exc
            episodes.append(InertiaEpisode.from_dict(row, f"{p}:{n}"))
    return episodes


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write rows as JSON lines, creating the parent folder."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(dict(r)) + "\n" for r in rows))


def read_pairs(path: str | Path) -> list[InertiaPair]:
    """Pairs from a ``pairs.jsonl`` file, with errors naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no pairs file {p}")
    out = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        if line.strip():
            try:
                out.append(InertiaPair.from_dict(json.loads(line), f"{p}:{n}"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}:{n}: invalid JSON ({exc.msg})") from exc
    if not out:
        raise ValueError(f"{p}: no pairs")
    return out


# -- splits and intervals ----------------------------------------------------------------------------


def scene_folds(scenes: Iterable[str], n_folds: int = 2, *, seed: int = 0) -> dict[str, int]:
    """Assign each distinct scene to one of ``n_folds`` folds, balanced and seeded.

    Raises:
        ValueError: with fewer scenes than folds.

    Example:
        >>> sorted(scene_folds(["a", "b", "c", "a"], 2).values())
        [0, 0, 1]
    """
    unique = sorted(set(scenes))
    if n_folds < 2 or len(unique) < n_folds:
        raise ValueError(f"expected at least {max(n_folds, 2)} scenes for {n_folds} folds, got {len(unique)}")
    random.Random(seed).shuffle(unique)
    return {scene: i % n_folds for i, scene in enumerate(unique)}


def validation_scenes(scenes: Iterable[str], fraction: float = 0.25, *, seed: int = 0) -> set[str]:
    """A seeded subset of at least one scene (and not all of them) used to choose the layer and T."""
    unique = sorted(set(scenes))
    if len(unique) < 2:
        raise ValueError(f"expected at least 2 fitting scenes to hold some out for validation, got {len(unique)}")
    k = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    return set(random.Random(seed + 1).sample(unique, k))


def bootstrap_interval(
    values: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile bootstrap interval of the mean, resampling the values (one per scene).

    Returns:
        ``(mean, low, high)``; NaNs when ``values`` is empty.

    Example:
        >>> m, lo, hi = bootstrap_interval([0.1, 0.3, 0.2, 0.4])
        >>> lo <= m <= hi
        True
    """
    vals = [float(v) for v in values if not math.isnan(float(v))]
    if not vals:
        return math.nan, math.nan, math.nan
    rng = random.Random(seed)
    n = len(vals)
    means = sorted(sum(rng.choices(vals, k=n)) / n for _ in range(n_boot))
    lo_i = math.floor((1 - level) / 2 * (n_boot - 1))
    hi_i = math.ceil((1 + level) / 2 * (n_boot - 1))
    return sum(vals) / n, means[lo_i], means[hi_i]


def per_scene_means(scenes: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    """Mean of ``values`` per scene (NaNs left out; a scene with none gives NaN)."""
    sums: dict[str, list[float]] = {}
    for s, v in zip(scenes, values, strict=True):
        sums.setdefault(s, [])
        if not math.isnan(float(v)):
            sums[s].append(float(v))
    return {s: (sum(v) / len(v) if v else math.nan) for s, v in sums.items()}


def paired_differences(
    scenes: Sequence[str], steered: Sequence[float], unsteered: Sequence[float], **bootstrap: Any
) -> dict[str, float]:
    """Steered minus unsteered, averaged per scene, then over scenes with a bootstrap interval.

    Returns:
        ``{"mean", "low", "high", "n_scenes"}``.
    """
    a, b = per_scene_means(scenes, steered), per_scene_means(scenes, unsteered)
    diffs = [a[s] - b[s] for s in a if not (math.isnan(a[s]) or math.isnan(b[s]))]
    mean, low, high = bootstrap_interval(diffs, **bootstrap)
    return {"mean": mean, "low": low, "high": high, "n_scenes": len(diffs)}


# -- sweep bookkeeping -----------------------------------------------------------------------------


DEFAULT_THETAS = (-0.2, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def theta_to_T(theta: float, unit_displacement: float, median_norm: float) -> float:
    """The strength ``T`` whose displacement is ``theta`` times the median activation norm.

    ``unit_displacement`` is ``steerer.displacement(1.0)``; the sign of ``theta`` is kept, so a
    negative ``theta`` steers towards the negative class.
    """
    if not (unit_displacement > 0 and median_norm > 0):
        raise ValueError(f"expected positive displacement and norm, got {unit_displacement} and {median_norm}")
    return theta * median_norm / unit_displacement


def default_layers(n_layers: int, low: float = 0.3, high: float = 0.6) -> list[int]:
    """Blocks from ``low`` to ``high`` of the depth (at least one)."""
    first, last = math.floor(low * n_layers), math.ceil(high * n_layers)
    return list(range(first, max(first + 1, min(last, n_layers))))


@dataclass
class SweepRow:
    """One point of the sweep: method × layer × θ × fold, on that fold's validation scenes.

    Attributes:
        method: steering method (``"unsteered"`` for the reference row).
        layer: steered block.
        theta: relative displacement (displacement / median ‖a‖ at the layer).
        T: the strength used.
        fold: the held-out fold whose fitting half this row was tuned on.
        split: ``"validation"`` or ``"held_out"``.
        margin: mean preference margin log p(pos) − log p(neg).
        inertia: fraction of pairs whose margin is negative (the old state is preferred).
        h_before, h_after: mean sketch-barrier value of prompt-end activations, before and after.
        h_pos_before, h_pos_after: fraction of those with ``h >= 0``.
        probe: generation metrics (inertia, correctness, parse-valid rate), when generated.
    """

    method: str
    layer: int
    theta: float
    T: float
    fold: int
    split: str
    margin: float
    inertia: float
    h_before: float = math.nan
    h_after: float = math.nan
    h_pos_before: float = math.nan
    h_pos_after: float = math.nan
    probe: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """One line of ``sweep.jsonl``."""
        return asdict(self)


def choose_layer(rows: Sequence[SweepRow], *, method: str = "caa", theta: float = 0.1) -> int:
    """The layer where ``method`` at ``theta`` most improves the validation margin over unsteered.

    Raises:
        ValueError: when no row matches.
    """
    base = {r.layer: r.margin for r in rows if r.method == "unsteered" and r.split == "validation"}
    gains = {
        r.layer: r.margin - base.get(r.layer, 0.0)
        for r in rows
        if r.method == method and math.isclose(r.theta, theta) and r.split == "validation"
    }
    if not gains:
        raise ValueError(f"no validation rows for method {method!r} at theta={theta}")
    return max(sorted(gains), key=lambda layer: gains[layer])


def best_points(rows: Sequence[SweepRow], *, k: int = 3) -> list[SweepRow]:
    """The ``k`` validation rows with the highest margin per method (θ > 0 only)."""
    out: list[SweepRow] = []
    methods = sorted({r.method for r in rows if r.method != "unsteered"})
    for m in methods:
        cands = [r for r in rows if r.method == m and r.split == "validation" and r.theta > 0]
        out += sorted(cands, key=lambda r: -r.margin)[:k]
    return out


def select_point(candidates: Sequence[SweepRow], unsteered: SweepRow, *, max_valid_drop: float = 0.05) -> SweepRow:
    """The candidate with the lowest inertia among those that keep the parse-valid rate.

    The inertia is the generation metric's mean of position and orientation inertia when the
    rows were generated, else the forced-choice inertia. A candidate whose parse-valid rate is
    more than ``max_valid_drop`` below the unsteered one is left out; when none remains, the
    unsteered row is returned.
    """

    def inertia(r: SweepRow) -> float:
        return r.probe.get("inertia", r.inertia) if r.probe else r.inertia

    def valid(r: SweepRow) -> float:
        return r.probe.get("parse_valid", 1.0) if r.probe else 1.0

    kept = [r for r in candidates if valid(r) >= valid(unsteered) - max_valid_drop]
    if not kept:
        return unsteered
    return min(kept, key=lambda r: (inertia(r), -r.margin, r.method, r.layer, r.theta))


# -- scoring generated object answers ----------------------------------------------------------------


def _json_candidates(text: str) -> list[Any]:
    """Every outermost balanced ``{...}`` in ``text`` that parses as JSON."""
    found, depth, start = [], 0, -1
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(text[start : i + 1]))
    return found


def score_object_answer(text: str, pair: InertiaPair) -> dict[str, Any]:
    """Which state a generated answer reports for the pair's object, in the changed field.

    Returns:
        ``{"valid": bool, "state": "new" | "old" | "other" | None}``; ``valid`` is False when no
        JSON entry for the object with the changed field can be read.

    Example:
        >>> p = pairs_from_episodes([InertiaEpisode("s", 0, (ChangedObject("cup", "rotate",
        ...     ObjectState((1, 1), "north"), ObjectState((1, 1), "east")),), (FalseBeliefTurn(0, (), ("cup",)),))])[0]
        >>> score_object_answer('FINAL ANSWER: {"cup": {"position": [1, 1], "facing": "north"}}', p)
        {'valid': True, 'state': 'old'}
    """
    key = "position" if pair.kind == "move" else "facing"
    for cand in sorted(_json_candidates(text), key=lambda c: -len(json.dumps(c))):
        entry = cand.get(pair.object) if isinstance(cand, dict) else None
        if not isinstance(entry, dict) or key not in entry:
            continue
        value = entry[key]
        if key == "position":
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
                continue
            value = [round(v) for v in value]
        state = "new" if value == pair.new[key] else "old" if value == pair.old[key] else "other"
        return {"valid": True, "state": state}
    return {"valid": False, "state": None}


def probe_metrics(scores: Sequence[Mapping[str, Any]], kinds: Sequence[str]) -> dict[str, float]:
    """Inertia and correctness (position, orientation and their mean) and the parse-valid rate.

    Inertia is the fraction of valid answers that report the old state, correctness the fraction
    that report the new one; both are NaN for a kind with no valid answer.
    """

    def rate(kind: str | None, state: str) -> float:
        rows = [s for s, k in zip(scores, kinds, strict=True) if s["valid"] and kind in (None, k)]
        return sum(s["state"] == state for s in rows) / len(rows) if rows else math.nan

    out = {
        "inertia_pos": rate("move", "old"),
        "inertia_ori": rate("rotate", "old"),
        "correct_pos": rate("move", "new"),
        "correct_ori": rate("rotate", "new"),
        "parse_valid": sum(bool(s["valid"]) for s in scores) / len(scores) if scores else math.nan,
    }
    parts = [out["inertia_pos"], out["inertia_ori"]]
    known = [p for p in parts if not math.isnan(p)]
    out["inertia"] = sum(known) / len(known) if known else math.nan
    return out
