"""Gymnasium registration of the environment ids (idempotent, string entry points)."""

from __future__ import annotations

import gymnasium as gym

ENV_IDS = {
    "TheoryOfSpace/Explore-v0": ("theory_of_space.env.exploration:ExploreEnv", {}),
    "TheoryOfSpace/Explore-Vision-v0": ("theory_of_space.env.exploration:ExploreEnv", {"obs_mode": "vision"}),
    "TheoryOfSpace/Explore-FalseBelief-v0": ("theory_of_space.env.exploration:ExploreEnv", {"false_belief": True}),
    "TheoryOfSpace/Explore-Vision-FalseBelief-v0": (
        "theory_of_space.env.exploration:ExploreEnv",
        {"obs_mode": "vision", "false_belief": True},
    ),
}


def register_envs() -> None:
    """Register every id once; importing the package calls this, a second call does nothing."""
    for env_id, (entry_point, kwargs) in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs)
