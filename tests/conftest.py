"""Shared fixtures: the published reference scenes that live beside the repository in shared/."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TOS_REFERENCE = REPO_ROOT.parent / "shared" / "tos-reference" / "3-room"
REFERENCE_RUNS = tuple(f"run0{i}" for i in range(5))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not TOS_REFERENCE.is_dir():
        pytest.skip(f"the published reference scenes are not at {TOS_REFERENCE}")
    return TOS_REFERENCE


@pytest.fixture(scope="session")
def example_scene(reference_dir: Path):
    """The published example scene of spec §2.10 (run00)."""
    from theory_of_space.world.tos_format import load_tos_scene

    return load_tos_scene(reference_dir / "run00")
