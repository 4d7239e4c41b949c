"""Offline probe scoring speed: maps per second, and re-scoring a stored 20-turn episode beside its env steps.

A 20-turn STRATEGIST episode on a generated 3-room scene is probed with the belief map writer (global,
local and fog probes at every turn) and stored as a dict. The script then times, interleaved over
several rounds, in CPU time of this process (one core's work, so other processes on the machine do not
inflate it):

- parsing and scoring one stored global map reply (``parse_cogmap`` + ``compare_cogmaps``);
- re-scoring the stored episode from its dict (``ProbeRecord.from_dict`` + ``probe_metrics``, all six
  families), and the extrapolated time for 1,000 such episodes (target: under 10 s on one core);
- the same episode's env steps (``reset`` plus its 20 replies through ``gym.make`` env), the peer.

    python benchmarks/probe_speed.py [--rounds 7] [--episodes 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym

import theory_of_space  # noqa: F401  (registers the env ids)
from theory_of_space.agents.factory import make_agent
from theory_of_space.probes.cogmap import cogmap_scale, compare_cogmaps, parse_cogmap, true_cogmap
from theory_of_space.probes.metrics import probe_metrics
from theory_of_space.probes.requests import ProbeRecord, run_probes
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene

TURNS = 20


def _episode():
    """The first generated 3-room scene whose STRATEGIST episode has 20 valid turns, and the episode."""
    with gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=TURNS) as env:
        for seed in range(100):
            scene = generate_scene(seed, n_rooms=3)
            episode = run_episode(env, make_agent("strategist", scene=scene), options={"scene": scene})
            if sum(t.valid for t in episode.turns) == TURNS:
                return episode
    raise RuntimeError("no generated scene gave a 20-turn STRATEGIST episode in 100 seeds")


def _time(function, repeat: int) -> float:
    """Seconds of this process's CPU time per call: one core's work, whatever else the machine runs."""
    start = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=200, help="episodes re-scored per round")
    args = parser.parse_args()

    episode = _episode()
    scene = episode.scene
    record = run_probes(episode, make_agent("belief", scene=scene), in_flight=1)
    stored = json.loads(json.dumps(record.to_dict()))
    replies = [a.reply for key, a in record.answers.items() if key.endswith("/global")]
    truth = true_cogmap(scene, "global", pose=record.turns[-1].pose)
    scale = cogmap_scale(scene)
    n_requests = len(record.requests)

    def score_maps() -> None:
        for reply in replies:
            compare_cogmaps(parse_cogmap(reply, "global").entries, truth, scale)

    def rescore() -> None:
        probe_metrics(ProbeRecord.from_dict(stored))

    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=TURNS)
    texts = [t.reply for t in episode.turns]

    def env_steps() -> None:
        env.reset(options={"scene": scene})
        for text in texts:
            env.step(text)

    map_rates, rescore_times, env_times = [], [], []
    for _ in range(args.rounds):
        map_rates.append(len(replies) / _time(score_maps, 20))
        rescore_times.append(_time(rescore, args.episodes))
        env_times.append(_time(env_steps, 20))
    env.close()

    rescore_s = statistics.median(rescore_times)
    env_s = statistics.median(env_times)
    print(f"episode: scene seed {scene.source.get('seed')}, {TURNS} turns, {n_requests} probe replies stored")
    print(f"global maps parsed and scored: {statistics.median(map_rates):,.0f} per second")
    print(f"re-scoring one stored episode (six families): {1000 * rescore_s:.2f} ms")
    print(f"the same episode's env steps (reset + {TURNS} steps): {1000 * env_s:.2f} ms")
    print(f"ratio re-scoring / env steps: {rescore_s / env_s:.2f}")
    print(f"1,000 stored episodes re-scored: {1000 * rescore_s:.1f} s (target: under 10 s on one core)")


if __name__ == "__main__":
    main()
