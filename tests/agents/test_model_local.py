"""Local transformers models behind the agent protocol: tiny random models built from configs, on CPU."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import theory_of_space as tos
from theory_of_space.agents.base import Message
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.model_agent import make_model_agent
from theory_of_space.runner.episode import run_episode

pytest.importorskip("transformers")


def _env(steps: int) -> gym.Env:
    return gym.make("TheoryOfSpace/Explore-v0", n_rooms=2, max_exp_steps=steps)


def test_a_tiny_local_model_runs_a_whole_episode(tiny_lm_path: Path) -> None:
    overrides = {"max_tokens": 12, "device": "cpu", "history_turns": 2, "temperature": 0}
    scene = tos.generate_scene(seed=1, n_rooms=2)
    agent = make_agent(f"hf:{tiny_lm_path}", scene=scene, overrides=overrides)
    result = run_episode(_env(4), agent, options={"scene": scene})
    assert len(result.turns) == 4
    # A random model writes noise; the env counts its turns as invalid and the run carries on.
    assert not all(t.valid for t in result.turns)
    for turn in result.turns:
        assert turn.record.error is None and turn.record.input_tokens > 0
        assert 1 <= turn.record.output_tokens <= 12
        assert turn.record.cost_usd is None


def test_batched_generation_matches_one_at_a_time(tiny_lm_path: Path) -> None:
    overrides = {"max_tokens": 8, "device": "cpu", "temperature": 0, "batch_size": 8, "batch_wait_s": 0.2}
    agent = make_model_agent(f"hf:{tiny_lm_path}", overrides=overrides)
    conversations = [[Message("user", "look " * (i + 1) + "FINAL")] for i in range(6)]
    batch_sizes: list[int] = []
    lock = threading.Lock()

    class Recorder:
        def __init__(self, call: Any) -> None:
            with lock:
                batch_sizes.append(call.inputs["input_ids"].shape[0])

        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            return None

    local = agent.client.local
    with local.wrapped(Recorder), ThreadPoolExecutor(max_workers=6) as pool:
        together = [reply.text for reply in pool.map(agent.act, conversations)]
    assert max(batch_sizes) > 1  # the steering hook saw real batches
    local.batch_size = 1
    try:
        alone = [agent.act(conversation).text for conversation in conversations]
    finally:
        local.batch_size = 8
    assert together == alone


def test_a_tiny_vision_model_sees_images(tiny_vlm_path: Path) -> None:
    seen: list[Any] = []

    def record(call: Any) -> Any:
        seen.append(call.inputs)
        return nullcontext()

    with make_model_agent(f"hf:{tiny_vlm_path}", overrides={"max_tokens": 6, "device": "cpu"}) as agent:
        image = np.zeros((40, 60, 3), dtype=np.uint8)
        with agent.client.local.wrapped(record):
            reply = agent.act([Message("system", "rules"), Message("user", "look <image> now", (image,))])
    assert reply.record.error is None and 1 <= reply.record.output_tokens <= 6
    assert "pixel_values" in seen[0] and seen[0]["pixel_values"].shape[0] == 1


def test_a_tiny_vision_model_runs_a_text_episode(tiny_vlm_path: Path) -> None:
    with make_model_agent(
        f"hf:{tiny_vlm_path}", overrides={"max_tokens": 6, "device": "cpu", "history_turns": 1}
    ) as agent:
        result = run_episode(_env(2), agent, seed=0)
    assert len(result.turns) == 2 and all(t.record.error is None for t in result.turns)
