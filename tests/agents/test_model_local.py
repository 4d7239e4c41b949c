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


def test_a_client_wrapper_acts_on_its_own_requests_only(tiny_lm_path: Path) -> None:
    from theory_of_space.agents.clients.hf_local import HFLocalClient
    from theory_of_space.agents.model_agent import ModelAgent

    overrides = {"max_tokens": 6, "device": "cpu", "temperature": 0, "batch_size": 8, "batch_wait_s": 0.2}
    plain = make_model_agent(f"hf:{tiny_lm_path}", overrides=overrides)
    local = plain.client.local
    batches: list[tuple[str, frozenset[int]]] = []  # (wrapper, the rows' prompt lengths: one per request)
    lock = threading.Lock()

    def marker(label: str) -> Any:
        def wrap(call: Any) -> Any:
            with lock:
                batches.append((label, frozenset(call.inputs["attention_mask"].sum(dim=-1).tolist())))
            return nullcontext()

        return wrap

    steered = ModelAgent(plain.config, HFLocalClient(plain.config, local, wrapper=marker("steered")))
    conversations = [[Message("user", "look " * (i + 1) + "FINAL")] for i in range(8)]
    jobs = [(steered if i % 2 else plain, c) for i, c in enumerate(conversations)]
    with local.wrapped(marker("model")), ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job: job[0].act(job[1]), jobs))
    model_rows = [rows for label, rows in batches if label == "model"]
    steered_rows = frozenset().union(*(rows for label, rows in batches if label == "steered"))
    # The model-wide wrapper sees all eight requests, still batched; the client's only its own four, and
    # a batch is all steered or all plain.
    assert len(frozenset().union(*model_rows)) == 8 and max(len(rows) for rows in model_rows) > 1
    assert len(steered_rows) == 4
    assert all(rows <= steered_rows or rows.isdisjoint(steered_rows) for rows in model_rows)


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


@pytest.fixture(scope="module")
def templateless_lm_path(tiny_lm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model without a chat template, as base models ship."""
    import shutil

    folder = tmp_path_factory.mktemp("no-template") / "lm"
    shutil.copytree(tiny_lm_path, folder)
    (folder / "chat_template.jinja").unlink()
    return folder


def test_a_missing_model_folder_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="no local model folder at /nonexistent/model"):
        make_model_agent("hf:/nonexistent/model", overrides={"device": "cpu"})


def test_a_folder_that_is_no_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"cannot load '{tmp_path}' as a transformers model"):
        make_model_agent(f"hf:{tmp_path}", overrides={"device": "cpu"})


def test_a_tokenizer_without_chat_template_is_refused_at_construction(templateless_lm_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no chat template.*--set chat_template=plain"):
        make_model_agent(f"hf:{templateless_lm_path}", overrides={"device": "cpu", "seed": 11})


def test_the_plain_template_makes_a_templateless_model_work(templateless_lm_path: Path) -> None:
    overrides = {"device": "cpu", "max_tokens": 4, "temperature": 0, "chat_template": "plain", "seed": 12}
    agent = make_model_agent(f"hf:{templateless_lm_path}", overrides=overrides)
    reply = agent.act([Message("system", "look"), Message("user", "look FINAL")])
    assert reply.record.error is None and reply.record.output_tokens >= 1
    prompt = agent.client.local.tokenizer.apply_chat_template(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert prompt == "System: s\n\nUser: u\n\nAssistant:"
