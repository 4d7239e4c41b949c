"""Cognitive maps: parsing, ground truth, and the core similarity scores on the published example scene."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.env.session import ExplorationSession
from theory_of_space.probes.cogmap import (
    AGENT,
    MAP_PROMPTS,
    MapEntry,
    cardinal_bin,
    cogmap_scale,
    compare_cogmaps,
    extract_json,
    global_in_agent_frame,
    in_agent_frame,
    parse_cogmap,
    parse_facing,
    true_cogmap,
)
from theory_of_space.world.geometry import Facing, cardinal_of_offset, from_local
from theory_of_space.world.scene import Pose

# ---- parsing ------------------------------------------------------------------------------------


@given(st.text())
@settings(max_examples=300)
def test_parse_never_raises_on_any_text(text):
    for kind in ("global", "local", "global_fb"):
        parsed = parse_cogmap(text, kind)
        assert parsed.valid in (True, False)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.text(max_size=20))
@settings(max_examples=300)
def test_parse_never_raises_on_arbitrary_json(data, prose):
    text = f"THINK: {prose}\nFINAL ANSWER: {json.dumps(data)}"
    for kind in ("global", "local"):
        parsed = parse_cogmap(text, kind)
        assert parsed.valid
        for entry in parsed.entries.values():
            assert all(math.isfinite(v) for v in entry.position)


def test_no_json_is_invalid_and_empty_json_is_valid():
    invalid = parse_cogmap("THINK: hmm\nFINAL ANSWER: I am not sure.", "global")
    empty = parse_cogmap("FINAL ANSWER: {}", "global")
    assert not invalid.valid and invalid.reason
    assert empty.valid and empty.entries == {}
    assert not parse_cogmap(None, "global").valid


def test_longest_loadable_candidate_wins_over_fenced_and_balanced():
    text = 'THINK: maybe {"a": 1}\n```json\n{"lamp": {"position": [0, 4]}, "bike": {"position": [2, 3]}}\n```\n{broken'
    assert set(extract_json(text)) == {"lamp", "bike"}
    # a brace inside a string does not end the span
    assert extract_json('x {"a b}": {"position": [1, 2]}} y') == {"a b}": {"position": [1, 2]}}


def test_nested_groups_flatten_and_names_normalise():
    reply = json.dumps(
        {
            "agent": {"position": [0, 0], "facing": "North"},
            "objects": {"Red_Chair": {"position": ["2", 3], "facing": "E"}},
            "gates": [{"name": "blue door", "position": [5, 5]}, {"position": [1, 1]}],
        }
    )
    parsed = parse_cogmap(reply, "global")
    assert parsed.entries["red chair"] == MapEntry((2.0, 3.0), Facing.EAST)
    assert parsed.entries["blue door"] == MapEntry((5.0, 5.0), None)
    assert parsed.entries[AGENT].facing is Facing.NORTH
    assert parsed.dropped == (("gates[1]", "list entry without a name"),)


def test_flat_map_underscore_and_space_names_are_the_same_item():
    parsed = parse_cogmap('{"red_chair": {"position": [1, 2]}, "RED CHAIR": {"position": [3, 4]}}', "global")
    assert parsed.entries == {"red chair": MapEntry((1.0, 2.0))}
    assert parsed.dropped == (("RED CHAIR", "duplicate name"),)


@pytest.mark.parametrize(
    "position", [[1], [1, 2, 3], "1,2", [1, "x"], [True, 2], None, [float("nan"), 1], {"x": 1, "y": 2}]
)
def test_position_that_is_not_two_numbers_drops_the_entry(position):
    parsed = parse_cogmap(json.dumps({"lamp": {"position": position}}), "global")
    assert parsed.valid and parsed.entries == {}
    assert parsed.dropped == (("lamp", "position is not two numbers"),)


def test_unknown_facing_word_is_no_orientation():
    parsed = parse_cogmap('{"lamp": {"position": [0, 4], "facing": "northish"}}', "global")
    assert parsed.entries["lamp"] == MapEntry((0.0, 4.0), None)


@pytest.mark.parametrize(
    ("word", "kind", "expected"),
    [
        ("forward", "global", (Facing.NORTH, False)),
        ("+x", "global", (Facing.EAST, False)),
        ("behind", "global", (Facing.SOUTH, False)),
        ("left", "local", (Facing.WEST, False)),
        ("-y", "local", (Facing.SOUTH, False)),
        ("east", "local", (Facing.EAST, True)),
        ("W", "local", (Facing.WEST, True)),
        ("sideways", "local", (None, False)),
        (3, "global", (None, False)),
    ],
)
def test_facing_words(word, kind, expected):
    assert parse_facing(word, kind) == expected


def test_local_map_drops_origin_and_agent_and_keeps_compass_words_absolute():
    reply = json.dumps(
        {"origin": "agent", "agent": {"position": [0, 0]}, "objects": {"chair": {"position": [0, 1], "facing": "east"}}}
    )
    parsed = parse_cogmap(reply, "local")
    assert set(parsed.entries) == {"chair"}
    assert parsed.entries["chair"].absolute_facing
    # an agent facing east sees a chair facing east as facing forward (+y)
    assert in_agent_frame(parsed.entries, Facing.EAST)["chair"].facing is Facing.NORTH
    # seen by an agent facing south, a chair facing east faces the agent's left (-x)
    assert in_agent_frame(parsed.entries, Facing.SOUTH)["chair"].facing is Facing.WEST


def test_prompts_convey_schema_and_output_rule():
    for kind, prompt in MAP_PROMPTS.items():
        assert "FINAL ANSWER:" in prompt and "THINK:" in prompt and '"position": [x, y]' in prompt
        assert ("+x|-x|+y|-y" in prompt) == (kind == "local")
    assert "only observed" in MAP_PROMPTS["global"] and "only observed" not in MAP_PROMPTS["global_fb"]


# ---- ground truth and scale ---------------------------------------------------------------------


def test_scale_of_the_example_scene(example_scene):
    assert cogmap_scale(example_scene) == pytest.approx(8.26, abs=0.005)


def test_true_global_map_of_the_example_scene(example_scene):
    truth = true_cogmap(example_scene, "global")
    assert len(truth) == 15  # 12 objects, 2 doors, the agent
    assert truth["television"] == MapEntry((2.0, -1.0), Facing.EAST)
    assert truth["lamp"] == MapEntry((0.0, 4.0), None)
    assert truth["green door"] == MapEntry((6.0, 3.0), None)
    assert truth[AGENT] == MapEntry((0.0, 0.0), Facing.NORTH)


def test_true_local_map_turns_positions_and_facings_into_the_agent_frame(example_scene):
    # agent at the start cell (1, 3) facing east: the television at (3, 2) is 2 ahead and 1 to the right
    pose = Pose((1, 3), Facing.EAST)
    truth = true_cogmap(example_scene, "local", pose=pose, names=["television", "Green_Door", "nothing"])
    assert truth == {"television": MapEntry((1.0, 2.0), Facing.NORTH), "green door": MapEntry((-3.0, 6.0), None)}
    with pytest.raises(ValueError, match="pose"):
        true_cogmap(example_scene, "local")


# ---- similarity ---------------------------------------------------------------------------------


@given(st.integers(-20, 20), st.integers(-20, 20))
def test_cardinal_bin_agrees_with_the_bin_module(dx, dy):
    from theory_of_space.world.geometry import CARDINAL_LABELS

    assert CARDINAL_LABELS[cardinal_bin(dx, dy)] == cardinal_of_offset((dx, dy))


points = st.tuples(st.integers(-12, 12), st.integers(-12, 12))
maps = st.dictionaries(
    st.sampled_from(["lamp", "bike", "chair", "cap", "vase", "blue door"]),
    st.tuples(points, st.none() | st.sampled_from(list(Facing))),
    max_size=6,
)


def _as_map(data):
    return {name: MapEntry((float(p[0]), float(p[1])), facing) for name, (p, facing) in data.items()}


@given(maps, st.floats(0.5, 20))
def test_a_map_compared_with_itself_scores_one(data, scale):
    cogmap = _as_map(data)
    assert compare_cogmaps(cogmap, cogmap, scale).overall == pytest.approx(1.0)


@given(maps, maps, st.floats(0.5, 20))
def test_every_score_lies_in_the_unit_interval(pred, truth, scale):
    scores = compare_cogmaps(_as_map(pred), _as_map(truth), scale)
    for value in scores.to_dict().values():
        assert 0.0 <= value <= 1.0


@given(maps, st.sampled_from(list(Facing)), points)
def test_rotating_and_translating_a_local_map_consistently_keeps_it_equal(data, facing, origin):
    """A local map placed in the world at any agent pose, read back in that pose's frame, is unchanged."""
    local = _as_map(data)
    world = {}
    for name, entry in local.items():
        dx, dy = from_local(entry.position, facing)
        turned = None if entry.facing is None else Facing((entry.facing + facing) % 4)
        world[name] = MapEntry((dx + origin[0], dy + origin[1]), turned)
    world[AGENT] = MapEntry((float(origin[0]), float(origin[1])), facing)
    back = global_in_agent_frame(world)
    assert back is not None
    assert compare_cogmaps(back, local, 5.0).overall == pytest.approx(1.0)


