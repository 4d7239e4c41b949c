"""Steering the planted puppet in the false-belief env: inertia moves both ways under every ``apply_to``."""

from __future__ import annotations

import json

import pytest

from tests.runner.puppet import NOTE_AGAINST, NOTE_FOR, Puppet, make_tokenizer, planted_steerer, scene_index
from theory_of_space.agents.clients.hf_local import HFLocalClient, LocalModel
from theory_of_space.agents.config import resolve_model_config
from theory_of_space.agents.model_agent import ModelAgent
from theory_of_space.runner.inertia import run_inertia_experiment
from theory_of_space.world.generate import generate_scene

SEEDS = (1, 2, 3, 4, 5, 6)
SCENES = "1:7"
THETA = 1.5
FALSE_BELIEF_ENV = "TheoryOfSpace/Explore-FalseBelief-v0"


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(seed) for seed in SEEDS]


def _puppet_agent(scenes):
    tokenizer = make_tokenizer()
    puppet = Puppet(tokenizer, scene_index(scenes, FALSE_BELIEF_ENV))
    config = resolve_model_config("hf:puppet", overrides={"max_tokens": 4096, "temperature": 0})
    local = LocalModel(puppet, tokenizer, multimodal=False, batch_size=4)
    return puppet, tokenizer, local, ModelAgent(config, HFLocalClient(config, local))


@pytest.mark.slow
@pytest.mark.parametrize("apply_to", ["probes", "fb_phase", "all"])
def test_planted_inertia_falls_with_positive_theta_and_rises_with_negative(scenes, tmp_path, apply_to):
    puppet, _, local, agent = _puppet_agent(scenes)
    conditions = {"plus": (planted_steerer(1, THETA), 0), "minus": (planted_steerer(-1, THETA), 0)}
    try:
        summary = run_inertia_experiment(
            agent, SCENES, conditions, tmp_path, apply_to=apply_to, in_flight=4, pair_diagnostics=False
        )
        asked = len(puppet.beliefs)
        again = run_inertia_experiment(
            agent, SCENES, conditions, tmp_path, apply_to=apply_to, in_flight=4, pair_diagnostics=False
        )
    finally:
        local.close()
    assert len(puppet.beliefs) == asked, "a rerun of a finished experiment asks nothing"
    assert again["conditions"] == summary["conditions"]
    figures = {
        name: {
            k: summary["conditions"][name][k]
            for k in ("inertia_pos", "inertia_ori", "correctness_pos", "correctness_ori")
        }
        for name in ("unsteered", "plus", "minus")
    }
    print(f"\nplanted puppet, apply_to={apply_to}:", json.dumps(figures))
    base, plus, minus = (figures[n] for n in ("unsteered", "plus", "minus"))
    assert 0.2 <= base["inertia_ori"] <= 0.8  # about half the rotated objects keep their old facing
    assert plus["inertia_ori"] == 0.0 and minus["inertia_ori"] == 1.0
    assert minus["correctness_pos"] < base["correctness_pos"] < plus["correctness_pos"] == 1.0
    assert summary["paired"]["plus"]["correctness_pos"]["low"] > 0
    assert summary["paired"]["minus"]["correctness_pos"]["high"] < 0
    assert summary["conditions"]["unsteered"]["invalid_maps"] == 0
    assert all(c["n_samples"] == len(SEEDS) and c["failed_requests"] == 0 for c in summary["conditions"].values())
    # Steering the phase reaches the maps through the puppet's own notes, steering the probes through s.
    replies = {
        name: "".join(p.read_text() for p in (tmp_path / name).rglob("false_belief.jsonl"))
        for name in ("plus", "minus")
    }
    if apply_to == "probes":
        assert all(NOTE_FOR not in r and NOTE_AGAINST not in r for r in replies.values())
    else:
        assert NOTE_FOR in replies["plus"] and NOTE_AGAINST not in replies["plus"]
        assert NOTE_AGAINST in replies["minus"] and NOTE_FOR not in replies["minus"]


@pytest.mark.slow
def test_map_readout_finds_the_new_state_where_the_json_map_keeps_the_old(scenes, tmp_path):
    from theory_of_space.runner.inertia import read_stored_episode, run_false_belief_steps, stored_episode_folders
    from theory_of_space.runner.map_readout import map_readout_report
    from theory_of_space.steering.readout import LinearReadout

    puppet, tokenizer, local, agent = _puppet_agent(scenes)
    try:
        minus = {"minus": (planted_steerer(-1, THETA), 0)}
        run_inertia_experiment(agent, SCENES, minus, tmp_path, in_flight=4, pair_diagnostics=False)
    finally:
        local.close()
    steps = run_false_belief_steps(tmp_path)
    stored = [read_stored_episode(folder, steps) for folder in stored_episode_folders(tmp_path, "minus")]
    episodes, records = [e for e, _ in stored], [r for _, r in stored]
    report = map_readout_report(puppet, tokenizer, episodes, records, [0, 1], tmp_path / "ro", alpha=1e-3)
    print("\nmap read-out (planted puppet, -theta):", json.dumps(report))
    assert report["n_inertia_rows"] >= 3
    assert report["json"]["position_exact"] < 0.99  # the maps keep old states
    layer0, layer1 = report["layers"]["0"], report["layers"]["1"]
    assert layer1["position_exact"] == 1.0 and layer1["facing_accuracy"] == 1.0
    assert layer1["map_pos"] > report["json"]["map_pos"]
    assert layer0["position_exact"] < 0.5  # nothing is written before block 1
    assert layer1["inertia_encoding"]["new"] == 1.0  # inertia is in the report, not the representation
    saved = LinearReadout.load(tmp_path / "ro" / "readouts" / "L1")
    assert saved.layer == 1 and (tmp_path / "ro" / "map_readout.json").is_file()
