"""The published example scenes shipped inside the package, and the ``tos:NAME`` names that point to them.

The five example scenes of the published benchmark (``3-room/run00`` … ``run04``, MIT licensed; the
notice and the source are in ``theory_of_space/data/tos_scenes/``) travel with the package, so every
place that takes a scene folder also takes ``tos:run00``: ``load_tos_scene``, ``load_tos_false_belief``
and the ``--scene`` option of the ``tos`` subcommands.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SCENE_PREFIX = "tos:"
"""A scene path that starts with this names a published scene shipped with the package."""


def published_scene_root() -> Path:
    """The folder holding the shipped published scenes (``3-room/runNN``), inside the installed package."""
    return Path(str(resources.files("theory_of_space") / "data" / "tos_scenes" / "3-room"))


def published_scene_names() -> tuple[str, ...]:
    """The names of the shipped scenes, sorted: ``('tos:run00', ..., 'tos:run04')``."""
    root = published_scene_root()
    return tuple(sorted(f"{SCENE_PREFIX}{child.name}" for child in root.iterdir() if child.is_dir()))


def resolve_scene_path(path: str | Path) -> Path:
    """The folder a ``tos:NAME`` names, or ``path`` itself when it is an ordinary path.

    Raises:
        ValueError: for a ``tos:`` name that names no shipped scene; the message lists the names there are.

    Example:
        >>> resolve_scene_path("tos:run00").name
        'run00'
    """
    text = str(path)
    if not text.startswith(SCENE_PREFIX):
        return Path(path)
    folder = published_scene_root() / text[len(SCENE_PREFIX) :]
    if text not in published_scene_names():
        raise ValueError(f"unknown published scene {text!r}; available: {', '.join(published_scene_names())}")
    return folder
