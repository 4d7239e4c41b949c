"""examples/train_grpo.py: two GRPO steps of a tiny tool-calling model on the CPU, through the environment."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("datasets")

from theory_of_space.integrations.trl import ExplorationToolEnv
from theory_of_space.world.scene import scene_seed

EXAMPLE = Path(__file__).parents[2] / "examples" / "train_grpo.py"


def _example():
    spec = importlib.util.spec_from_file_location("train_grpo_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """One torch thread: a tiny model gains nothing from more, and a shared machine loses a lot."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# About 8 s on an idle 2-core machine, over 20 s under load; CI runs slow tests too.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
def test_two_grpo_steps_play_the_env_and_change_the_weights(tmp_path, one_thread):
    import torch
    from tiny_tool_model import build_tiny_tool_model

    model_dir = build_tiny_tool_model(tmp_path / "model")
    environments: list[ExplorationToolEnv] = []

    def factory() -> ExplorationToolEnv:
        env = ExplorationToolEnv(reward="info_gain", env_options={"max_exp_steps": 4})
        environments.append(env)
        return env

    trainer = _example().build_trainer(
        str(model_dir),
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        num_generations=4,
        n_scenes=4,
        n_rooms=2,
        max_completion_length=256,
        max_tool_calling_iterations=4,
        learning_rate=0.05,
        use_cpu=True,
        environment_factory=factory,
    )
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()

    # the rollouts went through the env: turns were played and scenes explored
    played = [env for env in environments if env.turns > 0]
    assert played, "no rollout called a tool"
    assert all(env.episode.scene is not None for env in played)
    assert {scene_seed(env.episode.scene) for env in played} <= {0, 1, 2, 3}
    assert any(env.episode.components["info_gain"] > 0 for env in played)
    # the env's reward was logged under the env's class name, for both steps
    logged = [entry for entry in trainer.state.log_history if "rewards/ExplorationToolEnv/mean" in entry]
    assert len(logged) == 2
    assert all(math.isfinite(entry["rewards/ExplorationToolEnv/mean"]) for entry in logged)
    assert any(entry["rewards/ExplorationToolEnv/mean"] > 0 for entry in logged)
    # and the optimiser moved the weights
    after = dict(trainer.model.named_parameters())
    changed = [name for name, p in before.items() if not torch.equal(p, after[name].detach())]
    assert changed
