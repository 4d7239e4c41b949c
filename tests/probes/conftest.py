"""Probe test fixtures (the published scenes come from tests/conftest.py: the copy shipped in the package)."""

from __future__ import annotations

import pytest

from tests.probes.episodes import OBSERVE, TERM, TURN_RIGHT, play


@pytest.fixture
def two_turn_episode(example_scene):
    """run00: Observe, an unparseable reply, Rotate(90) + Observe, Term."""
    return play(example_scene, [OBSERVE, "no actions here", TURN_RIGHT, TERM])
