"""The vision world in the env: images in observations, check_env, vector envs and published pictures."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv
from PIL import Image

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.base import Message
from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.env.image import render_view
from theory_of_space.env.text import IMAGE_OBSERVATION
from theory_of_space.world.scene import Pose

VISION_ID = "TheoryOfSpace/Explore-Vision-v0"
SIZE = 96
OBSERVE = "THINK: look\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"


def _make(**kwargs) -> gym.Env:
    return gym.make(VISION_ID, image_size=SIZE, **kwargs)


@pytest.mark.parametrize("env_id", ["TheoryOfSpace/Explore-v0", VISION_ID])
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_check_env_passes(env_id, render_mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(env_id, render_mode=render_mode)
        check_env(env.unwrapped, skip_render_check=False)
        env.close()


def test_vision_observation_space_holds_an_image_box():
    env = _make()
    space = env.observation_space
    assert set(space.spaces) == {"text", "image"}
    assert space["image"].shape == (SIZE, SIZE, 3) and space["image"].dtype == np.uint8
    assert set(gym.make("TheoryOfSpace/Explore-v0").observation_space.spaces) == {"text"}


def test_first_message_carries_the_calibration_image_and_the_reference_sheet():
    env = _make()
    obs, info = env.reset(seed=0)
    assert obs["text"].count("<image>") == 2 == len(info["images"])
    assert obs["text"].index("Calibration image: <image>") < obs["text"].index("Object reference sheet: <image>")
    assert info["image_attached"] is False and not obs["image"].any()
    assert info["images"][0].shape == (SIZE, SIZE, 3)
    Message("user", obs["text"], tuple(info["images"]))  # placeholders and images line up


def test_observe_returns_the_view_of_the_agent_pose():
    env = _make()
    env.reset(seed=0)
    obs, _, _, _, info = env.step(OBSERVE)
    assert f"You rotated clockwise 90°. {IMAGE_OBSERVATION}" in obs["text"]
    assert "•" not in obs["text"]  # no text description leaks into the vision world
    assert info["image_attached"] is True
    session = env.unwrapped.session
    expected = render_view(env.unwrapped.scene, Pose(session.cell, session.facing), rooms=session.rooms, size=SIZE)
    assert np.array_equal(obs["image"], expected.image)
    assert len(info["images"]) == 1 and np.array_equal(info["images"][0], obs["image"])
    assert info["action_results"][-1]["message"] == IMAGE_OBSERVATION
    Message("user", obs["text"], tuple(info["images"]))


def test_steps_without_an_observe_give_a_black_frame_and_no_image():
    env = _make()
    obs, info = env.reset(seed=0)
    first = info["images"]
    assert first
    for reply in ("not a reply at all", "FINAL ANSWER: Actions: [Term()]"):
        obs, _, _, _, info = env.step(reply)
        assert info["image_attached"] is False and info["images"] == []
        assert obs["image"].shape == (SIZE, SIZE, 3) and not obs["image"].any()
        assert env.observation_space.contains(obs)


def test_same_seed_same_pixels():
    frames = []
    for _ in range(2):
        env = _make()
        _, info = env.reset(seed=11)
        obs, *_ = env.step(OBSERVE)
        frames.append((info["images"], obs["image"]))
    (first_images, first_view), (second_images, second_view) = frames
    assert all(np.array_equal(a, b) for a, b in zip(first_images, second_images))
    assert np.array_equal(first_view, second_view)


def test_rgb_array_render_is_a_top_down_picture():
    env = _make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


def test_the_vision_env_pickles():
    env = _make()
    env.reset(seed=2)
    clone = pickle.loads(pickle.dumps(env))
    a, *_ = env.step(OBSERVE)
    b, *_ = clone.step(OBSERVE)
    assert a["text"] == b["text"] and np.array_equal(a["image"], b["image"])


@pytest.mark.parametrize("vector", ["sync", "async"])
def test_vector_envs_batch_images(vector):
    fns = [lambda: gym.make(VISION_ID, image_size=SIZE) for _ in range(2)]
    envs = SyncVectorEnv(fns) if vector == "sync" else AsyncVectorEnv(fns, shared_memory=False)
    try:
        obs, _ = envs.reset(seed=[0, 1])
        assert obs["image"].shape == (2, SIZE, SIZE, 3)
        obs, *_ = envs.step([OBSERVE, "FINAL ANSWER: Actions: [Observe()]"])
        assert obs["image"].shape == (2, SIZE, SIZE, 3) and obs["image"].any(axis=(1, 2, 3)).all()
        assert all(IMAGE_OBSERVATION in text for text in obs["text"])
    finally:
        envs.close()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"image_size": 8}, "expected an integer of at least 32 for `image_size`, got 8"),
        ({"image_source": "web"}, "expected one of 'render', 'dataset' for `image_source`, got 'web'"),
        (
            {"image_source": "dataset"},
            "image_source='dataset' needs scene_source='dataset' (the pictures live in the scene folders)",
        ),
    ],
)
def test_bad_vision_options_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ExploreEnv(obs_mode="vision", **kwargs)


# ---- published pre-rendered images ------------------------------------------------------------


@pytest.fixture
def published_dir(tmp_path, reference_dir):
    """A copy of run00 with a small solid-colour PNG for every view its ``images[]`` lists."""
    folder = tmp_path / "run00"
    folder.mkdir()
    shutil.copy(reference_dir / "run00" / "meta_data.json", folder / "meta_data.json")
    meta = json.loads((folder / "meta_data.json").read_text())
    for k, entry in enumerate(meta["images"]):
        colour = (k * 37 % 256, k * 91 % 256, 200)
        Image.new("RGB", (48, 48), colour).save(folder / entry["file"])
    return tmp_path


def test_dataset_images_are_used_for_views(published_dir):
    env = gym.make(VISION_ID, scene_source="dataset", data_dir=str(published_dir), image_source="dataset")
    _, info = env.reset(seed=0)
    assert len(info["images"]) == 2  # no instruction PNGs in the folder: ours are rendered
    obs, *_ = env.step(OBSERVE)
    expected = Image.open(published_dir / "run00" / "agent_facing_east.png").convert("RGB").resize((384, 384))
    assert np.array_equal(obs["image"], np.asarray(expected))
    obs, *_ = env.step("FINAL ANSWER: Actions: [JumpTo(television), Observe()]")
    meta = json.loads((published_dir / "run00" / "meta_data.json").read_text())
    television = next(o["object_id"] for o in meta["objects"] if o["name"] == "television")
    expected = Image.open(published_dir / "run00" / f"{television}_facing_east.png").convert("RGB").resize((384, 384))
    assert np.array_equal(obs["image"], np.asarray(expected))


def test_a_missing_published_image_is_an_error_naming_the_file(published_dir):
    missing = published_dir / "run00" / "agent_facing_south.png"
    missing.unlink()
    env = gym.make(VISION_ID, scene_source="dataset", data_dir=str(published_dir), image_source="dataset")
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        env.reset(seed=0)


def test_false_belief_views_use_the_fbexp_names(published_dir):
    from theory_of_space.env.dataset_images import DatasetImages
    from theory_of_space.world.geometry import Facing

    images = DatasetImages.open(published_dir / "run00")
    path = images.view_path("television", Facing.NORTH, changed=True)
    assert path.name.endswith("_facing_north_fbexp.png")
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        images.view("television", Facing.NORTH, changed=True)
