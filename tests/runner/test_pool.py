import gymnasium as gym
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.agents.fake_servers import FakeModelServer, Step
from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.agents.scripted import scout_agent
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.pool import AgentSpec, EpisodeJob, run_episodes, split_in_flight
from theory_of_space.world.generate import generate_scene

REPLY = "THINK: look around\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"


@given(st.integers(1, 64), st.integers(1, 8))
def test_in_flight_shares_add_up_and_differ_by_at_most_one(in_flight, processes):
    if processes > in_flight:
        with pytest.raises(ValueError, match="processes <= in_flight"):
            split_in_flight(in_flight, processes)
        return
    shares = split_in_flight(in_flight, processes)
    assert len(shares) == processes and sum(shares) == in_flight and max(shares) - min(shares) <= 1


def test_processes_give_the_same_results_in_job_order():
    jobs = [EpisodeJob(generate_scene(seed, n_rooms=2), env_kwargs={"reward": "none"}) for seed in range(6)]
    local = run_episodes(jobs, AgentSpec("scout"), in_flight=3, processes=1)
    spread = run_episodes(jobs, AgentSpec("scout"), in_flight=3, processes=2)
    assert [r.scene.scene_id for r in spread] == [job.scene.scene_id for job in jobs]
    assert [r.metrics for r in spread] == [r.metrics for r in local]
    assert [[t.reply for t in r.turns] for r in spread] == [[t.reply for t in r.turns] for r in local]
    assert all(r.metrics["node_coverage"] == 1.0 for r in local)
    # threads reuse their envs across episodes: each result must equal a run on a fresh env
    for job, result in zip(jobs, local):
        fresh = run_episode(
            gym.make(job.env_id, **job.env_kwargs), scout_agent(job.scene), options={"scene": job.scene}
        )
        assert fresh.metrics == result.metrics and fresh.session is not result.session
    assert len({id(r.session) for r in local}) == len(jobs)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_model_shared_by_many_episodes_never_exceeds_the_total_limit(processes, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeModelServer(default=Step(text=REPLY), latency_s=0.02) as server:
        jobs = [EpisodeJob(generate_scene(seed, n_rooms=2), env_kwargs={"max_exp_steps": 4}) for seed in range(12)]
        spec = AgentSpec(f"compat:pooled@{server.url}", overrides={"max_retries": 0})
        results = run_episodes(jobs, spec, in_flight=4, processes=processes)
    assert len(server.received) == 12 * 4
    assert 1 < server.peak_in_flight <= 4
    assert all(len(r.turns) == 4 and r.truncated and all(t.valid for t in r.turns) for r in results)


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("where", ["overrides", "entry"])
def test_an_explicit_max_concurrent_wins_over_in_flight(processes, where, monkeypatch, tmp_path):
    """Six episodes at a time, but the model's stated limit of two requests in flight holds at the server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeModelServer(default=Step(text=REPLY), latency_s=0.02) as server:
        jobs = [EpisodeJob(generate_scene(seed, n_rooms=2), env_kwargs={"max_exp_steps": 3}) for seed in range(12)]
        if where == "overrides":
            spec = AgentSpec(f"compat:pooled@{server.url}", overrides={"max_retries": 0, "max_concurrent": 2})
        else:
            config = tmp_path / "models.toml"
            config.write_text(
                f'[models.slow]\nprovider = "compat"\nmodel = "m"\nbase_url = "{server.url}"\nmax_workers = 2\n'
            )
            spec = AgentSpec("slow", config_path=str(config), overrides={"max_retries": 0})
        results = run_episodes(jobs, spec, in_flight=6, processes=processes)
    assert len(server.received) == 12 * 3 and all(t.valid for r in results for t in r.turns)
    assert server.peak_in_flight <= 2
    if processes == 1:  # two spawned workers need not overlap in time; threads of one process do
        assert server.peak_in_flight == 2


def test_an_explicit_limit_below_the_process_count_is_refused():
    jobs = [EpisodeJob(generate_scene(0, n_rooms=2))]
    spec = AgentSpec("compat:m@http://127.0.0.1:9/v1", overrides={"max_concurrent": 1})
    with pytest.raises(
        ValueError, match="expected 1 <= processes <= max_concurrent, got processes=2, max_concurrent=1"
    ):
        run_episodes(jobs, spec, in_flight=4, processes=2)


class EchoScene:
    """An agent the factory does not know: it names its scene, then ends the episode."""

    def __init__(self, scene):
        self.name = f"echo-{scene.scene_id[:8]}"

    def act(self, messages):
        return AgentReply("FINAL ANSWER: Actions: [Term()]", CallRecord(model=self.name))


def echo_agent(scene):
    return EchoScene(scene)


@pytest.mark.parametrize("processes", [1, 2])
def test_any_agent_runs_in_the_pool_through_a_function_of_the_scene(processes):
    jobs = [EpisodeJob(generate_scene(seed, n_rooms=2), env_kwargs={"reward": "none"}) for seed in range(4)]
    results = run_episodes(jobs, echo_agent, in_flight=2, processes=processes)
    assert [r.agent for r in results] == [f"echo-{job.scene.scene_id[:8]}" for job in jobs]
    assert all(r.terminated and len(r.turns) == 1 for r in results)


def test_workers_refuse_an_agent_function_they_cannot_receive():
    jobs = [EpisodeJob(generate_scene(0, n_rooms=2))]
    with pytest.raises(TypeError, match="picklable agent function"):
        run_episodes(jobs, lambda scene: EchoScene(scene), in_flight=2, processes=2)
