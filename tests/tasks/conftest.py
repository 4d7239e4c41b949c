"""Shared fixtures of the task tests: generated scenes and their question suites (built once)."""

from __future__ import annotations

import pytest

from tests.conftest import REFERENCE_RUNS
from theory_of_space.tasks import QuestionSet, generate_questions
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Scene

ORACLE_SCENES = 100
"""Generated scenes of the oracle check: every question of every one must score 1.0."""


@pytest.fixture(scope="session")
def generated_scenes() -> list[Scene]:
    return [generate_scene(seed) for seed in range(ORACLE_SCENES)]


@pytest.fixture(scope="session")
def scene0() -> Scene:
    return generate_scene(0)


@pytest.fixture(scope="session")
def suite0(scene0: Scene) -> QuestionSet:
    return generate_questions(scene0)


@pytest.fixture(scope="session")
def example_suite(example_scene: Scene) -> QuestionSet:
    return generate_questions(example_scene)


@pytest.fixture(scope="session")
def example_scenes(reference_dir) -> dict[str, Scene]:
    """The five published example scenes, by folder name (run00 is ``example_scene``)."""
    from theory_of_space.world.tos_format import load_tos_scene

    return {run: load_tos_scene(reference_dir / run) for run in REFERENCE_RUNS}
