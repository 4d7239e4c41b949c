"""Probe test fixtures: the published reference scenes, wherever this checkout finds them.

The one place to switch to the packaged copy (``tos:run00``) once it ships.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TOS_REFERENCE
from tests.probes.episodes import OBSERVE, TERM, TURN_RIGHT, play

_SHARED_REFERENCE = Path("/work/shared/tos-reference/3-room")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    for folder in (TOS_REFERENCE, _SHARED_REFERENCE):
        if folder.is_dir():
            return folder
    pytest.skip(f"the published reference scenes are not at {TOS_REFERENCE}")


@pytest.fixture
def two_turn_episode(example_scene):
    """run00: Observe, an unparseable reply, Rotate(90) + Observe, Term."""
    return play(example_scene, [OBSERVE, "no actions here", TURN_RIGHT, TERM])
