"""The Ray executor against the local one: the same stored results, and one in-flight limit per model
across every worker (a local Ray instance started by the test; no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_batch_servers import FakeBatchServer

from theory_of_space.runner.experiment import experiment_from
from theory_of_space.runner.pipeline import run_experiment

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def test_ray_stores_what_the_local_executor_stores_on_20_scripted_scenes(local_ray, tmp_path: Path) -> None:
    options = {"agents": ["scout", "strategist"], "scenes": "0:20", "phases": ["explore", "probe", "evaluate"]}
    local = run_experiment(experiment_from(None, {**options, "out": str(tmp_path / "local")}))
    on_ray = run_experiment(experiment_from(None, {**options, "out": str(tmp_path / "ray")}), executor="ray")
    assert local.done == on_ray.done == 40 and not on_ray.errors
    assert on_ray.meter.requests == local.meter.requests > 0
    local_files, ray_files = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert len(ray_files) > 40 * 5
    assert ray_files == local_files


@pytest.mark.parametrize(("overrides", "limit"), [({}, 3), ({"max_concurrent": 2}, 2)], ids=["entry", "set"])
def test_the_in_flight_limit_of_a_model_holds_across_ray_workers(local_ray, tmp_path: Path, overrides: dict,
                                                                  limit: int) -> None:
    with FakeBatchServer(latency_s=0.05) as server:
        config = tmp_path / "models.toml"
        config.write_text(f'[models.limited]\nprovider = "compat"\nmodel = "m"\nbase_url = "{server.url}"\n'
                          "max_concurrent = 3\nmax_tokens = 64\n")
        experiment = experiment_from(None, {
            "agents": ["limited"], "scenes": "0:4", "phases": ["explore", "probe", "evaluate"],
            "out": str(tmp_path / "run"), "model_config": str(config), "max_exp_steps": 5, "n_per_task": 1,
            "in_flight": 6, "overrides": overrides,
        })
        outcome = run_experiment(experiment, executor="ray")
        assert outcome.done == 4 and not outcome.errors
        assert server.chat_requests == outcome.meter.requests > 20
        # two workers with six request threads each would reach more; the cluster-wide limit (the entry's, or
        # the one `--set` gives) caps them
        assert server.peak_in_flight == limit


def test_a_cost_limit_is_refused_on_ray(local_ray, tmp_path: Path) -> None:
    experiment = experiment_from(None, {"scenes": "0:1", "out": str(tmp_path / "run"), "max_cost": 1.0})
    with pytest.raises(ValueError, match="--max-cost is counted in one process"):
        run_experiment(experiment, executor="ray")


def test_tos_run_executor_ray_from_the_command_line(local_ray, tmp_path: Path, capsys) -> None:
    from theory_of_space.cli import main

    common = ["run", "--agent", "scout", "--agent", "strategist", "--scenes", "0:2", "--phases", "explore,evaluate"]
    common += ["--quiet", "--no-report"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--out", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    assert "4/4 episodes complete" in capsys.readouterr().out
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")


def test_batch_and_ray_together_are_refused_before_anything_runs(tmp_path: Path) -> None:
    experiment = experiment_from(None, {"scenes": "0:1", "out": str(tmp_path / "run")})
    with pytest.raises(ValueError, match="--batch runs in one process"):
        run_experiment(experiment, executor="ray", batch=True)
    with pytest.raises(ValueError, match="expected local or ray for `executor`, got 'dask'"):
        run_experiment(experiment, executor="dask")
    assert not (tmp_path / "run").exists()
