"""A real OpenAI-compatible server that this project did not write drives an episode and its probes.

The test saves a tiny Llama to a temporary folder, starts ``transformers serve`` on it on 127.0.0.1
(offline: ``HF_HUB_OFFLINE=1``, nothing is downloaded) and points the ``compat:`` agent at it, exactly as
a user would point it at vLLM or SGLang.

The model is the random tiny Llama of :mod:`tiny_models` with a few weights set by hand so that greedy
decoding writes one valid reply: a model whose every step is invalid has no valid turn, and an episode
without a valid turn asks no probe.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest

import theory_of_space as tos
from theory_of_space.agents.model_agent import make_model_agent
from theory_of_space.probes.metrics import probe_metrics
from theory_of_space.probes.requests import run_probes
from theory_of_space.runner.episode import run_episode

pytestmark = pytest.mark.slow

STARTUP_S = 180


REPLY_CHAIN = ["THINK:", "look", "FINAL", "ANSWER:", "Actions:", "[Observe()]", "</s>"]
"""What the model writes: each word's successor, after the prompt's last token (``<unk>``, "assistant:")."""


def _build_chained_lm(folder: Path) -> Path:
    """The tiny Llama, its blocks silenced and its embeddings one-hot, so that it predicts each word's
    successor in :data:`REPLY_CHAIN` from the current word alone (a bigram model in transformer weights)."""
    import torch
    from tiny_models import build_tiny_causal_lm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_tiny_causal_lm(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    vocab, hidden = model.config.vocab_size, model.config.hidden_size
    assert hidden >= vocab, "one-hot embeddings need hidden_size >= vocab_size"
    with torch.no_grad():
        for layer in model.model.layers:  # the residual stream then carries the token's embedding alone
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.copy_(torch.eye(vocab, hidden))
        head = torch.zeros(vocab, hidden)
        chain = [tokenizer.unk_token, *REPLY_CHAIN]
        for word, successor in itertools.pairwise(chain):
            head[tokenizer.convert_tokens_to_ids(successor), tokenizer.convert_tokens_to_ids(word)] = 10.0
        model.lm_head.weight.copy_(head)
    model.save_pretrained(folder)
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture
def transformers_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, model)`` of a ``transformers serve`` process serving the tiny model; stopped after."""
    pytest.importorskip("fastapi", reason="transformers serve needs `pip install transformers[serving]`")
    pytest.importorskip("uvicorn", reason="transformers serve needs `pip install transformers[serving]`")
    command = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if command is None:
        pytest.skip("the `transformers` command is not installed")
    pytest.importorskip("transformers")
    model_path = _build_chained_lm(tmp_path / "chained-lm")
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [command, "serve", str(model_path), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
             "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _healthy(f"http://127.0.0.1:{port}/health"):
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not healthy after {STARTUP_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(model_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_an_episode_and_its_probes_run_through_transformers_serve(transformers_server: tuple[str, str]) -> None:
    base_url, model = transformers_server
    scene = tos.generate_scene(seed=1, n_rooms=2)
    overrides = {"max_tokens": "16", "temperature": "0", "max_retries": "0", "timeout_s": "120"}
    with make_model_agent(f"compat:{model}@{base_url}", overrides=overrides) as agent:
        env = gym.make("TheoryOfSpace/Explore-v0", n_rooms=2, max_exp_steps=3)
        result = run_episode(env, agent, options={"scene": scene})
        env.close()
        assert len(result.turns) == 3 and result.truncated
        for turn in result.turns:
            assert turn.record.error is None, turn.record.error
            assert turn.reply == " ".join(REPLY_CHAIN[:-1]) and turn.valid
            # the usage block is the server's own count from its tokenizer (the reply and its end token)
            assert turn.record.input_tokens > 100 and turn.record.output_tokens == len(REPLY_CHAIN)

        record = run_probes(result, agent, in_flight=2)
        assert record.requests, "an active episode asks at least one probe"
        assert {r["turn"] for r in record.requests} == {1, 2, 3}  # a global map at least, every turn
        assert set(record.answers) == {r["key"] for r in record.requests}
        for answer in record.answers.values():
            assert answer.error is None, answer.error
            assert answer.reply == " ".join(REPLY_CHAIN[:-1])  # not a map: scored as an invalid one
            assert answer.call["input_tokens"] > 0
        metrics = probe_metrics(record)
        assert "correctness" in metrics
