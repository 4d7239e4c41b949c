import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory_of_space.env.change_report import f1_score, identification_scores, parse_change_report
from theory_of_space.probes.cogmap import MapEntry
from theory_of_space.probes.false_belief import (
    FalseBeliefMap,
    position_inertia,
    score_false_belief_maps,
    summarise_false_belief,
)
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.perturb import perturb_scene

# ---- identification -----------------------------------------------------------------------------


def test_report_parsing_rules():
    report = parse_change_report(
        "Fire_Extinguisher: moved, chair: rotated facing, lamp, sofa: position, chair: ROTATION, cap: weird, "
        "pan: moved and rotated",
        ["fire extinguisher", "chair", "lamp"],
    )
    assert report.labels == {("fire extinguisher", "position"), ("chair", "orientation"), ("sofa", "position")}
    assert report.ignored == ("lamp", "cap: weird", "pan: moved and rotated")
    assert report.unknown_objects == ("sofa",)
    assert parse_change_report(None).labels == frozenset() and parse_change_report("").labels == frozenset()


@given(st.text(max_size=200))
def test_report_parsing_never_raises(text):
    parse_change_report(text, ["chair"])


def test_f1_by_hand():
    assert f1_score({"a", "b", "c"}, {"a", "d"}) == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert f1_score(set(), {"a"}) == 0.0
    assert f1_score({"a"}, set()) is None


def test_identification_scores():
    _, changes = perturb_scene(generate_scene(0))
    moved = [c.name for c in changes if c.kind == "move"]
    rotated = [c.name for c in changes if c.kind == "rotate"]
    text = f"{moved[0]}: position, {rotated[0]}: position, {rotated[1]}: orientation"
    scores = identification_scores(parse_change_report(text), changes, truncated=False)
    assert scores.f1_pos == pytest.approx(2 * 0.5 * 0.5 / 1.0)  # precision 1/2, recall 1/2
    assert scores.f1_ori == pytest.approx(2 * 1 * 0.5 / 1.5)  # precision 1, recall 1/2
    assert scores.f1_overall == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    truncated = identification_scores(parse_change_report(text), changes, truncated=True)
    assert (truncated.f1_pos, truncated.f1_ori, truncated.f1_overall) == (0.0, 0.0, 0.0)
    empty = identification_scores(parse_change_report(""), changes, truncated=False)
    assert (empty.f1_pos, empty.f1_ori, empty.f1_overall) == (0.0, 0.0, 0.0)
    only_moves = [c for c in changes if c.kind == "move"]
    assert identification_scores(parse_change_report(text), only_moves, truncated=False).f1_ori is None


# ---- position inertia, by hand ------------------------------------------------------------------


def test_position_inertia_by_hand():
    # old belief (4, 0), truth (0, 0), new belief (3, 1): v = (4, 0), e = (3, 1)
    cos = 12 / (math.sqrt(10) * 4)
    sigma = 1.5
    weight = math.exp(-(1 + 1) / (2 * sigma**2))
    assert position_inertia((4, 0), (3, 1), (0, 0), sigma) == pytest.approx(cos * weight)
    # a belief that moved the wrong way round: e points opposite to v, so s < 0
    assert position_inertia((4, 0), (-1, 0), (0, 0), 10.0) == pytest.approx(-math.exp(-25 / 200))
    # kept belief: s = 1; exact new belief: skipped or 0; exact old belief: skipped
    assert position_inertia((4, 2), (4, 2), (1, -1), 1.0) == pytest.approx(1.0)
    assert position_inertia((4, 0), (0, 0), (0, 0), 1.0) is None
    assert position_inertia((4, 0), (0, 0), (0, 0), 1.0, skip_exact=False) == 0.0
    assert position_inertia((0, 0), (3, 0), (0, 0), 1.0) is None


# ---- the map scores on a real scene -------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    scene = generate_scene(5)
    changed, changes = perturb_scene(scene)
    return scene, changed, changes


def _entry(scene, name, shift=(0, 0), facing="same"):
    item = scene.item(name)
    x, y = scene.allocentric(item.cell)
    return MapEntry((float(x + shift[0]), float(y + shift[1])), item.facing if facing == "same" else facing)


