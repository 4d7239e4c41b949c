"""The run pipeline's own overhead: storage, aggregation and report, against the work it wraps.

Two jobs, each timed twice in this one process, alternating, on the same scenes:

- *pipeline*: :func:`run_experiment` into a fresh folder, then :func:`write_report` (summary.json,
  report.html, episode pages; figures when matplotlib is installed);
- *peer*: the same episodes with the library alone and nothing stored: the exploration env steps
  with the scripted explorer, every question answered by the belief answerer and scored, every probe
  built, answered by the belief map writer, assembled and scored; for the false-belief agents also
  the episode in the false-belief env and its map probes, answered and scored.

The overhead is (pipeline - peer) / pipeline, in CPU seconds of this process (all its threads): the
machine is shared, and wall time would count other people's work. The default job is ``tos run`` with no arguments
(SCOUT, STRATEGIST, updating and inertial on 3 scenes, every phase); the large job is SCOUT on N scenes (default 100).
The default job is also timed as the command a user types (``tos run`` in a subprocess, import
included). Timing asserts do not belong in tests; this script prints the figures.

    python benchmarks/run_overhead.py [--scenes 100] [--rounds 1]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import theory_of_space  # noqa: F401  (registers the envs)
from theory_of_space.agents.answerers import BeliefAnswerer
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.false_belief import FALSE_BELIEF_AGENTS, FalseBeliefAgent
from theory_of_space.probes.false_belief_requests import false_belief_episode, run_false_belief_probes
from theory_of_space.probes.metrics import probe_metrics
from theory_of_space.probes.replay import replay_episode
from theory_of_space.probes.requests import answer_probes, assemble_probe_record, build_probe_requests
from theory_of_space.report.html import write_report
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.experiment import Experiment, parse_scene_spec
from theory_of_space.runner.pipeline import run_experiment
from theory_of_space.runner.roles import DEFAULT_AGENTS
from theory_of_space.tasks import generate_questions, question_messages, score_question
from theory_of_space.world.scene import Scene


def peer(agents: tuple[str, ...], scenes: str, max_steps: int = 20) -> float:
    """Seconds for the episodes' env steps, answers, probes and scores, with nothing stored."""
    refs = [(ref, ref.load()) for ref in parse_scene_spec(scenes)]
    started = time.process_time()
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=max_steps, reward="info_gain")
    for agent in agents:
        for _, scene in refs:
            result = run_episode(env, make_agent(agent, scene=scene), options={"scene": scene})
            suite = generate_questions(scene)
            answerer = BeliefAnswerer(scene, suite.questions)
            for question in suite.questions:
                reply = answerer.act(question_messages(result.messages, question))
                score_question(question, reply.text, scene)
            replay = replay_episode(scene, result.messages, agent=agent)
            requests = build_probe_requests(replay)
            answers = answer_probes(requests, answerer, in_flight=1)
            probe_metrics(assemble_probe_record(replay, requests, answers))
            if agent in FALSE_BELIEF_AGENTS:
                false_belief(agent, scene, max_steps)
    env.close()
    return time.process_time() - started


def false_belief(agent: str, scene: Scene, max_steps: int) -> None:
    """Both phases of a false-belief episode, its map probes answered by the agent and scored."""
    with gym.make("TheoryOfSpace/Explore-FalseBelief-v0", max_exp_steps=max_steps) as env:
        env.reset(options={"scene": scene})
        changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
        player = FalseBeliefAgent(agent, scene, changed, changes)  # type: ignore[arg-type]
        result = run_episode(env, player, options={"scene": scene})
    record = run_false_belief_probes(false_belief_episode(result, changed), player.answer_probe, in_flight=1)
    record.score()


def pipeline(agents: tuple[str, ...], scenes: str) -> float:
    """Seconds for the same job through run_experiment into a fresh folder, then its report."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        # every phase (the false-belief phase only for the agents that play it)
        outcome = run_experiment(Experiment(agents=agents, scenes=scenes, out=folder))
        write_report([outcome.root], outcome.root)
        return time.process_time() - started


def command_seconds() -> tuple[float, float]:
    """Wall and CPU seconds of ``tos run`` with no argument as a user runs it (a fresh process, import included)."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "theory_of_space.cli", "run", "--quiet"], cwd=folder, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    jobs = ((f"default job ({', '.join(DEFAULT_AGENTS)}, 3 scenes)", DEFAULT_AGENTS, "0:3"),
            (f"SCOUT on {args.scenes} scenes", ("scout",), f"0:{args.scenes}"))
    for label, agents, scenes in jobs:
        peers, runs = [], []
        for _ in range(args.rounds):
            peers.append(peer(agents, scenes))
            runs.append(pipeline(agents, scenes))
        best_peer, best_run = min(peers), min(runs)
        print(f"{label}: pipeline {best_run:.2f} CPU s, env steps + answers + scorers alone {best_peer:.2f} CPU s, "
              f"overhead {100 * (best_run - best_peer) / best_run:.1f} % of the total")
    wall, cpu = command_seconds()
    print(f"`tos run` (no arguments) as a command: {wall:.2f} s wall, {cpu:.2f} CPU s")
    print(f"(python {sys.version.split()[0]}, {Path(sys.executable).parent.parent.name})")


if __name__ == "__main__":
    main()
