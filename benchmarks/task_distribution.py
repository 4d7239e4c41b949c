"""What the task generators ask: doors in question lists, plan shapes, mental-rotation sizes, pose drops.

Generates the nine-task question suite (3 questions per task) on the published example scenes and
on N generated 3-room scenes and counts, per scene set:

- doors among the listed observations of perception decoding, view→action and view→location
  (questions with at least one door, questions listing only doors), and among the targets of
  action→view and location→view;
- in the jump plans of action→view and view→action: jumps to a door, door→door jumps (a door jump
  right after a door jump), turns towards a target on an exact diagonal and how many of those turned
  to the first of north, east, south, west, and jump lines that give a left rank or a nearest/farthest
  rank;
- the number of objects asked in mental rotation;
- location poses: questions posed in a room where no two objects are more than 1 apart; over every
  (room, free cell, facing) a location question may draw, the share that sees fewer than two objects
  and the share that sees fewer than two items (objects or doors); and the share of the pose
  sampler's tries that are dropped (20 tries per scene, drawn from the scene's seed);
- tasks a scene could not produce.

    python benchmarks/task_distribution.py [--scenes 100] [--published tos:run00 ... | DIR/run00 ...]

The counts describe the generators, not a speed, so the script prints no timing.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from theory_of_space.tasks import generate_questions, scene_seed
from theory_of_space.tasks.localisation import OUTER_TRIES, draw_pose, pose_rooms
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing, distance
from theory_of_space.world.scene import Door, Scene, SceneObject
from theory_of_space.world.tos_format import load_tos_scene
from theory_of_space.world.visibility import visible_items

PUBLISHED = tuple(f"tos:run0{i}" for i in range(5))
LOCATION_ROOM_MIN_OBJECTS = 2
LOCATION_MIN_SEEN = 2


def _is_door(scene: Scene, name: str) -> bool:
    return isinstance(scene.item(name), Door)


def _spread_room(scene: Scene, room: int) -> bool:
    """Whether some two objects of ``room`` are more than 1 apart."""
    cells = [o.cell for o in scene.objects if o.room == room]
    return any(distance(a, b) > 1 for a, b in combinations(cells, 2))


def _plan_counts(scene: Scene, steps: Sequence[dict], counts: Counter[str]) -> None:
    cell, facing, previous_door = scene.start.cell, scene.start.facing, False
    for step in steps:
        if step["kind"] == "rotate":
            facing = facing.rotated(int(step["degrees"]))
            continue
        target = scene.item(step["target"])
        door = isinstance(target, Door)
        counts["jumps"] += 1
        counts["jumps to a door"] += door
        counts["jumps right after a door jump"] += previous_door
        counts["door→door jumps"] += previous_door and door
        dx, dy = target.cell[0] - cell[0], target.cell[1] - cell[1]
        if abs(dx) == abs(dy):
            tied = [f for f in Facing if f.vector[0] * dx + f.vector[1] * dy > 0]
            counts["turns to an exact diagonal"] += 1
            counts["  ... to the first of N, E, S, W"] += facing == min(tied)
        counts["jump lines with a left rank"] += step.get("rank") is not None
        counts["jump lines with a nearest/farthest rank"] += step.get("near_rank") is not None
        cell, previous_door = target.cell, door


def _pose_counts(scene: Scene, counts: Counter[str]) -> None:
    occupied = {o.cell for o in scene.objects}
    rng, rooms = np.random.default_rng(scene_seed(scene)), pose_rooms(scene)
    if rooms:
        tries = [draw_pose(scene, rng, rooms, occupied) for _ in range(OUTER_TRIES)]
        counts["pose sampler tries"] += len(tries)
        counts["  ... dropped"] += sum(t is None for t in tries)
    for room in scene.room_ids:
        if sum(o.room == room for o in scene.objects) < LOCATION_ROOM_MIN_OBJECTS:
            continue
        for cell in scene.room_cells(room):
            if cell in occupied:
                continue
            for facing in Facing:
                seen = visible_items(scene, cell, facing, (room,))
                counts["location poses"] += 1
                counts["  ... seeing < 2 objects"] += sum(isinstance(i, SceneObject) for i in seen) < LOCATION_MIN_SEEN
                counts["  ... seeing < 2 items"] += len(seen) < LOCATION_MIN_SEEN


def measure(scenes: Iterable[Scene]) -> tuple[Counter[str], Counter[int]]:
    """Counts over every question of every scene, and the mental-rotation object counts."""
    counts: Counter[str] = Counter()
    rotation: Counter[int] = Counter()
    for scene in scenes:
        suite = generate_questions(scene)
        counts["scenes"] += 1
        for task in suite.unavailable:
            counts[f"unavailable: {task}"] += 1
        for q in suite.questions:
            if q.task in ("perc_dec", "view2act", "view2loc"):
                doors = [_is_door(scene, v["name"]) for v in q.data["observations"]]
                counts[f"{q.task} questions"] += 1
                counts[f"{q.task}: lists a door"] += any(doors)
                counts[f"{q.task}: lists only doors"] += all(doors)
            if q.task in ("act2view", "loc2view"):
                counts[f"{q.task} questions"] += 1
                counts[f"{q.task}: target is a door"] += _is_door(scene, q.data["target"])
            if q.task in ("loc2view", "view2loc"):
                counts["location questions in a room with no two objects more than 1 apart"] += not _spread_room(
                    scene, q.data["room"]
                )
            if q.task in ("act2view", "view2act"):
                _plan_counts(scene, q.data["steps"], counts)
            if q.task == "ment_rot":
                rotation[len(q.data["order"])] += 1
        _pose_counts(scene, counts)
    return counts, rotation


def report(title: str, counts: Counter[str], rotation: Counter[int]) -> str:
    lines = [f"## {title}", ""]
    lines += [f"{key}: {value}" for key, value in counts.items()]
    if counts["location poses"]:
        for key in ("  ... seeing < 2 objects", "  ... seeing < 2 items"):
            lines.append(f"{key} (share): {counts[key] / counts['location poses']:.3f}")
    if counts["pose sampler tries"]:
        lines.append(f"  ... dropped (share): {counts['  ... dropped'] / counts['pose sampler tries']:.3f}")
    lines.append("ment_rot objects asked: " + ", ".join(f"{n}: {rotation[n]}" for n in sorted(rotation)))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100, help="generated 3-room scenes (seeds 0..N-1)")
    parser.add_argument(
        "--published", nargs="*", default=list(PUBLISHED), help="published scene folders (none: skip them)"
    )
    args = parser.parse_args()
    if args.published:
        try:
            published = [load_tos_scene(path) for path in args.published]
        except FileNotFoundError as error:
            parser.error(f"{error}; pass the scene folders with --published DIR/run00 DIR/run01 ...")
        print(report(f"{len(published)} published example scenes", *measure(published)))
        print()
    if args.scenes:
        generated = (generate_scene(seed) for seed in range(args.scenes))
        print(report(f"{args.scenes} generated 3-room scenes", *measure(generated)))


if __name__ == "__main__":
    main()
