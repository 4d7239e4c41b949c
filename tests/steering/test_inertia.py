"""Belief-inertia pairs, folds, intervals and sweep bookkeeping, without a model."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.steering.inertia import (
    ChangedObject,
    FalseBeliefTurn,
    InertiaEpisode,
    InertiaPair,
    ObjectState,
    SweepRow,
    best_points,
    bootstrap_interval,
    choose_layer,
    default_layers,
    paired_differences,
    pairs_from_episodes,
    probe_metrics,
    read_episodes,
    read_pairs,
    scene_folds,
    score_object_answer,
    select_point,
    theta_to_T,
    validation_scenes,
    write_jsonl,
)

LAMP = ChangedObject("lamp", "move", ObjectState((1, 2), "north"), ObjectState((4, -1), "north"))
CUP = ChangedObject("cup", "move", ObjectState((0, 0)), ObjectState((-3, 5)))
SOFA = ChangedObject("sofa", "rotate", ObjectState((2, 2), "east"), ObjectState((2, 2), "west"))


def _msg(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _episode(scene: str = "s0", model_map: dict | None = None) -> InertiaEpisode:
    turns = (
        FalseBeliefTurn(0, (_msg("t0"),), ("sofa",), global_fb_prompt="Give the full map."),
        FalseBeliefTurn(1, (_msg("t0"), _msg("t1")), ("lamp", "sofa", "vase")),  # sofa again, vase unchanged
        FalseBeliefTurn(2, (_msg("t0"), _msg("t1"), _msg("t2")), ("cup",)),
    )
    return InertiaEpisode(scene, 7, (LAMP, CUP, SOFA), turns, model_map)


def test_pairs_carry_old_and_new_state_at_first_reobservation():
    pairs = pairs_from_episodes([_episode()])
    assert [(p.object, p.turn, p.kind) for p in pairs] == [
        ("sofa", 0, "rotate"),
        ("lamp", 1, "move"),
        ("cup", 2, "move"),
    ]
    sofa, lamp, cup = pairs
    assert json.loads(sofa.positive) == {"sofa": {"position": [2, 2], "facing": "west"}}
    assert json.loads(sofa.negative) == {"sofa": {"position": [2, 2], "facing": "east"}}
    assert json.loads(lamp.positive) == {"lamp": {"position": [4, -1], "facing": "north"}}
    assert json.loads(lamp.negative) == {"lamp": {"position": [1, 2], "facing": "north"}}
    assert json.loads(cup.negative) == {"cup": {"position": [0, 0]}}  # no facing for a non-oriented object
    assert (lamp.old, lamp.new) == ({"position": [1, 2], "facing": "north"}, {"position": [4, -1], "facing": "north"})
    assert lamp.prompt[:-1] == [_msg("t0"), _msg("t1")] and lamp.id == "s0/7/1/lamp"
    # Oriented objects are asked for both fields whatever changed; the question names the object.
    assert "position and facing" in sofa.prompt[-1]["content"] and "position and facing" in lamp.prompt[-1]["content"]
    assert (
        "Give its position." in cup.prompt[-1]["content"]
        and '{"cup": {"position": [0, 0]}}' in cup.prompt[-1]["content"]
    )


def test_model_old_source_uses_the_stored_map_and_skips_missing_or_correct_entries():
    stored = {"lamp": {"position": [1.2, 2.4], "facing": "south"}, "sofa": {"position": [2, 2], "facing": "west"}}
    pairs = pairs_from_episodes([_episode(model_map=stored)], old_source="model")
    # sofa's stored facing is already the new one; cup has no stored entry.
    assert [p.object for p in pairs] == ["lamp"]
    # Only the changed field comes from the model's map; the facing stays the new state's.
    assert json.loads(pairs[0].negative) == {"lamp": {"position": [1, 2], "facing": "north"}}
    assert pairs[0].old_source == "model"


def test_global_fb_probe_needs_a_stored_prompt():
    with pytest.raises(ValueError, match=re.escape("scene 's0' turn 1: no stored `global_fb_prompt`")):
        pairs_from_episodes([_episode()], probe="global_fb")
    only_first = InertiaEpisode("s0", 7, (SOFA,), _episode().turns[:1])
    (pair,) = pairs_from_episodes([only_first], probe="global_fb")
    assert pair.prompt[-1]["content"] == "Give the full map." and pair.probe == "global_fb"


def test_paraphrases_are_seeded():
    eps = [_episode(f"s{i}") for i in range(6)]
    a = [p.prompt[-1]["content"] for p in pairs_from_episodes(eps, paraphrase=True, seed=3)]
    b = [p.prompt[-1]["content"] for p in pairs_from_episodes(eps, paraphrase=True, seed=3)]
    assert a == b and len(set(a)) > 3


def test_changes_must_change_exactly_their_field():
    with pytest.raises(ValueError, match=re.escape("object 'x': a move must change exactly its position")):
        ChangedObject("x", "move", ObjectState((0, 0), "north"), ObjectState((1, 0), "east"))
    with pytest.raises(ValueError, match="for `facing`"):
        ObjectState((0, 0), "up")


def test_episodes_and_pairs_round_trip_through_jsonl(tmp_path):
    path = tmp_path / "episodes.jsonl"
    write_jsonl(path, [_episode().to_dict(), _episode("s1").to_dict()])
    episodes = read_episodes(path)
    assert episodes[0] == _episode()
    pairs = pairs_from_episodes(episodes)
    write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in pairs))
    assert read_pairs(tmp_path / "pairs.jsonl") == pairs
    bad = tmp_path / "bad.jsonl"
    row = _episode().to_dict()
    row["changes"][0]["new"] = {"facing": "north"}
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{bad}:1.changes[0].new: expected")):
        read_episodes(bad)
    row = _episode().to_dict()
    del row["turns"]
    bad.write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{bad}:2: missing field 'turns'")):
        read_episodes(bad)
    with pytest.raises(ValueError, match="missing field"):
        InertiaPair.from_dict({"id": "x"})


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 30), folds=st.integers(2, 4), seed=st.integers(0, 100))
def test_folds_split_scenes_never_pairs(n: int, folds: int, seed: int):
    scenes = [f"s{i % n}" for i in range(3 * n)]  # each scene has several pairs
    if n < folds:
        with pytest.raises(ValueError, match="scenes for"):
            scene_folds(scenes, folds, seed=seed)
        return
    assignment = scene_folds(scenes, folds, seed=seed)
    assert set(assignment) == set(scenes)  # one fold per scene, so no scene is in two folds
    sizes = [list(assignment.values()).count(f) for f in range(folds)]
    assert max(sizes) - min(sizes) <= 1
    assert assignment == scene_folds(reversed(scenes), folds, seed=seed)
    fit = {s for s, f in assignment.items() if f != 0}
    if len(fit) >= 2:
        val = validation_scenes(fit, 0.25, seed=seed)
        assert val and val < fit


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    values = [0.0, 0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 0.05]
    mean, low, high = bootstrap_interval(values, seed=1)
    assert low < mean < high and mean == pytest.approx(sum(values) / len(values))
    assert bootstrap_interval(values, seed=1) == (mean, low, high)
    assert bootstrap_interval([0.2] * 5) == (pytest.approx(0.2), pytest.approx(0.2), pytest.approx(0.2))
    assert all(math.isnan(v) for v in bootstrap_interval([]))
    # Against the normal approximation, mean ± 1.96 sd / sqrt(n), on many values.
    many = [((i * 37) % 101) / 100 for i in range(400)]
    m, lo, hi = bootstrap_interval(many, seed=2)
    half = 1.96 * (sum((v - m) ** 2 for v in many) / (len(many) - 1)) ** 0.5 / len(many) ** 0.5
    assert lo == pytest.approx(m - half, abs=0.2 * half) and hi == pytest.approx(m + half, abs=0.2 * half)
    narrow = bootstrap_interval(values * 10, seed=1)
    assert narrow[2] - narrow[1] < (high - low) / 2


def test_paired_differences_average_per_scene_first():
    # Scene a has three pairs, scene b one: the mean is over scenes, not pairs.
    scenes = ["a", "a", "a", "b"]
    out = paired_differences(scenes, [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], seed=0)
    assert out["mean"] == pytest.approx(0.5) and out["n_scenes"] == 2


def test_theta_maps_to_T_on_the_displacement_scale():
    assert theta_to_T(0.1, 1.0, 40.0) == pytest.approx(4.0)  # unit field: T is the distance
    assert theta_to_T(0.1, 8.0, 40.0) == pytest.approx(0.5)  # CAA: T multiplies ||mu+ - mu-|| = 8
    assert theta_to_T(-0.2, 1.0, 40.0) == pytest.approx(-8.0)
    with pytest.raises(ValueError, match="positive displacement"):
        theta_to_T(0.1, 0.0, 40.0)
    assert default_layers(32) == list(range(9, 20)) and default_layers(3) == [0, 1]


def _row(method, layer, theta, margin, inertia=0.5, probe=None):
    return SweepRow(method, layer, theta, theta * 10, 0, "validation", margin, inertia, probe=probe or {})


def test_layer_choice_best_points_and_selection():
    rows = [_row("unsteered", layer, 0.0, 1.0) for layer in (3, 4, 5)]
    rows += [_row("caa", 3, 0.1, 1.5), _row("caa", 4, 0.1, 2.5), _row("caa", 5, 0.1, 2.0), _row("caa", 4, 0.2, 9.0)]
    rows += [_row("odesteer", 4, t, m) for t, m in ((-0.2, -3.0), (0.05, 1.2), (0.1, 2.0), (0.2, 4.0), (0.3, 3.0))]
    assert choose_layer(rows) == 4
    best = best_points(rows)
    assert [(r.method, r.theta) for r in best if r.method == "odesteer"] == [
        ("odesteer", 0.2),
        ("odesteer", 0.3),
        ("odesteer", 0.1),
    ]
    assert all(r.theta > 0 for r in best)
    base = _row("unsteered", 4, 0.0, 1.0, probe={"inertia": 0.6, "parse_valid": 0.9})
    cands = [
        _row("caa", 4, 0.2, 9.0, probe={"inertia": 0.1, "parse_valid": 0.5}),  # breaks the format
        _row("odesteer", 4, 0.2, 4.0, probe={"inertia": 0.3, "parse_valid": 0.88}),
        _row("odesteer", 4, 0.3, 3.0, probe={"inertia": 0.4, "parse_valid": 0.9}),
    ]
    assert select_point(cands, base) is cands[1]
    assert select_point(cands[:1], base) is base
    with pytest.raises(ValueError, match="no validation rows"):
        choose_layer(rows, method="iti")


def test_scoring_generated_answers():
    sofa, lamp, cup = pairs_from_episodes([_episode()])
    assert score_object_answer('THINK: hm FINAL ANSWER: {"lamp": {"position": [4, -1]}}', lamp) == {
        "valid": True,
        "state": "new",
    }
    assert score_object_answer('{"lamp": {"position": [1.1, 2.2], "facing": "north"}}', lamp)["state"] == "old"
    assert score_object_answer('{"lamp": {"position": [0, 0]}}', lamp)["state"] == "other"
    assert score_object_answer('{"sofa": {"position": [2, 2]}}', sofa) == {"valid": False, "state": None}
    assert score_object_answer("no json {oops", cup)["valid"] is False
    scores = [
        score_object_answer('{"sofa": {"facing": "east"}}', sofa),
        score_object_answer('{"lamp": {"position": [4, -1]}}', lamp),
        score_object_answer("nothing", cup),
    ]
    m = probe_metrics(scores, ["rotate", "move", "move"])
    assert m["inertia_ori"] == 1.0 and m["inertia_pos"] == 0.0 and m["correct_pos"] == 1.0
    assert m["parse_valid"] == pytest.approx(2 / 3) and m["inertia"] == pytest.approx(0.5)
