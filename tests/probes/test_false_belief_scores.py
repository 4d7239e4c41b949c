import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory_of_space.env.change_report import f1_score, identification_scores, parse_change_report
from theory_of_space.probes.cogmap import MapEntry, cogmap_scale
from theory_of_space.probes.false_belief import (
    FalseBeliefMap,
    position_inertia,
    revision_curve,
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


# ---- revision over turns since first seen again -------------------------------------------------


def _towards(start, goal, cells):
    """The point ``cells`` cells from ``start`` on the way to ``goal``."""
    length = math.dist(start, goal)
    return (start[0] + (goal[0] - start[0]) * cells / length, start[1] + (goal[1] - start[1]) * cells / length)


def test_revision_curve_by_hand_aligns_objects_by_turns_since_seen(sample):
    scene, changed, changes = sample
    r1, r2 = [c.name for c in changes if c.kind == "rotate"]
    move = next(c.name for c in changes if c.kind == "move")
    exploration = {o.name: _entry(scene, o.name) for o in scene.objects}
    old, new = exploration[move].position, _entry(changed, move).position
    # r1 is first seen at turn 1 and kept old until turn 3; r2 first seen at turn 2, missing there, new from
    # turn 3; the moved object first seen at turn 3 at its old place, one cell towards the truth at 4, exact at 5
    state = {
        1: {r1: "old"},
        2: {r1: "old"},
        3: {r1: "new", r2: "new", move: old},
        4: {r1: "new", r2: "new", move: _towards(old, new, 1)},
        5: {r1: "new", r2: "new", move: new},
    }
    maps = []
    for turn, beliefs in state.items():
        entries = {}
        for name, belief in beliefs.items():
            if name == move:
                entries[name] = MapEntry(belief, None)
            else:
                entries[name] = _entry(scene if belief == "old" else changed, name)
        maps.append(FalseBeliefMap(turn, entries))
    scores = score_false_belief_maps(
        scene,
        changed,
        changes,
        exploration_map=exploration,
        maps=maps,
        first_seen={r1: 1, r2: 2, move: 3},
        inertia_skip_exact=False,
    )
    assert scores.sigma == 1.0  # no unchanged object was seen again
    scale = cogmap_scale(scene)
    distance = math.dist(old, new)
    curve = scores.revision_curve
    assert sorted(curve) == [0, 1, 2, 3, 4]
    # 0: r1 kept (turn 1), r2 missing (turn 2), move kept (turn 3)
    assert curve[0].inertia_ori == [1.0] and curve[0].correctness_ori == [0.0, 0.0]
    assert curve[0].inertia_pos == [pytest.approx(1.0)]
    assert curve[0].correctness_pos == [pytest.approx(math.exp(-distance / scale))]
    assert curve[0].skipped == {"no_new_belief": 1}
    # 1: r1 still kept (turn 2), r2 revised (turn 3), move one cell along (turn 4): cos 1, weight exp(-1/2)
    assert curve[1].inertia_ori == [1.0, 0.0] and curve[1].correctness_ori == [0.0, 1.0]
    assert curve[1].inertia_pos == [pytest.approx(math.exp(-0.5))]
    assert curve[1].correctness_pos == [pytest.approx(math.exp(-(distance - 1) / scale))]
    # 2: everything revised (r1 at turn 3, r2 at turn 4, move exact at turn 5, scored 0 as asked)
    assert curve[2].inertia_ori == [0.0, 0.0] and curve[2].inertia_pos == [0.0]
    assert curve[2].correctness_ori == [1.0, 1.0] and curve[2].correctness_pos == [1.0]
    assert curve[3].inertia_ori == [0.0, 0.0] and curve[3].inertia_pos == []  # the move has no turn 6
    assert curve[4].inertia_ori == [0.0] and curve[4].correctness_ori == [1.0]  # r1 only (turn 5)
    # point 0 is the scores of the turn each object was first seen again
    assert curve[0].items() == scores.items() and scores.skipped == {"no_new_belief": 1, "not_probed": 1}
    # pooled: the counts behind each point and the pooled inertia over both kinds
    summary = summarise_false_belief([{"probes": scores.to_dict()}])
    pooled = {p["turns_since_seen"]: p for p in summary["revision_curve"]}
    assert pooled[1]["inertia"] == pytest.approx((1.0 + 0.0 + math.exp(-0.5)) / 3) and pooled[1]["n_inertia"] == 3
    assert pooled[3]["inertia_pos"] is None and pooled[3]["n_inertia_pos"] == 0 and pooled[3]["n_correctness"] == 2
    assert pooled[0]["correctness"] == pytest.approx(math.exp(-distance / scale) / 3)


def test_an_object_old_when_first_seen_and_new_two_turns_later(sample):
    scene, changed, changes = sample
    rotation = next(c.name for c in changes if c.kind == "rotate")
    move = next(c.name for c in changes if c.kind == "move")
    exploration = {o.name: _entry(scene, o.name) for o in scene.objects}
    maps = [FalseBeliefMap(4, {rotation: _entry(scene, rotation), move: _entry(scene, move)}),
            FalseBeliefMap(5, None),
            FalseBeliefMap(6, {rotation: _entry(changed, rotation), move: _entry(changed, move)})]
    scores = score_false_belief_maps(scene, changed, changes, exploration_map=exploration, maps=maps,
                                     first_seen={rotation: 4, move: 4}, inertia_skip_exact=False)
    curve = scores.revision_curve
    assert (curve[0].inertia_ori, curve[0].inertia_pos) == ([1.0], [pytest.approx(1.0)])
    assert curve[1].items() == {key: [] for key in curve[1].items()} and curve[1].skipped == {"invalid_map": 2}
    assert (curve[2].inertia_ori, curve[2].inertia_pos) == ([0.0], [0.0])
    assert curve[2].correctness_ori == [1.0] and curve[2].correctness_pos == [1.0]
    # by default an exactly placed moved object is left out of inertia, at every point as at the first
    default = score_false_belief_maps(scene, changed, changes, exploration_map=exploration, maps=maps,
                                      first_seen={rotation: 4, move: 4}).revision_curve
    assert default[2].inertia_pos == [] and default[2].skipped == {"exact": 1}


def test_pooled_curve_orders_points_numerically_and_sums_counts():
    def point(**items):
        return {"items": {key: items.get(key, []) for key in ("correctness_pos", "correctness_ori", "inertia_pos",
                                                               "inertia_ori")}, "skipped": items.get("skipped", {})}

    probes_a = {"items": {}, "revision_curve": {"0": point(inertia_ori=[1.0]), "10": point(inertia_pos=[0.25]),
                                                "2": point(correctness_pos=[0.5], skipped={"exact": 1})}}
    probes_b = {"items": {}, "revision_curve": {"2": point(correctness_ori=[1.0], inertia_ori=[0.0],
                                                           skipped={"exact": 2, "no_old_facing": 1})}}
    curve = revision_curve([probes_a, probes_b])
    assert [p["turns_since_seen"] for p in curve] == [0, 2, 10]
    two = curve[1]
    assert two["correctness"] == 0.75 and two["n_correctness"] == 2 and two["n_correctness_pos"] == 1
    assert two["inertia"] == 0.0 and two["n_inertia"] == 1 and two["correctness_ori"] == 1.0
    assert two["skipped"] == {"exact": 3, "no_old_facing": 1}
    assert curve[2]["inertia"] == 0.25 and curve[2]["correctness"] is None and curve[2]["n_correctness"] == 0
    assert revision_curve([{"items": {}}]) == []  # a sample scored before the curve existed adds no point
