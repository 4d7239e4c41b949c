"""What a benchmark run is: agents, scenes, worlds, settings, phases and their options, from TOML or the CLI.

:class:`Experiment` is validated when built: an unknown phase, agent name, world, setting, scene range or
configuration key is an error naming it, before any request is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from theory_of_space.env.exploration import DEFAULT_IMAGE_SIZE, MIN_IMAGE_SIZE
from theory_of_space.probes.modes import check_mode
from theory_of_space.tasks import TASK_IDS, can_generate_all
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Scene
from theory_of_space.world.tos_format import load_tos_scene

PHASES: tuple[str, ...] = ("explore", "probe", "evaluate", "false_belief", "rescore")
"""Every phase, in the order the pipeline runs them; any subset may be asked for."""
WORLDS: tuple[str, ...] = ("text", "vision")
SETTINGS: tuple[str, ...] = ("active", "passive")
PROXIES: tuple[str, ...] = ("strategist", "scout")
SCRIPTED_ANSWERERS: tuple[str, ...] = ("belief", "oracle")
DEFAULT_SCENES = "0:3"
DEFAULT_OUT = "runs/default"

_SCENE_RANGE = re.compile(r"^(\d+)\s*:\s*(\d+)$")


@dataclass(frozen=True)
class Experiment:
    """A benchmark run; every field can come from the ``--config`` TOML file or a CLI option."""

    agents: tuple[str, ...] = ()
    """Agent specs; empty means the built-in scripted agents (see :func:`default_agents`)."""
    scenes: str = DEFAULT_SCENES
    """Comma-separated generated seed ranges (``0:100`` = seeds 0..99), seeds, or published scenes
    (``tos:run00``, a ``runNN`` folder)."""
    worlds: tuple[str, ...] = ("text",)
    settings: tuple[str, ...] = ("active",)
    phases: tuple[str, ...] = ()
    """Empty means every phase this installation provides (see :func:`available_phases`)."""
    out: str = DEFAULT_OUT
    think: bool = True
    query_enabled: bool = True
    max_exp_steps: int = 20
    max_false_belief_steps: int = 15
    """The budget of the false-belief phase."""
    n_per_task: int = 3
    tasks: tuple[str, ...] = TASK_IDS
    answerer: str = "belief"
    """Who answers the questions and writes the maps of scripted explorers: ``belief`` or ``oracle``."""
    proxy: str | None = None
    """The passive explorer; ``None``: SCOUT in the vision world, STRATEGIST in the text world."""
    image_size: int = DEFAULT_IMAGE_SIZE
    rooms: int = 3
    model_config: str | None = None
    in_flight: int = 8
    """Episodes and model requests in flight at once (a model's own limit may be lower)."""
    max_cost: float | None = None
    retry_failed: bool = True
    mode: str = "default"
    """The evaluation mode: ``default``, ``prompt_cogmap``, ``use_gt_cogmap`` or ``use_model_cogmap``."""
    overrides: tuple[tuple[str, str], ...] = ()
    """Model settings replacing those of the configuration entry (``--set KEY=VALUE``), for model agents."""

    def __post_init__(self) -> None:
        for name, allowed, values in (
            ("worlds", WORLDS, self.worlds),
            ("settings", SETTINGS, self.settings),
            ("phases", PHASES, self.phases),
            ("tasks", TASK_IDS, self.tasks),
        ):
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ValueError(f"unknown {name[:-1]} {', '.join(map(repr, unknown))}; expected {', '.join(allowed)}")
            if name != "phases" and not values:
                raise ValueError(f"expected at least one of {', '.join(allowed)} for `{name}`")
        if self.answerer not in SCRIPTED_ANSWERERS:
            raise ValueError(f"expected belief or oracle for `answerer`, got {self.answerer!r}")
        if self.proxy is not None and self.proxy not in PROXIES:
            raise ValueError(f"expected strategist or scout for `proxy`, got {self.proxy!r}")
        for name in ("max_exp_steps", "max_false_belief_steps", "n_per_task", "rooms", "in_flight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected a positive integer for `{name}`, got {value!r}")
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < MIN_IMAGE_SIZE:
            raise ValueError(f"expected an integer of at least {MIN_IMAGE_SIZE} for `image_size`, got {size!r}")
        if self.max_cost is not None and not (isinstance(self.max_cost, (int, float)) and math.isfinite(self.max_cost)
                                              and self.max_cost >= 0):
            raise ValueError(f"expected a non-negative number of USD for `max_cost`, got {self.max_cost!r}")
        check_mode(self.mode)
        parse_scene_spec(self.scenes)  # a bad range is an error now, not after the first episode

    def result_config(self) -> dict[str, Any]:
        """What shapes stored results: a rerun into the same folder must match it (agents, scenes,
        worlds, settings and phases may grow; output and cost options do not count)."""
        return {
            "think": self.think,
            "query_enabled": self.query_enabled,
            "max_exp_steps": self.max_exp_steps,
            "max_false_belief_steps": self.max_false_belief_steps,
            "n_per_task": self.n_per_task,
            "tasks": list(self.tasks),
            "proxy": self.proxy,
            "answerer": self.answerer,
            "image_size": self.image_size,
            "rooms": self.rooms,
            "mode": self.mode,
            "overrides": [list(pair) for pair in self.overrides],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON form that :func:`experiment_from` reads back (``overrides`` as a table, as in a TOML file)."""
        data = {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}
        data["overrides"] = dict(self.overrides)
        return data


_LIST_FIELDS = {"agents", "worlds", "settings", "phases", "tasks"}


def _coerce(name: str, value: Any, source: str) -> Any:
    """A TOML or CLI value in the field's type; lists may be given as comma-separated strings."""
    if name in _LIST_FIELDS:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{source}: expected a list of strings for `{name}`, got {value!r}")
        return tuple(value)
    if name == "overrides":
        if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
            raise ValueError(f"{source}: expected a table of model settings for `overrides`, got {value!r}")
        return tuple((str(key), str(v)) for key, v in value.items())
    if name == "scenes" and isinstance(value, list):
        return ",".join(str(v) for v in value)
    if name in ("scenes", "out", "proxy", "model_config", "mode", "answerer"):
        if not isinstance(value, str):
            raise ValueError(f"{source}: expected a string for `{name}`, got {value!r}")
        return value
    if name in ("think", "query_enabled", "retry_failed"):
        if not isinstance(value, bool):
            raise ValueError(f"{source}: expected true or false for `{name}`, got {value!r}")
        return value
    if name == "max_cost":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{source}: expected a number for `{name}`, got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{source}: expected an integer for `{name}`, got {value!r}")
    return value


def experiment_from(
    base: Experiment | None = None, values: Mapping[str, Any] | None = None, *, source: str = "options"
) -> Experiment:
    """``base`` (default :class:`Experiment`) with ``values`` applied, checked by name and type.

    Raises:
        ValueError: an unknown key (named, with ``source``), a wrong type, or an invalid value.
    """
    known = {f.name for f in fields(Experiment)}
    unknown = sorted(set(values or {}) - known)
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ValueError(f"{source}: unknown key {names}; expected keys: {', '.join(sorted(known))}")
    changes = {name: _coerce(name, value, source) for name, value in (values or {}).items()}
    return replace(base or Experiment(), **changes)


def load_experiment(path: str | Path) -> Experiment:
    """The experiment of a TOML file (top-level keys, or an ``[experiment]`` table)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config: no file {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    if set(data) == {"experiment"} and isinstance(data["experiment"], dict):
        data = data["experiment"]
    return experiment_from(None, data, source=str(path))


@dataclass(frozen=True)
class SceneRef:
    """One scene of a run: how to make it and the folder name it is stored under."""

    spec: str
    folder: str
    seed: int | None = None
    rooms: int = 3
    _cache: dict[str, Scene] = field(default_factory=dict, compare=False, repr=False)

    def load(self) -> Scene:
        """The scene (generated from its seed, or read from the published files); made once."""
        if "scene" not in self._cache:
            if self.seed is not None:
                self._cache["scene"] = generate_scene(self.seed, n_rooms=self.rooms, accept=can_generate_all)
            else:
                name = self.spec
                self._cache["scene"] = load_tos_scene(name)
        return self._cache["scene"]


def parse_scene_spec(spec: str, *, rooms: int = 3) -> list[SceneRef]:
    """The scenes of ``--scenes``: ``A:B`` seed ranges (B excluded), seeds, ``tos:runNN`` names, folders.

    Raises:
        ValueError: an empty or reversed range, or an empty spec.
    """
    refs: list[SceneRef] = []
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        match = _SCENE_RANGE.match(part)
        if match:
            first, stop = int(match.group(1)), int(match.group(2))
            if stop <= first:
                raise ValueError(f"scene range {part!r}: expected FIRST:STOP with STOP > FIRST (seeds FIRST..STOP-1)")
            refs.extend(SceneRef(str(s), f"seed{s:04d}", s, rooms) for s in range(first, stop))
        elif part.isdigit():
            refs.append(SceneRef(part, f"seed{int(part):04d}", int(part), rooms))
        elif part.startswith("tos:") or Path(part).exists():
            name = part.split(":", 1)[1] if part.startswith("tos:") else Path(part).name
            refs.append(SceneRef(part, f"tos-{_safe(name)}"))
        else:
            raise ValueError(
                f"scene {part!r}: expected a seed range like 0:100, a seed, a published name like tos:run00 "
                "or a published scene folder"
            )
    if not refs:
        raise ValueError(f"scenes {spec!r}: no scene named")
    return refs


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.," else "_" for ch in name)


def scene_folder(ref: SceneRef, scene: Scene) -> str:
    """``seed0003-1a2b3c4d``: the seed or published name, then the first 8 hex digits of the scene id."""
    return f"{ref.folder}-{scene.scene_id[:8]}"


def safe_name(name: str) -> str:
    """A folder name for an agent spec."""
    return _safe(name)


def split_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """Repeatable and comma-separated CLI values, flattened."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())
