"""Belief-inertia pairs from scripted false-belief episodes played in the env."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.false_belief import FalseBeliefAgent
from theory_of_space.probes.false_belief_requests import build_false_belief_requests, false_belief_episode
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.inertia import inertia_episode, write_inertia_episodes
from theory_of_space.steering.inertia import build_inertia_pairs, pairs_from_episodes
from theory_of_space.world.generate import generate_scene

FB_ID = "TheoryOfSpace/Explore-FalseBelief-v0"


def _play(seed: int):
    env = gym.make(FB_ID, reward="none")
    scene = generate_scene(seed)
    env.reset(options={"scene": scene})
    changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
    agent = FalseBeliefAgent("updating", scene, changed, changes)
    return scene, false_belief_episode(run_episode(env, agent, options={"scene": scene}), changed)


def test_pairs_from_a_scripted_episode_carry_the_right_old_and_new_values(tmp_path):
    scene, episode = _play(2)
    record = inertia_episode(episode, seed=2)
    pairs = pairs_from_episodes([record])
    assert pairs, "the scripted agent re-observes changed objects"
    changes = {c.name: c for c in episode.changes}
    start = scene.start.cell
    probed = {t.turn for t in episode.turns}
    for pair in pairs:
        change = changes[pair.object]
        assert pair.turn == episode.first_seen[pair.object] and pair.turn in probed
        new = [change.cell_to[0] - start[0], change.cell_to[1] - start[1]]
        old = [change.cell_from[0] - start[0], change.cell_from[1] - start[1]]
        assert pair.new["position"] == new and pair.old["position"] == old
        if change.kind == "rotate":
            assert (pair.old["facing"], pair.new["facing"]) == (change.facing_from.label, change.facing_to.label)
            assert json.loads(pair.positive)[pair.object]["facing"] == change.facing_to.label
        else:
            assert json.loads(pair.negative)[pair.object]["position"] == old
    # The prompt is exactly what that turn's global_fb probe sees, before the probe question.
    fb_requests = {r.turn: r for r in build_false_belief_requests(episode) if r.kind == "global_fb"}
    for pair in pairs_from_episodes([record], probe="global_fb"):
        request = fb_requests[pair.turn]
        assert pair.prompt == [{"role": m.role, "content": m.content} for m in request.messages]
    path = write_inertia_episodes([record], tmp_path)
    assert build_inertia_pairs(tmp_path) == pairs and path.name == "inertia_episodes.jsonl"


def _tiny_local_model(folder):
    """A tiny random Llama (d=16) and a word-level tokenizer with a chat template, saved to ``folder``."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", "{", "}", "FINAL", "ANSWER:", "lamp", "[1,", "2]", "north", "look"]
    core = Tokenizer(WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    tok.chat_template = "{% for m in messages %}{{ m['content'] }} </s> {% endfor %}"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(words),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        initializer_range=0.3,
        pad_token_id=0,
        eos_token_id=2,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_experiment_steers_only_the_probes_and_stores_rescorable_records(tmp_path):
    import torch

    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.probes.false_belief_requests import FalseBeliefRecord
    from theory_of_space.runner.inertia import run_inertia_experiment
    from theory_of_space.steering import CAA

    episodes = [_play(2)[1], _play(5)[1]]
    path = _tiny_local_model(tmp_path / "model")
    g = torch.Generator().manual_seed(0)
    caa = CAA(T=50.0).fit(torch.randn(8, 16, generator=g) + 2, torch.randn(8, 16, generator=g))
    overrides = {"max_tokens": 6, "device": "cpu", "temperature": 0, "batch_size": 4}
    with make_model_agent(f"hf:{path}", overrides=overrides) as agent:
        summary = run_inertia_experiment(episodes, agent, {"caa": (caa, 1)}, tmp_path / "run", in_flight=4)
    assert set(summary["conditions"]) == {"unsteered", "caa"}
    assert set(summary["paired"]["caa"]) == {"inertia_pos", "inertia_ori", "correctness_pos", "correctness_ori"}
    replies = {}
    for episode in episodes:
        folder = tmp_path / "run" / "episodes" / episode.scene.scene_id
        for name in ("unsteered", "caa"):
            record = FalseBeliefRecord.from_dict(json.loads((folder / f"{name}.json").read_text()))
            assert record.score()["invalid_maps"] >= 1  # a random model writes no maps; scored as invalid
            replies[(episode.scene.scene_id, name)] = [a.reply for a in record.answers.values()]
            assert len(record.answers) == 1 + len(episode.turns)  # exploration map + one per probed turn
    changed = sum(replies[(s, "caa")] != replies[(s, "unsteered")] for s, _ in replies)
    assert changed >= 1  # steering reached the probe answers
    assert (tmp_path / "run" / "summary.md").read_text().startswith("# False-belief probes")
    with pytest.raises(ValueError, match="`apply_to`: expected one of"):
        run_inertia_experiment(episodes, agent, {}, tmp_path / "x", apply_to="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`conditions`: 'unsteered' is added"):
        run_inertia_experiment(episodes, agent, {"unsteered": (caa, 1)}, tmp_path / "x")


def _steered_prefills(model, layer: int) -> list[bool]:
    """Per generation request (prefill forward), whether a steering hook sat on block ``layer`` (test probe)."""
    flags: list[bool] = []
    block = model.model.layers[layer]

    def pre(module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[1] > 1:
            flags.append(bool(block._forward_hooks))

    model.register_forward_pre_hook(pre, with_kwargs=True)
    return flags


@pytest.mark.parametrize("apply_to", ["fb_phase", "all"])
def test_experiment_steers_exactly_the_requested_requests(tmp_path, apply_to):
    import torch

    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.probes.false_belief_requests import FalseBeliefRecord
    from theory_of_space.runner.inertia import run_inertia_experiment
    from theory_of_space.steering import CAA

    episodes = [_play(2)[1], _play(5)[1]]
    path = _tiny_local_model(tmp_path / "model")
    g = torch.Generator().manual_seed(0)
    caa = CAA(T=50.0).fit(torch.randn(8, 16, generator=g) + 2, torch.randn(8, 16, generator=g))
    overrides = {"max_tokens": 4, "device": "cpu", "temperature": 0, "batch_size": 1}
    env_kwargs = {"max_false_belief_steps": 3}
    run = tmp_path / "run"
    with make_model_agent(f"hf:{path}", overrides=overrides) as agent:
        flags = _steered_prefills(agent.client.local.model, 1)
        summary = run_inertia_experiment(
            episodes, agent, {"caa": (caa, 1)}, run, apply_to=apply_to, in_flight=2, env_kwargs=env_kwargs
        )
        asked = len(flags)
        # Resumable: a second run reads every stored episode back and asks nothing.
        again = run_inertia_experiment(
            episodes, agent, {"caa": (caa, 1)}, run, apply_to=apply_to, in_flight=2, env_kwargs=env_kwargs
        )
        assert len(flags) == asked and again["conditions"] == summary["conditions"]
    phase_requests = {"unsteered": 0, "caa": 0}
    probe_requests = {"unsteered": 0, "caa": 0}
    answers = {}
    for episode in episodes:
        n_exploration = sum(m.role == "assistant" for m in episode.exploration_messages)
        folder = run / "episodes" / episode.scene.scene_id
        for name in ("unsteered", "caa"):
            transcript = json.loads((folder / f"{name}.transcript.json").read_text())["messages"]
            replies = [m for m in transcript if m["role"] == "assistant"]
            stored = [m for m in episode.exploration_messages if m.role == "assistant"]
            assert [m["content"] for m in replies[:n_exploration]] == [m.content for m in stored]
            phase_requests[name] += len(replies) - n_exploration
            record = FalseBeliefRecord.from_dict(json.loads((folder / f"{name}.json").read_text()))
            probe_requests[name] += len(record.requests)
            global_key = next(r["key"] for r in record.requests if r["kind"] == "global")
            answers[(episode.scene.scene_id, name)] = record.answers[global_key].reply
    assert phase_requests["caa"] > 0
    # Every model request was a phase turn or a probe; steered exactly where asked.
    assert len(flags) == sum(phase_requests.values()) + sum(probe_requests.values())
    expected = phase_requests["caa"] + (probe_requests["caa"] if apply_to == "all" else 0)
    assert sum(flags) == expected
    assert summary["steered_requests"] == {"unsteered": 0, "caa": expected}
    # The exploration-map probe has the same prompt in both conditions: equal answers unless probes are steered.
    for episode in episodes:
        same = answers[(episode.scene.scene_id, "unsteered")] == answers[(episode.scene.scene_id, "caa")]
        assert same == (apply_to == "fb_phase")


def test_replay_reproduces_the_exploration_or_refuses(tmp_path):
    from theory_of_space.runner.replay import episode_from_dict, episode_to_dict, replay_false_belief_phase

    _, episode = _play(2)
    assert episode_from_dict(json.loads(json.dumps(episode_to_dict(episode)))) == episode
    player = FalseBeliefAgent("updating", episode.scene, episode.changed, episode.changes)
    again, asked = replay_false_belief_phase(episode, player)
    assert again.messages == episode.messages and asked == sum(
        m.role == "assistant" for m in episode.messages[len(episode.exploration_messages) :]
    )
    with pytest.raises(ValueError, match="did not reproduce its transcript"):
        replay_false_belief_phase(episode, player, env_kwargs={"max_exp_steps": 2})


def test_experiment_refuses_an_agent_with_a_response_cache(tmp_path):
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.inertia import run_inertia_experiment

    path = _tiny_local_model(tmp_path / "model")
    overrides = {"device": "cpu", "cache_dir": str(tmp_path / "cache")}
    with make_model_agent(f"hf:{path}", overrides=overrides) as agent, pytest.raises(ValueError, match="cache"):
        run_inertia_experiment([_play(2)[1]], agent, {}, tmp_path / "run")