def test_global_in_agent_frame_needs_an_agent_and_reads_a_missing_facing_as_north():
    assert global_in_agent_frame({"lamp": MapEntry((0.0, 4.0))}) is None
    back = global_in_agent_frame({AGENT: MapEntry((1.0, 1.0)), "lamp": MapEntry((1.0, 4.0), Facing.EAST)})
    assert back == {"lamp": MapEntry((0.0, 3.0), Facing.EAST)}
    back = global_in_agent_frame({AGENT: MapEntry((1.0, 1.0), Facing.EAST), "lamp": MapEntry((1.0, 4.0), Facing.EAST)})
    assert back == {"lamp": MapEntry((-3.0, 0.0), Facing.NORTH)}


def test_worked_example_pos_dir_facing(example_scene):
    truth = true_cogmap(example_scene, "global", names=["lamp", "bike", "television"])
    pred = {
        "lamp": MapEntry((0.0, 4.0)),  # exact, no facing needed
        "bike": MapEntry((2.0, 2.0), Facing.NORTH),  # 1 cell off, wrong facing (truly west)
        AGENT: MapEntry((0.0, 0.0), Facing.NORTH),
        "sofa": MapEntry((9.0, 9.0)),  # not in the truth: ignored
    }
    scores = compare_cogmaps(pred, truth, cogmap_scale(example_scene))
    # pos: 3 of 4 matched, RMSE = sqrt(1 / 3)
    assert scores.pos == pytest.approx(math.exp(-math.sqrt(1 / 3) / 8.261355820929152) * 3 / 4)
    # facing: bike wrong, television missing, agent right → 1 / 3
    assert scores.facing == pytest.approx(1 / 3)
    # dir: names initial, lamp, bike, television, agent → 10 pairs; the 4 pairs with television are
    # wrong; of the other 6, agent-initial (both at the origin) agrees, and bike moved from (2, 3) to
    # (2, 2) keeps every bin (north east of initial/agent, south east of lamp) → 6 / 10
    assert scores.dir == pytest.approx(6 / 10)
    assert scores.overall == pytest.approx((scores.dir + scores.facing + scores.pos) / 3)


