"""The published benchmark's pre-rendered images (``image_source="dataset"``).

A published scene folder may hold, next to ``meta_data.json``, one picture per place the agent can
stand and per facing: ``<cam_id>_facing_<dir>.png``, where ``cam_id`` is the ``object_id`` of the
object or door the agent stands on and ``agent`` for the start; the changed scene of the false-belief
phase uses the same names ending in ``_fbexp.png``. The 768×768 originals are resized to the env's
image size with a Lanczos filter. ``instruction.png`` (calibration) and
``orientation_instruction.png`` (reference sheet) replace ours when present.

A missing view is a :class:`FileNotFoundError` that names the file, never a quiet fallback to our
renderer: one episode must not mix two kinds of picture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import normalise_name
from theory_of_space.world.tos_format import META_FILE, TosFormatError

START_CAMERA = "agent"
FALSE_BELIEF_SUFFIX = "_fbexp"
CALIBRATION_FILE = "instruction.png"
REFERENCE_SHEET_FILE = "orientation_instruction.png"


@dataclass(frozen=True)
class DatasetImages:
    """The pre-rendered pictures of one published scene folder.

    Args:
        folder: the ``runNN`` folder.
        camera_ids: item name (normalised) → camera id, from the folder's ``meta_data.json``.
        listed: the view files that ``images[]`` lists.
        size: the side of the square pictures handed out.

    Example:
        >>> images = DatasetImages.open("room_data/3-room/run00")  # doctest: +SKIP
        >>> images.view(None, Facing.NORTH).shape  # doctest: +SKIP
        (384, 384, 3)
    """

    folder: Path
    camera_ids: dict[str, str]
    listed: tuple[str, ...]
    size: int = 384

    @classmethod
    def open(cls, folder: str | Path, *, size: int = 384) -> DatasetImages:
        """Read the camera ids and the list of views from ``folder/meta_data.json``.

        Raises:
            FileNotFoundError: when the folder has no ``meta_data.json``.
            TosFormatError: when the file lacks the ``objects`` or ``images`` lists.
        """
        folder = Path(folder)
        meta = folder / META_FILE
        if not meta.is_file():
            raise FileNotFoundError(f"no published scene file at {meta}")
        data = json.loads(meta.read_text())
        objects, images = data.get("objects"), data.get("images")
        if not isinstance(objects, list) or not isinstance(images, list):
            raise TosFormatError(f"{meta}: expected lists for `objects` and `images` to find the pre-rendered views")
        camera_ids = {normalise_name(str(o["name"])): str(o["object_id"]) for o in objects if "object_id" in o}
        listed = tuple(
            sorted(
                {
                    str(entry["file"])
                    for entry in images
                    if isinstance(entry, dict)
                    and "_facing_" in str(entry.get("file", ""))
                    and not str(entry.get("cam_id", "")).startswith("task_")
                }
            )
        )
        return cls(folder=folder, camera_ids=camera_ids, listed=listed, size=size)

    def view_path(self, anchor: str | None, facing: Facing, *, changed: bool = False) -> Path:
        """The file of the view from the start (``anchor=None``) or from the named item.

        Args:
            anchor: the name of the object or door the agent stands on, or None at the start.
            facing: the agent's facing.
            changed: the false-belief phase's changed scene (``_fbexp`` files).

        Raises:
            KeyError: when the item has no camera in ``meta_data.json``.
        """
        if anchor is None:
            camera = START_CAMERA
        else:
            camera = self.camera_ids.get(normalise_name(anchor), "")
            if not camera:
                raise KeyError(f"{self.folder / META_FILE} lists no object_id (camera) for {anchor!r}")
        suffix = FALSE_BELIEF_SUFFIX if changed else ""
        return self.folder / f"{camera}_facing_{facing.label}{suffix}.png"

    def view(self, anchor: str | None, facing: Facing, *, changed: bool = False) -> np.ndarray:
        """The pre-rendered view, resized to ``size`` × ``size`` (uint8 RGB).

        Raises:
            FileNotFoundError: naming the missing file.
        """
        return self._load(self.view_path(anchor, facing, changed=changed), resize=True)

    def calibration(self) -> np.ndarray | None:
        """``instruction.png`` when the folder has it, else None (the env then renders its own)."""
        path = self.folder / CALIBRATION_FILE
        return self._load(path, resize=False) if path.is_file() else None

    def reference_sheet(self) -> np.ndarray | None:
        """``orientation_instruction.png`` when the folder has it, else None."""
        path = self.folder / REFERENCE_SHEET_FILE
        return self._load(path, resize=False) if path.is_file() else None

    def missing(self) -> list[str]:
        """The listed view files that are not in the folder (empty when all are present)."""
        return [name for name in self.listed if not (self.folder / name).is_file()]

    def check(self) -> None:
        """Fail before an episode starts when the folder lacks any listed view.

        Raises:
            FileNotFoundError: naming the first missing file and how many are missing.
        """
        if not self.listed:
            raise FileNotFoundError(
                f"{self.folder / META_FILE} lists no pre-rendered views in `images`; "
                "use image_source='render' for this folder"
            )
        missing = self.missing()
        if missing:
            raise FileNotFoundError(
                f"pre-rendered view {self.folder / missing[0]} is missing ({len(missing)} of {len(self.listed)} "
                "listed views missing); copy the published images next to meta_data.json or use image_source='render'"
            )

    def _load(self, path: Path, *, resize: bool) -> np.ndarray:
        if not path.is_file():
            raise FileNotFoundError(f"pre-rendered image {path} is missing")
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        if resize and image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.LANCZOS)
        return np.asarray(image).copy()
