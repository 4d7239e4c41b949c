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

    words = ["<pad>", "<s>", "</s>", "<unk>", "{", "}", "FINAL", "ANSWER:", "lamp", "north", "look"]
    # the words of a pair's completions, {"lamp": {"position": [3, -1], "facing": "north"}}, but the name
    words += ['{"position":', '"facing":', *(f'"{f}"}}}}' for f in ("north", "east", "south", "west"))]
    words += [w for v in range(-15, 16) for w in (f"[{v},", f"{v}]}}}}", f"{v}],")]
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


SCENES = "2,5"
FAST = {"max_exp_steps": 3, "max_false_belief_steps": 3}
PAIRED = {"max_exp_steps": 8, "max_false_belief_steps": 8}
OVERRIDES = {"max_tokens": 6, "device": "cpu", "temperature": 0, "batch_size": 4}


def _caa():
    import torch

    from theory_of_space.steering import CAA

    g = torch.Generator().manual_seed(0)
    return CAA(T=50.0).fit(torch.randn(8, 16, generator=g) + 2, torch.randn(8, 16, generator=g))


def _results(folder, phase):
    from theory_of_space.runner.store import EpisodeStore

    return EpisodeStore(folder, readonly=True).results(phase)


def test_experiment_steers_only_the_probes_and_is_a_run_that_rescore_and_report_read(tmp_path, capsys):
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.cli import main
    from theory_of_space.probes.false_belief_requests import FalseBeliefRecord
    from theory_of_space.report.summary import load_runs, summarise
    from theory_of_space.runner.inertia import read_run_inertia_episodes, run_inertia_experiment, stored_episode_folders
    from theory_of_space.steering.inertia_run import pair_margins

    path = _tiny_local_model(tmp_path / "model")
    run = tmp_path / "run"
    caa = _caa()
    with make_model_agent(f"hf:{path}", overrides=OVERRIDES) as agent:
        summary = run_inertia_experiment(
            agent, SCENES, {"caa": (caa, 1)}, run, player="updating", in_flight=4, **PAIRED
        )
        with pytest.raises(ValueError, match="`apply_to`: expected one of"):
            run_inertia_experiment(agent, SCENES, {}, tmp_path / "x", apply_to="everything")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'unsteered' is a name the experiment uses"):
            run_inertia_experiment(agent, SCENES, {"unsteered": (caa, 1)}, tmp_path / "x")
        with pytest.raises(ValueError, match="`player`: expected one of"):
            run_inertia_experiment(agent, SCENES, {}, tmp_path / "x", player="scout")
        with pytest.raises(ValueError, match="condition 'caa': stored"):
            run_inertia_experiment(agent, SCENES, {"caa": (_caa(), 0)}, run, player="updating", **PAIRED)
    longer = {**OVERRIDES, "max_tokens": 7}
    with make_model_agent(f"hf:{path}", overrides=longer) as agent, pytest.raises(ValueError, match="stored 6, now 7"):
        run_inertia_experiment(agent, SCENES, {"caa": (caa, 1)}, run, player="updating", **PAIRED)
    assert list(summary["conditions"]) == ["updating", "unsteered", "caa"]
    assert set(summary["paired"]["caa"]) == {"inertia_pos", "inertia_ori", "correctness_pos", "correctness_ori"}
    assert summary["paired"]["caa"]["inertia_ori"]["n_scenes"] <= 2
    base = stored_episode_folders(run, "updating")
    replies, probes = {}, 0
    for name in ("unsteered", "caa"):
        folders = stored_episode_folders(run, name)
        assert [f.relative_to(run / name) for f in folders] == [f.relative_to(run / "updating") for f in base]
        for folder, played in zip(folders, base, strict=True):
            # The exploration and the phase's turns are the player's; only the maps are the model's.
            assert _results(folder, "explore") == _results(played, "explore")
            turns = {k: v for k, v in _results(played, "false_belief").items() if k.startswith("false_belief/t")}
            assert {k: v for k, v in _results(folder, "false_belief").items() if k in turns} == turns
            record = FalseBeliefRecord.from_dict(json.loads((folder / "false_belief_record.json").read_text()))
            assert record.answerer == name
            assert record.score()["invalid_maps"] >= 1  # a random model writes no maps; scored as invalid
            replies[(folder.relative_to(run / name), name)] = [a.reply for a in record.answers.values()]
            probes += len(record.answers) if name == "caa" else 0
    assert sum(replies[(f, "caa")] != replies[(f, "unsteered")] for f, _ in replies) >= 1  # steering reached them
    assert summary["conditions"]["caa"]["steered_requests"] == probes
    assert summary["conditions"]["unsteered"]["steered_requests"] == 0
    assert (run / "steering_summary.md").read_text().startswith("# Belief inertia, steering applied to: probes")
    # Decode rates of the requests each condition generated itself (the scripted player generated none).
    rates = {name: c["tokens_per_s"] for name, c in summary["conditions"].items()}
    assert rates["updating"] is None and rates["unsteered"] > 0 and rates["caa"] > 0
    assert summary["conditions"]["caa"]["time_ratio"] == pytest.approx(rates["unsteered"] / rates["caa"])
    # Margins and h on the pairs of the base episodes: the unsteered margin is the model's own.
    pairs = summary["pairs"]
    expected_pairs = pairs_from_episodes(read_run_inertia_episodes(run, "updating"))
    assert pairs["n_pairs"] == len(expected_pairs) > 0
    with make_model_agent(f"hf:{path}", overrides=OVERRIDES) as agent:
        local = agent.client.local
        plain = pair_margins(local.model, local.tokenizer, expected_pairs)
        steered = pair_margins(local.model, local.tokenizer, expected_pairs, caa, 1)
    assert pairs["unsteered"]["margin"] == pytest.approx(float(plain.mean()), rel=1e-5)
    assert pairs["conditions"]["caa"]["margin"] == pytest.approx(float(steered.mean()), rel=1e-5)
    assert pairs["conditions"]["caa"]["margin"] != pytest.approx(pairs["unsteered"]["margin"])
    assert set(pairs["conditions"]["caa"]["h"]) == {"1"}
    # A run like any other: re-scored offline and reported, one row per condition.
    capsys.readouterr()
    assert main(["rescore", str(run)]) == 0
    table = capsys.readouterr().out
    assert all(f"| {name} |" in table for name in ("updating", "unsteered", "caa"))
    groups = summarise(load_runs([run]))["groups"]
    assert {"updating | text | active", "unsteered | text | active", "caa | text | active"} <= set(groups)


