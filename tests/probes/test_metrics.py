"""The six probe diagnostics: hand-computed cases on run00, options, and the oracle map writer at 1.0."""

from __future__ import annotations

import json
import math

import pytest

from tests.probes.episodes import play
from theory_of_space.agents.factory import make_agent
from theory_of_space.probes.metrics import aggregate_probe_metrics, format_probe_table, probe_metrics
from theory_of_space.probes.replay import MAX_CANDIDATE_SAMPLE
from theory_of_space.probes.requests import as_replay, run_probes
from theory_of_space.world.generate import generate_scene

L = 8.261355820929152


def _record(episode, custom):
    """Probe ``episode`` with the oracle writer, except the replies given by key in ``custom``."""
    oracle = make_agent("oracle", scene=episode.scene)

    def answer(request):
        if request.key in custom:
            return custom[request.key]
        return oracle.act(list(request.messages)).text

    return run_probes(episode, answer)


def _map(data):
    return "THINK: x\nFINAL ANSWER: " + json.dumps(data)


ORACLE_T3 = {
    "agent": {"position": [0, 0], "facing": "east"},
    "bike": {"position": [2, 3], "facing": "west"},
    "lamp": {"position": [0, 4]},
    "television": {"position": [2, -1], "facing": "east"},
    "cap": {"position": [4, -1], "facing": "east"},
    "blue door": {"position": [5, 5]},
    "green door": {"position": [6, 3]},
}


def test_oracle_maps_after_two_turns(two_turn_episode):
    metrics = probe_metrics(_record(two_turn_episode, {}))
    # the final map is perfect but covers 6 of 14 items: 0.37 against the full truth
    assert metrics["correctness"]["pos"] == pytest.approx(7 / 15)
    assert metrics["correctness"]["dir"] == pytest.approx(28 / 120)
    assert metrics["correctness"]["facing"] == pytest.approx(4 / 10)
    assert round(metrics["correctness"]["overall"], 2) == 0.37
    for family in ("perception", "local_global", "stability", "self_tracking"):
        assert metrics[family] == {"facing": 1.0, "pos": 1.0}, family
    assert metrics["uncertainty"] == 1.0
    assert metrics["valid_rate"] == {"global": 1.0, "local": 1.0, "fog": 1.0}
    observed = probe_metrics(_record(two_turn_episode, {}), correctness_scope="observed")
    assert observed["correctness"]["overall"] == pytest.approx(1.0)
    # the oracle's own reply for the final map is exactly the hand-written one
    assert probe_metrics(_record(two_turn_episode, {"probe/t03/global": _map(ORACLE_T3)})) == metrics


def test_perception_and_local_global(two_turn_episode):
    local = {
        "origin": "agent",
        "objects": {
            "television": {"position": [1, 2], "facing": "+y"},
            "cap": {"position": [1, 5], "facing": "south"},  # compass word: the agent's right (+x); truly +y
            "green door": {"position": [-3, 6]},
            "vase": {"position": [0, 1]},  # not in view: dropped
        },
    }
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t02/local": _map(local)}))
    wrong_cap = math.exp(-math.sqrt(1 / 3) / L)
    # turn 1 perfect; turn 2: the three new items, RMSE sqrt(1/3), cap's facing wrong
    assert metrics["perception"]["pos"] == pytest.approx((1 + wrong_cap) / 2)
    assert metrics["perception"]["facing"] == pytest.approx((1 + 1 / 2) / 2)
    turn2 = metrics["turns"][1]
    assert turn2["perception"] == pytest.approx({"facing": 0.5, "pos": wrong_cap})
    # the global map is right, so the local map disagrees with it exactly where it disagrees with the truth
    assert turn2["local_global"] == pytest.approx({"facing": 0.5, "pos": wrong_cap})
    new_only = probe_metrics(_record(two_turn_episode, {"probe/t02/local": _map(local)}), perception_scope="visible")
    # all four visible items: the blue door missing from the local map lowers coverage to 3/4
    assert new_only["turns"][1]["perception"]["pos"] == pytest.approx(math.exp(-math.sqrt(1 / 3) / L) * 3 / 4)


