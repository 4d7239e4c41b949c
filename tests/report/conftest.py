"""A small real run (one scene, both worlds, both settings, SCOUT) shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from theory_of_space.runner.experiment import Experiment
from theory_of_space.runner.pipeline import run_experiment


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report") / "run"
    run_experiment(Experiment(agents=("scout",), scenes="0:1", worlds=("text", "vision"),
                              settings=("active", "passive"), out=str(root), n_per_task=1))
    return root