def test_correctness_inertia_and_sigma_by_hand(sample):
    scene, changed, changes = sample
    move = next(c for c in changes if c.kind == "move")
    rotations = [c for c in changes if c.kind == "rotate"]
    unchanged = [o.name for o in scene.objects if o.name not in {c.name for c in changes}]
    exploration = {o.name: _entry(scene, o.name) for o in scene.objects}
    # turn 1 shows the moved object and two unchanged ones; the map is half-way for the move, keeps the
    # first rotation's old facing, updates the second, and misplaces the unchanged ones by 2 and 0 cells
    old = exploration[move.name].position
    new = changed.item(move.name)
    gx, gy = changed.allocentric(new.cell)
    half = ((old[0] + gx) / 2, (old[1] + gy) / 2)
    fb = {
        move.name: MapEntry(half, new.facing),
        rotations[0].name: _entry(scene, rotations[0].name),
        rotations[1].name: _entry(changed, rotations[1].name),
        unchanged[0]: _entry(scene, unchanged[0], shift=(2, 0)),
        unchanged[1]: _entry(scene, unchanged[1]),
    }
    first_seen = {move.name: 1, rotations[0].name: 1, rotations[1].name: 1, unchanged[0]: 1, unchanged[1]: 1}
    scores = score_false_belief_maps(
        scene,
        changed,
        changes,
        exploration_map=exploration,
        maps=[FalseBeliefMap(1, fb)],
        first_seen=first_seen,
        known_before=[o.name for o in scene.objects],
    )
    sigma = math.sqrt((4 + 0) / 2)
    assert scores.sigma == pytest.approx(sigma)
    shift = math.dist(half, old)
    assert scores.inertia_pos == [pytest.approx(math.exp(-(shift**2) / (2 * sigma**2)))]  # cos = 1 half-way
    assert scores.inertia_ori == [1.0, 0.0]
    from theory_of_space.probes.cogmap import cogmap_scale

    scale = cogmap_scale(scene)
    assert scores.correctness_pos == [pytest.approx(math.exp(-math.dist(half, (gx, gy)) / scale))]
    assert scores.correctness_ori == [0.0, 1.0]
    # the other moved object was never seen again: not probed
    assert scores.skipped == {"not_probed": 1}
    known_unchanged = len(unchanged)
    expected_accuracy = (math.exp(-2 / scale) + 1.0) / known_unchanged  # the rest are missing: 0
    assert scores.unchanged_accuracy == {1: pytest.approx(expected_accuracy)}
    assert scores.unchanged_retention == {1: pytest.approx(1 / known_unchanged)}


def test_sigma_floor_and_exact_unchanged_objects(sample):
    scene, changed, changes = sample
    move = next(c for c in changes if c.kind == "move")
    unchanged = next(o.name for o in scene.objects if o.name not in {c.name for c in changes})
    exploration = {o.name: _entry(scene, o.name) for o in scene.objects}
    old = exploration[move.name].position
    gx, gy = changed.allocentric(changed.item(move.name).cell)
    half = ((old[0] + gx) / 2, (old[1] + gy) / 2)
    fb = {move.name: MapEntry(half, None), unchanged: _entry(scene, unchanged)}
    scores = score_false_belief_maps(
        scene,
        changed,
        changes,
        exploration_map=exploration,
        maps=[FalseBeliefMap(2, fb)],
        first_seen={move.name: 2, unchanged: 2},
    )
    # σ would be 0 (the unchanged object is exact): floored at 1, so a half-way update is not full inertia
    assert scores.sigma == 1.0
    assert (
        scores.inertia_pos[0] == pytest.approx(math.exp(-(math.dist(half, old) ** 2) / 2))
        and scores.inertia_pos[0] < 0.01
    )


def test_missing_and_invalid_maps(sample):
    scene, changed, changes = sample
    rotation = next(c for c in changes if c.kind == "rotate")
    move = next(c for c in changes if c.kind == "move")
    no_facing = {rotation.name: MapEntry(_entry(scene, rotation.name).position, None)}
    scores = score_false_belief_maps(
        scene,
        changed,
        changes,
        exploration_map=no_facing,
        maps=[FalseBeliefMap(1, {rotation.name: _entry(changed, rotation.name)}), FalseBeliefMap(2, None)],
        first_seen={rotation.name: 1, move.name: 1},
    )
    assert scores.correctness_ori == [1.0] and scores.inertia_ori == []
    assert scores.correctness_pos == [0.0]  # missing from the map
    assert scores.skipped["no_old_facing"] == 1 and scores.skipped["no_new_belief"] == 1
    assert scores.invalid_maps == 1


def test_summary_pools_items_and_leaves_undefined_out():
    sample_a = {
        "identification": {
            "f1_pos": 1.0,
            "f1_ori": None,
            "f1_overall": 1.0,
            "steps": 3,
            "redundancy": None,
            "action_cost": 2,
        },
        "probes": {
            "items": {"correctness_pos": [1.0], "correctness_ori": [], "inertia_pos": [0.5, 1.0], "inertia_ori": []},
            "skipped": {"exact": 1},
            "unchanged_accuracy": {"1": 1.0},
            "unchanged_retention": {},
            "invalid_maps": 0,
        },
    }
    sample_b = {
        "identification": {
            "f1_pos": 0.0,
            "f1_ori": 0.5,
            "f1_overall": 0.2,
            "steps": 5,
            "redundancy": 2,
            "action_cost": 4,
        },
        "probes": {
            "items": {"correctness_pos": [], "correctness_ori": [0.0], "inertia_pos": [0.0], "inertia_ori": [1.0]},
            "skipped": {"exact": 2},
            "unchanged_accuracy": {},
            "unchanged_retention": {"2": 0.5},
            "invalid_maps": 1,
        },
    }
    summary = summarise_false_belief([sample_a, sample_b])
    assert summary["f1_pos"] == 0.5 and summary["f1_ori"] == 0.5 and summary["redundancy"] == 2
    assert summary["inertia_pos"] == pytest.approx(0.5) and summary["inertia_ori"] == 1.0
    assert summary["correctness"] == 0.5 and summary["skipped"] == {"exact": 3} and summary["invalid_maps"] == 1
