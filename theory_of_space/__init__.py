"""theory_of_space: can foundation models build, revise and use a map of space they explore themselves?

Importing the package registers the Gymnasium environments; heavy dependencies (torch, transformers,
provider SDKs) are imported only by the modules that need them.
"""

from __future__ import annotations

from theory_of_space._registration import register_envs
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Door, Pose, Scene, SceneObject
from theory_of_space.world.tos_format import TosFormatError, load_tos_false_belief, load_tos_scene

__version__ = "0.1.0"

__all__ = [
    "Door",
    "Facing",
    "Pose",
    "Scene",
    "SceneObject",
    "TosFormatError",
    "__version__",
    "generate_scene",
    "load_tos_false_belief",
    "load_tos_scene",
    "register_envs",
]

register_envs()