def test_empty_truth_and_no_match(example_scene):
    assert compare_cogmaps({}, {}, 1.0).overall == 1.0
    truth = {"lamp": MapEntry((0.0, 4.0))}
    scores = compare_cogmaps({}, truth, 1.0)
    assert (scores.pos, scores.dir, scores.facing) == (0.0, 0.0, 1.0)


def test_perfect_map_after_two_turns_scores_037_against_the_full_truth(example_scene):
    """Observe, then Rotate(90) + Observe from the start: a perfect map of what was seen scores 0.37."""
    session = ExplorationSession(example_scene)
    session.play("FINAL ANSWER: Actions: [Observe()]")
    session.play("FINAL ANSWER: Actions: [Rotate(90), Observe()]")
    observed = list(session.coverage.observed)
    assert sorted(observed) == ["bike", "blue door", "cap", "green door", "lamp", "television"]
    pose = Pose(session.cell, session.facing)
    perfect = true_cogmap(example_scene, "global", pose=pose, names=observed)
    scores = compare_cogmaps(perfect, true_cogmap(example_scene, "global", pose=pose), cogmap_scale(example_scene))
    assert scores.pos == pytest.approx(7 / 15)
    assert scores.dir == pytest.approx(28 / 120)
    assert scores.facing == pytest.approx(4 / 10)
    assert round(scores.overall, 2) == 0.37


@given(
    st.dictionaries(st.text(max_size=6), st.text(max_size=6) | st.integers(), min_size=1, max_size=4),
    st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=15),
)
def test_extraction_finds_an_object_with_braces_quotes_and_backslashes_in_its_strings(data, prose):
    text = f"THINK: {prose} {{ oops\nFINAL ANSWER: {json.dumps(data, ensure_ascii=False)} {prose}"
    assert extract_json(text) == data
