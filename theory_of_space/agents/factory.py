"""Build an agent from a short spec: a scripted proxy name, or a model spec / config entry name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theory_of_space.agents.base import Agent
from theory_of_space.agents.config import PROVIDERS, load_catalog
from theory_of_space.agents.false_belief import FALSE_BELIEF_AGENTS, FalseBeliefAgent
from theory_of_space.agents.scripted import RandomAgent, scout_agent, strategist_agent
from theory_of_space.env.false_belief import false_belief_target
from theory_of_space.world.perturb import SceneChange
from theory_of_space.world.scene import Scene

SCRIPTED_AGENTS = ("scout", "strategist", "random", "oracle", "belief", "updating", "inertial")


def is_scripted(spec: str) -> bool:
    """Whether ``spec`` names a scripted proxy (built per scene) rather than a model (shared by episodes)."""
    return spec.strip().lower() in SCRIPTED_AGENTS


def check_agent_spec(spec: str, *, config_path: str | None = None, builtin: Sequence[str] = SCRIPTED_AGENTS) -> None:
    """Refuse, before any episode runs, a spec that names no agent, listing every name that would work.

    Args:
        spec: what the user typed after ``--agent``.
        config_path: a model configuration file whose entries count as names.
        builtin: the non-model agents the caller offers (``scout``, ``strategist``, ``random``; ``tos evaluate``
            adds ``oracle`` and ``belief``).

    Raises:
        ValueError: ``spec`` is none of ``builtin``, ``PROVIDER:MODEL`` or a configuration entry.
    """
    name = spec.strip()
    builtin = tuple(dict.fromkeys(builtin))  # callers may pass overlapping lists
    if name.lower() in builtin:
        return
    provider, sep, _ = name.partition(":")
    if sep and provider in PROVIDERS:
        return
    entries = sorted(load_catalog(config_path).entries)
    if name in entries:
        return
    raise ValueError(
        f"unknown agent {spec!r}; expected one of {', '.join(builtin)}, PROVIDER:MODEL with PROVIDER one of "
        f"{', '.join(PROVIDERS)} (e.g. openai:gpt-5.2, compat:MODEL@http://localhost:8000/v1, hf:PATH), or a "
        f"model configuration entry: {', '.join(entries)}"
    )


def make_agent(
    spec: str,
    *,
    scene: Scene,
    seed: int = 0,
    query_enabled: bool = True,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    false_belief: tuple[Scene, Sequence[SceneChange]] | None = None,
) -> Agent:
    """An agent for one episode on ``scene``.

    Args:
        spec: ``scout``, ``strategist`` or ``random``; ``oracle`` or ``belief`` (the non-model answerers of
            the tasks, which also write cognitive maps; ``belief`` explores as STRATEGIST, ``oracle`` ends
            exploration at once); ``updating`` or ``inertial`` (the scripted false-belief agents); anything
            else is a model (``openai:gpt-5.2``, ``anthropic:...``, ``hf:PATH``, or an entry name of the model
            configuration file).
        scene: the episode's scene (scripted proxies plan on it; models never see it).
        seed: the random agent's seed.
        query_enabled: whether proxies may plan ``Query`` actions.
        config_path: a model configuration file for model specs.
        overrides: settings that replace those of the configuration entry.
        false_belief: the changed scene and its changes, for the false-belief agents ``updating`` and
            ``inertial``; by default the generated perturbation of ``scene`` (a published scene needs its
            folder's changes passed here).

    Raises:
        ValueError: ``spec`` names no agent (the message lists those that exist), or a bad model setting.
    """
    check_agent_spec(spec, config_path=config_path)
    name = spec.strip().lower()
    if name == "scout":
        return scout_agent(scene, query_enabled=query_enabled)
    if name == "strategist":
        return strategist_agent(scene, query_enabled=query_enabled)
    if name == "random":
        return RandomAgent(scene, seed=seed)
    if name in ("oracle", "belief"):
        from theory_of_space.agents.answerers import BeliefAnswerer, OracleAnswerer

        return OracleAnswerer(scene) if name == "oracle" else BeliefAnswerer(scene, query_enabled=query_enabled)
    if name in FALSE_BELIEF_AGENTS:
        changed, changes = false_belief_target(scene) if false_belief is None else false_belief
        return FalseBeliefAgent(name, scene, changed, changes, query_enabled=query_enabled)  # type: ignore[arg-type]
    from theory_of_space.agents.model_agent import make_model_agent

    return make_model_agent(spec, config_path=config_path, overrides=overrides)