def test_local_global_needs_an_agent_and_scores_an_empty_local_map_one(two_turn_episode):
    no_agent = {k: v for k, v in ORACLE_T3.items() if k != "agent"}
    custom = {"probe/t01/global": _map(no_agent), "probe/t02/local": _map({"origin": "agent", "objects": {}})}
    metrics = probe_metrics(_record(two_turn_episode, custom))
    assert metrics["turns"][0]["local_global"] is None
    assert metrics["turns"][1]["local_global"] == {"facing": 1.0, "pos": 1.0}
    # no common name: 0
    custom = {"probe/t02/local": _map({"objects": {"blue door": {"position": [9, 9]}}})}
    global_t2 = {"agent": {"position": [0, 0], "facing": "east"}, "lamp": {"position": [0, 4]}}
    custom["probe/t02/global"] = _map(global_t2)
    assert probe_metrics(_record(two_turn_episode, custom))["turns"][1]["local_global"] == {"facing": 0.0, "pos": 0.0}


def test_self_tracking(two_turn_episode):
    final = {**ORACLE_T3, "agent": {"position": [1, 0], "facing": "north"}}
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t03/global": _map(final)}))
    assert metrics["turns"][2]["self_tracking"] == pytest.approx({"facing": 0.0, "pos": math.exp(-1 / L)})
    assert metrics["self_tracking"]["pos"] == pytest.approx((2 + math.exp(-1 / L)) / 3)
    assert metrics["self_tracking"]["facing"] == pytest.approx(2 / 3)
    missing = {k: v for k, v in ORACLE_T3.items() if k != "agent"}
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t03/global": _map(missing)}))
    assert metrics["turns"][2]["self_tracking"] == {"facing": 0.0, "pos": 0.0}


def test_stability(two_turn_episode):
    replay = as_replay(two_turn_episode)
    first, second = replay.turns[0].candidate_counts, replay.turns[1].candidate_counts
    assert (first["bike"], second["bike"], first["lamp"], second["lamp"]) == (3, 3, 2, 2)
    assert abs(first["blue door"] - second["blue door"]) > 1  # new information: not judged on position
    assert first["vase"] == MAX_CANDIDATE_SAMPLE  # never seen: capped like the published snapshot
    t1 = {
        "agent": {"position": [0, 0], "facing": "north"},
        "bike": {"position": [2, 2], "facing": "west"},  # 1 off, facing right
        "lamp": {"position": [0, 4]},
        "blue door": {"position": [5, 5]},
    }
    t2 = {**ORACLE_T3, "agent": {"position": [0, 0], "facing": "east"}, "bike": {"position": [2, 1], "facing": "north"}}
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t01/global": _map(t1), "probe/t02/global": _map(t2)}))
    # pair (1, 2): bike's error grew (0), lamp's stayed (1); bike's facing became wrong (0)
    assert metrics["turns"][1]["stability"] == {"pos": 0.5, "facing": 0.0}
    # pair (2, 3): every error shrank or stayed; bike's facing became right, the others unchanged
    assert metrics["turns"][2]["stability"] == {"pos": 1.0, "facing": 1.0}
    assert metrics["stability"] == {"pos": 0.75, "facing": 0.5}


def test_uncertainty(two_turn_episode):
    fog = as_replay(two_turn_episode).turns[0].fog
    hidden = sorted(fog.unexplored)
    seen = sorted(set(fog.letters) - fog.unexplored)
    reply = _map({"unexplored": [*hidden[:2], seen[0]]})
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t01/fog": reply}))
    precision, recall = 2 / 3, 2 / len(hidden)
    f1 = 2 * precision * recall / (precision + recall)
    assert metrics["turns"][0]["uncertainty"] == pytest.approx(f1)
    assert metrics["uncertainty"] == pytest.approx((f1 + 1) / 2)
    # no JSON: no prediction, 0
    metrics = probe_metrics(_record(two_turn_episode, {"probe/t01/fog": "all of them"}))
    assert metrics["turns"][0]["uncertainty"] == 0.0
    assert metrics["valid_rate"]["fog"] == 0.5