def _scores(summary):
    timing = ("tokens_per_s", "time_ratio")
    return {name: {k: v for k, v in c.items() if k not in timing} for name, c in summary["conditions"].items()}


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


@pytest.mark.parametrize(("apply_to", "player"), [("fb_phase", "updating"), ("all", "updating"), ("all", "model")])
def test_experiment_steers_exactly_the_requested_requests(tmp_path, apply_to, player):
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.inertia import run_inertia_experiment, stored_episode_folders
    from theory_of_space.runner.store import EpisodeStore

    path = _tiny_local_model(tmp_path / "model")
    run = tmp_path / "run"
    overrides = {**OVERRIDES, "max_tokens": 4, "batch_size": 1}
    with make_model_agent(f"hf:{path}", overrides=overrides) as agent:
        flags = _steered_prefills(agent.client.local.model, 1)
        summary = run_inertia_experiment(
            agent, SCENES, {"caa": (_caa(), 1)}, run, apply_to=apply_to, player=player, in_flight=2,
            pair_diagnostics=False, **FAST
        )
        asked = len(flags)
        # Resumable: a second run reads every stored result back and asks nothing.
        again = run_inertia_experiment(
            agent, SCENES, {"caa": (_caa(), 1)}, run, apply_to=apply_to, player=player, in_flight=2,
            pair_diagnostics=False, **FAST
        )
        assert len(flags) == asked and again["conditions"] == summary["conditions"]
        if player == "updating":  # the scripted transcript always has a map probe to lose
            # Resumable per request: a lost map answer is asked again, alone, with the condition's steering.
            store = EpisodeStore(stored_episode_folders(run, "caa")[0])
            lost = next(k for k in store.results("false_belief") if not k.startswith("false_belief/t"))
            store.drop("false_belief", [lost])
            resumed = run_inertia_experiment(
                agent, SCENES, {"caa": (_caa(), 1)}, run, apply_to=apply_to, player=player, in_flight=2,
                pair_diagnostics=False, **FAST
            )
            assert flags[asked:] == [apply_to == "all"]
            assert _scores(resumed) == _scores(summary)  # greedy: the same answer again (its latency differs)
    sent = {"unsteered": 0, "caa": 0}
    steered = 0
    answers = {}
    for name in sent:
        for folder in stored_episode_folders(run, name):
            phase = _results(folder, "false_belief")
            turns = sum(k.startswith("false_belief/t") for k in phase)
            explored = len(_results(folder, "explore")) if player == "model" else 0  # else copied
            assert turns > 0
            sent[name] += explored + len(phase)
            if name == "caa":
                steered += explored + len(phase) if apply_to == "all" else turns
            exploration_map = [v["reply"] for k, v in phase.items() if k.startswith("probe/")]
            answers[(folder.relative_to(run / name), name)] = exploration_map
    # Every model request of the first run was an exploration turn, a phase turn or a probe; steered
    # exactly where asked.
    assert asked == sum(sent.values())
    assert sum(flags[:asked]) == steered == summary["conditions"]["caa"]["steered_requests"]
    # The exploration-map probe has the same prompt in both conditions: equal answers unless probes are steered.
    if player == "updating":
        for key, name in answers:
            if name == "caa":
                assert (answers[(key, "caa")] == answers[(key, "unsteered")]) == (apply_to == "fb_phase")


