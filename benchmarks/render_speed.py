"""Egocentric frames per second at 384×384 against MiniGrid's agent-view RGB observation, in one run.

Ours: :func:`render_view` over every pose an agent can take (start, objects and doors, four facings)
of ten generated 3-room scenes, cycled, so nothing is reused between frames except the per-size
tables and the per-scene material grid. MiniGrid: ``RGBImgPartialObsWrapper`` on
``MiniGrid-MultiRoom-N4-S5-v0`` stepped with random actions (each step renders the 56×56 agent view),
resetting when an episode ends. Timed chunks of the two are interleaved over several rounds, after a
warm-up, so that load from other processes hits both alike. The process is pinned to one core where
the platform allows it. Prints median frames per second of each, and the ratio of pixels per second
ours / MiniGrid.

    python benchmarks/render_speed.py [--frames 600] [--rounds 7] [--size 384]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import gymnasium as gym
import numpy as np

from theory_of_space.env.image import render_view
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Pose

MINIGRID_ID = "MiniGrid-MultiRoom-N4-S5-v0"


def our_poses(n_scenes: int) -> list[tuple]:
    """Every (scene, pose) an agent can take: the start and each item's cell, in four facings."""
    poses = []
    for seed in range(n_scenes):
        scene = generate_scene(seed)
        cells = [scene.start.cell, *(item.cell for item in scene.items)]
        poses.extend((scene, Pose(cell, facing)) for cell in cells for facing in Facing)
    return poses


def our_fps(poses: list[tuple], start: int, n_frames: int, size: int) -> float:
    begin = time.perf_counter()
    for k in range(start, start + n_frames):
        scene, pose = poses[k % len(poses)]
        render_view(scene, pose, size=size)
    return n_frames / (time.perf_counter() - begin)


class _MiniGrid:
    def __init__(self) -> None:
        import minigrid  # noqa: F401  (registers the MiniGrid ids)
        from minigrid.wrappers import RGBImgPartialObsWrapper

        self.env = RGBImgPartialObsWrapper(gym.make(MINIGRID_ID))
        self.rng = np.random.default_rng(0)
        obs, _ = self.env.reset(seed=0)
        self.pixels = obs["image"].shape[0] * obs["image"].shape[1]

    def fps(self, n_frames: int) -> float:
        env, actions = self.env, self.rng.integers(0, 3, size=n_frames)
        begin = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(int(action))
            if terminated or truncated:
                env.reset()
        return n_frames / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames per timed chunk (default 600)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--size", type=int, default=384, help="side of our views in pixels (default 384)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    warnings.filterwarnings("ignore")
    poses = our_poses(10)
    minigrid = _MiniGrid()
    our_fps(poses, 0, len(poses), args.size)  # warm-up: tables, materials and glyph masks
    minigrid.fps(args.frames)
    ours, theirs = [], []
    for round_ in range(args.rounds):
        ours.append(our_fps(poses, round_ * args.frames, args.frames, args.size))
        theirs.append(minigrid.fps(args.frames * 4))
    our_median, their_median = statistics.median(ours), statistics.median(theirs)
    ratio = statistics.median(o * args.size**2 / (t * minigrid.pixels) for o, t in zip(ours, theirs))
    print(f"poses: {len(poses)} (10 scenes), one core: {hasattr(os, 'sched_setaffinity')}")
    print(f"ours      {args.size}x{args.size} egocentric view: {our_median:8.0f} frames/s")
    side = int(minigrid.pixels**0.5)
    print(f"MiniGrid  {side}x{side} agent view ({MINIGRID_ID}, step + RGB obs): {their_median:8.0f} frames/s")
    print(f"pixels per second, ours / MiniGrid: {ratio:.2f}")


if __name__ == "__main__":
    main()
