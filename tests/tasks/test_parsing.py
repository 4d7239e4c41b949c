import math

import pytest

from theory_of_space.env.actions import JumpTo, Rotate
from theory_of_space.tasks.parsing import (
    extract_answer,
    parse_coordinates,
    parse_direction_distance,
    parse_moves,
    parse_name_list,
)
from theory_of_space.world.geometry import CARDINAL_LABELS, DISTANCE_LABELS, EGO_LABELS
from theory_of_space.world.labels import canonical_label, resolve_label


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        ("front left", "ego", "front-left"),
        ("FL", "ego", "front-left"),
        ("Front-Slight-Right", "ego", "front-slight-right"),
        ("slightly right", "ego", "front-slight-right"),
        ("ne", "cardinal", "north east"),
        ("north-east", "cardinal", "north east"),
        ("NorthEast", "cardinal", "north east"),
        ("SW", "cardinal", "south west"),
        ("mid", "distance", "mid distance"),
        ("medium", "distance", "mid distance"),
        ("slightly-far", "distance", "slightly far"),
        ("very_far", "distance", "very far"),
    ],
)
def test_aliases_resolve_to_the_bin_labels(text, kind, label):
    assert resolve_label(text, kind) == label


def test_every_bin_label_resolves_to_itself():
    for kind, labels in (("ego", EGO_LABELS), ("cardinal", CARDINAL_LABELS), ("distance", DISTANCE_LABELS)):
        for label in labels:
            assert resolve_label(label, kind) == label
            assert resolve_label(label.upper().replace(" ", "-"), kind) == label


def test_labels_of_another_kind_do_not_resolve():
    assert resolve_label("north", "ego") is None
    assert resolve_label("front-left", "cardinal") is None
    assert resolve_label("north", "distance") is None
    assert canonical_label(" Mid-Distance_ ") == "middistance"


@pytest.mark.parametrize(
    "reply",
    [
        "THINK: it is south east\nFINAL ANSWER: south east, near",
        "final answer: south east, near",
        "<think>hmm</think><answer>south east, near</answer>",
        "south east, near",
        "THINK: x\nFINAL ANSWER: wrong\nFINAL ANSWER: south east, near",
    ],
)
def test_extract_answer_follows_the_reply_rules(reply):
    assert extract_answer(reply) == "south east, near"


@pytest.mark.parametrize(
    "answer",
    ["south east, mid distance", "south east; mid distance", "south east\nmid distance", "south east mid distance"],
)
def test_direction_distance_separators(answer):
    readings = parse_direction_distance(answer, "cardinal")
    assert any(r.direction == "south east" and r.distance == "mid distance" and not r.swapped for r in readings)


def test_direction_distance_swapped_and_decorated():
    readings = parse_direction_distance("**mid distance, SE.**", "cardinal")
    assert any(r.direction == "south east" and r.distance == "mid distance" and r.swapped for r in readings)


def test_direction_distance_reads_the_first_two_of_three_parts():
    readings = parse_direction_distance("front-left, near, facing forward", "ego")
    assert any(r.direction == "front-left" and r.distance == "near" and not r.swapped for r in readings)
    assert not any(
        r.direction == "north" and r.distance == "near"
        for r in parse_direction_distance("north, east, near", "cardinal")
    )
    assert parse_direction_distance("", "ego") == []


@pytest.mark.parametrize(
    "answer", ["(south east, mid distance)", "[south east, mid distance]", "**(south east, mid)**"]
)
def test_direction_distance_in_brackets(answer):
    readings = parse_direction_distance(answer, "cardinal")
    assert any(r.direction == "south east" and r.distance == "mid distance" for r in readings)


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("2, -5", ((2.0, -5.0),)),
        ("2,-5.", ((2.0, -5.0),)),
        ("1, 2; 3, 4", ((1.0, 2.0), (3.0, 4.0))),
        ("(1, 2), 3, 4", ((1.0, 2.0),)),
    ],
)
def test_coordinates_without_brackets(text, points):
    assert parse_coordinates(text).points == points


def test_coordinates_in_order_with_brackets_signs_and_decimals():
    parsed = parse_coordinates("(1, -2); [3.5, 4]; ( −1 , +0 )")
    assert parsed.problem is None
    assert parsed.points == ((1.0, -2.0), (3.5, 4.0), (-1.0, 0.0))


@pytest.mark.parametrize(("text", "problem"), [("nowhere", "no coordinates"), ("(1e999, 2)", "impossible")])
def test_unusable_coordinates_say_why(text, problem):
    parsed = parse_coordinates(text)
    assert parsed.points == () and problem in (parsed.problem or "")


def test_name_list_normalises_names_and_drops_enumerators():
    assert parse_name_list("1. Trash_Can -> 2. lamp → 'Air Conditioner'.") == ["trash can", "lamp", "air conditioner"]
    assert parse_name_list("  ") == []


def test_moves_are_read_case_insensitively():
    parsed = parse_moves("Actions: [jumpto(green door), ROTATE(+90°), Rotate(-90)]")
    assert parsed.problem is None
    assert parsed.moves == (JumpTo("green door"), Rotate(90), Rotate(-90))


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("go to the lamp", "no move actions"),
        ("JumpTo(lamp), Observe()", "not a sequence of move actions"),
        ("JumpTo(lamp), Query(lamp)", "not a sequence of move actions"),
        ("Rotate(ninety)", "not a sequence of move actions"),
        ("Walk(3)", "not a sequence of move actions"),
    ],
)
def test_other_tokens_make_moves_unusable(answer, problem):
    parsed = parse_moves(answer)
    assert parsed.moves == () and problem in (parsed.problem or "")


def test_huge_coordinates_are_finite_but_large():
    parsed = parse_coordinates("(1e300, -1e300)")
    assert parsed.problem is None and math.isfinite(parsed.points[0][0])