def test_a_stored_false_belief_episode_reads_back_as_played(tmp_path):
    from theory_of_space.probes.false_belief_requests import build_false_belief_requests
    from theory_of_space.runner.experiment import Experiment
    from theory_of_space.runner.inertia import read_stored_episode, run_false_belief_steps, stored_episode_folders
    from theory_of_space.runner.pipeline import run_experiment
    from theory_of_space.runner.store import EpisodeStore

    run = tmp_path / "run"
    experiment = Experiment(agents=("updating",), scenes="2", phases=("explore", "false_belief"), out=str(run))
    assert run_experiment(experiment).done == 1
    (folder,) = stored_episode_folders(run)
    episode, record = read_stored_episode(folder, run_false_belief_steps(run))
    assert episode.first_seen == record.first_seen and episode.changes == record.changes
    assert [r.key for r in build_false_belief_requests(episode)] == [r["key"] for r in record.requests]
    pairs = build_inertia_pairs(run)
    assert pairs and pairs == pairs_from_episodes([inertia_episode(episode, seed=2)])
    assert {p.object for p in pairs} <= {c.name for c in episode.changes}
    store = EpisodeStore(folder)
    last = max(k for k in store.results("false_belief") if k.startswith("false_belief/t"))
    store.drop("false_belief", [last])
    with pytest.raises(ValueError, match="stored turns end before the false-belief episode does"):
        read_stored_episode(folder, run_false_belief_steps(run))


def test_experiment_refuses_an_agent_with_a_response_cache(tmp_path):
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.inertia import run_inertia_experiment

    path = _tiny_local_model(tmp_path / "model")
    overrides = {"device": "cpu", "cache_dir": str(tmp_path / "cache")}
    with make_model_agent(f"hf:{path}", overrides=overrides) as agent, pytest.raises(ValueError, match="cache"):
        run_inertia_experiment(agent, SCENES, {}, tmp_path / "run")


def test_the_sweep_reads_its_pairs_from_a_run_folder(tmp_path, capsys):
    from theory_of_space.cli import main
    from theory_of_space.runner.experiment import Experiment
    from theory_of_space.runner.pipeline import run_experiment

    run = tmp_path / "run"
    experiment = Experiment(agents=("updating",), scenes="0:6", phases=("explore", "false_belief"), out=str(run),
                            max_exp_steps=6, max_false_belief_steps=6)
    assert run_experiment(experiment).done == 6
    path = _tiny_local_model(tmp_path / "model")
    assert main(["steer", "pairs", "--runs", str(run), "--out", str(tmp_path / "pairs")]) == 0
    argv = ["steer", "sweep", "--model", str(path), "--runs", str(run), "--layers", "1", "--methods", "caa"]
    argv += ["--theta=0,0.1", "--no-generate", "--device", "cpu", "--out", str(tmp_path / "sweep")]
    assert main(argv) == 0
    assert "# Belief-inertia sweep" in capsys.readouterr().out
    sweep_pairs = (tmp_path / "sweep" / "pairs.jsonl").read_text()
    assert sweep_pairs == (tmp_path / "pairs" / "pairs.jsonl").read_text() and sweep_pairs.strip()