def test_invalid_maps_are_left_out_or_scored_empty(two_turn_episode):
    record = _record(two_turn_episode, {"probe/t02/global": "THINK: no idea\nFINAL ANSWER: I cannot say."})
    skipped = probe_metrics(record)
    assert skipped["valid_rate"]["global"] == pytest.approx(2 / 3)
    assert skipped["turns"][1]["self_tracking"] is None
    assert skipped["self_tracking"] == {"facing": 1.0, "pos": 1.0}
    assert skipped["turns"][1]["stability"] is None and skipped["turns"][2]["stability"] is None
    empty = probe_metrics(record, invalid_maps="empty")
    assert empty["turns"][1]["self_tracking"] == {"facing": 0.0, "pos": 0.0}
    assert empty["self_tracking"]["pos"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="invalid_maps"):
        probe_metrics(record, invalid_maps="zero")


def test_every_value_is_in_the_unit_interval_for_the_belief_writer(example_scene):
    episode = play(
        example_scene,
        [
            "FINAL ANSWER: Actions: [Observe()]",
            "FINAL ANSWER: Actions: [JumpTo(blue door), Rotate(90), Observe()]",
            "FINAL ANSWER: Actions: [Rotate(-90), Observe()]",
            "FINAL ANSWER: Actions: [Term()]",
        ],
    )
    metrics = probe_metrics(run_probes(episode, make_agent("belief", scene=example_scene)))
    values = [metrics["uncertainty"], *metrics["correctness"].values()]
    for family in ("perception", "local_global", "stability", "self_tracking"):
        values += list((metrics[family] or {}).values())
    assert values and all(0.0 <= v <= 1.0 for v in values)


def _oracle_scores_one(scene, explorer):
    import gymnasium as gym

    from theory_of_space.runner.episode import run_episode

    with gym.make("TheoryOfSpace/Explore-v0") as env:
        episode = run_episode(env, make_agent(explorer, scene=scene), options={"scene": scene})
    metrics = probe_metrics(run_probes(episode, make_agent("oracle", scene=scene)), correctness_scope="observed")
    assert metrics["correctness"]["overall"] == pytest.approx(1.0)
    for family in ("perception", "local_global", "stability", "self_tracking"):
        assert all(v == pytest.approx(1.0) for v in metrics[family].values()), (family, metrics[family])
    assert metrics["uncertainty"] in (None, 1.0)
    return metrics


@pytest.mark.parametrize("seed", range(6))
def test_oracle_writer_scores_one_on_generated_scenes(seed):
    _oracle_scores_one(generate_scene(seed, n_rooms=3), "strategist" if seed % 2 else "scout")


@pytest.mark.parametrize("run", range(5))
def test_oracle_writer_scores_one_on_the_published_scenes(reference_dir, run):
    from theory_of_space.world.tos_format import load_tos_scene

    _oracle_scores_one(load_tos_scene(reference_dir / f"run0{run}"), "strategist")


def test_aggregate_and_table(two_turn_episode):
    one = probe_metrics(_record(two_turn_episode, {}))
    two = probe_metrics(_record(two_turn_episode, {"probe/t01/fog": "none"}))
    total = aggregate_probe_metrics([one, two])
    assert total["episodes"] == 2
    assert total["uncertainty"] == pytest.approx((1.0 + 0.5) / 2)
    assert total["valid_rate"]["fog"] == pytest.approx(0.75)
    table = format_probe_table([("oracle", total)])
    assert "| oracle | 40.0 | 46.7 | 36.7 |" in table
