"""Shared fixtures: the published example scenes, read from the copy shipped inside the package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from theory_of_space.world.published import published_scene_root

# CI (`.ci/run` sets CI=1) replays the same examples on every run, so that a submission's result does not
# depend on the draw; locally each run explores new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_RUNS = tuple(f"run0{i}" for i in range(5))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The folder of the shipped published scenes (``run00`` … ``run04``)."""
    return published_scene_root()


@pytest.fixture(scope="session")
def example_scene(reference_dir: Path):
    """The published example scene ``run00``."""
    from theory_of_space.world.tos_format import load_tos_scene

    return load_tos_scene(reference_dir / "run00")
