"""``tos render``: write the vision world's pictures of one scene to a folder, for a person to look at."""

from __future__ import annotations

import argparse
from pathlib import Path

from theory_of_space.commands.explore import load_scene_path
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Pose, Scene


def add_render_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand to the ``tos`` command line."""
    render = subparsers.add_parser(
        "render",
        help="write the start views (4 facings), the top-down map, the reference sheet and the calibration image",
    )
    render.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    render.add_argument("--out", required=True, help="folder to write the PNG files to (created if missing)")
    render.add_argument("--rooms", type=int, default=3, help="number of rooms of a generated scene (default 3)")
    render.add_argument(
        "--scene", help="a shipped published scene (tos:run00), a published scene folder or a scene JSON file"
    )
    render.add_argument("--size", type=int, default=384, help="side of the egocentric views in pixels (default 384)")
    render.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Render the pictures of the chosen scene into ``args.out`` and list the files written."""
    from PIL import Image

    from theory_of_space.env.image import render_view
    from theory_of_space.env.sheets import calibration_image, reference_sheet
    from theory_of_space.env.topdown import render_topdown

    scene = _scene(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pictures = {}
    for facing in Facing:
        view = render_view(scene, Pose(scene.start.cell, facing), size=args.size)
        pictures[f"view_start_{facing.label}.png"] = view.image
    pictures["topdown.png"] = render_topdown(scene, scene.start).image
    pictures["reference_sheet.png"] = reference_sheet(scene)
    pictures["calibration.png"] = calibration_image(args.size)
    for name, image in pictures.items():
        Image.fromarray(image).save(out / name)
        print(out / name)
    return 0


def _scene(args: argparse.Namespace) -> Scene:
    if args.scene is None:
        return generate_scene(args.seed, n_rooms=args.rooms)
    return load_scene_path(args.scene)
