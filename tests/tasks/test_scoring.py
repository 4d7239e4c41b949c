import math
from dataclasses import replace

import pytest

from theory_of_space.tasks import TASKS, Question, generate_questions, score_question
from theory_of_space.tasks.base import view_to_dict
from theory_of_space.tasks.scoring import (
    allocentric_similarity,
    score_allocentric,
    score_direction_distance,
    score_location,
    score_order,
)
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing, cardinal_of_offset, in_field_of_view
from theory_of_space.world.view import describe_item
from theory_of_space.world.visibility import is_visible, visible_items


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("south east, mid distance", 1.0),
        ("SE, mid", 1.0),
        ("mid distance, south east", 1.0),
        ("south east, far", 0.5),
        ("north, mid distance", 0.5),
        ("north, far", 0.0),
        ("", 0.0),
        ("south east", 0.0),
        ("the object is south east, mid distance", 0.5),
    ],
)
def test_direction_distance_partial_credit(answer, value):
    score = score_direction_distance(answer, "south east", "mid distance", "cardinal")
    assert score.value == value
    assert score.answer == answer and score.explanation


def test_swapped_order_is_recorded_in_the_explanation():
    assert "other order" in score_direction_distance("near, front-left", "front-left", "near", "ego").explanation


def test_ego_answer_to_a_cardinal_question_gets_only_the_distance():
    assert score_direction_distance("front-left, near", "north west", "near", "cardinal").value == 0.5


def test_location_score_is_exp_of_relative_error():
    # off by one cell on a ground truth at distance 5.385 gives 0.83 (published example)
    assert score_location("(5, -3)", (5, -2)).value == pytest.approx(math.exp(-1 / math.hypot(5, 2)))
    assert score_location("(5, -2)", (5, -2)).value == 1.0
    assert round(score_location("(6, -2)", (5, -2)).value, 2) == 0.83


def test_location_at_the_origin_needs_the_exact_answer():
    assert score_location("(0, 0)", (0, 0)).value == 1.0
    assert score_location("(0, 1)", (0, 0)).value == 0.0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("", "empty"), ("(inf, 2)", "no coordinates"), ("x=1", "no coord")],
)
def test_location_bad_answers_score_zero_with_a_reason(answer, reason):
    score = score_location(answer, (2, 3))
    assert score.value == 0.0 and reason in score.explanation


def test_huge_coordinates_score_zero_without_overflow():
    assert score_location("(1e300, 1e300)", (2, 3)).value == 0.0
    assert score_allocentric("(1e300, 1e300); (1, 1); (2, 2)", [(1, 0), (0, 1), (2, 2)]).value < 0.5


def test_allocentric_similarity_by_hand():
    truth = [(3, 0), (0, 4), (-2, -2)]
    predicted = [(4.0, 0.0), (1.0, 4.0), (-1.0, -2.0)]  # every x off by one
    scale = math.sqrt((9 + 16 + 8) / 3)
    pos = math.exp(-1 / scale)
    # pairs over origin + 3 objects: 6; a shifted point can change the bin of its pairs
    points_t = [(0, 0), *truth]
    points_p = [(0.0, 0.0), *predicted]
    agree = 0
    for i in range(4):
        for j in range(i + 1, 4):
            t = cardinal_of_offset((points_t[j][0] - points_t[i][0], points_t[j][1] - points_t[i][1]))
            p = cardinal_of_offset((points_p[j][0] - points_p[i][0], points_p[j][1] - points_p[i][1]))
            agree += t == p
    assert allocentric_similarity(predicted, truth) == pytest.approx((pos + agree / 6) / 2)
    assert allocentric_similarity(truth, truth) == 1.0


def test_allocentric_needs_exactly_k_coordinates():
    truth = [(3, 0), (0, 4), (-2, -2)]
    assert score_allocentric("(3, 0); (0, 4); (-2, -2)", truth).value == 1.0
    short = score_allocentric("(3, 0); (0, 4)", truth)
    assert short.value == 0.0 and "exactly 3" in short.explanation


def test_allocentric_coincident_points_are_north_of_each_other():
    truth = [(3, 0), (0, 4), (-2, -2)]
    # all six pairs of the prediction are zero offsets, i.e. `north`; the truth has one north pair
    # (origin -> (0, 4)), so dir_sim = 1/6
    scale = math.sqrt((9 + 16 + 8) / 3)
    rmse = math.sqrt((9 + 16 + 8) / 3)
    expected = (math.exp(-rmse / scale) + 1 / 6) / 2
    assert allocentric_similarity([(0.0, 0.0)] * 3, truth) == pytest.approx(expected)
    assert allocentric_similarity([(-0.0, -0.0)] * 3, truth) == pytest.approx(expected)


def test_order_is_exact_after_normalisation():
    order = ["trash can", "lamp", "sofa"]
    assert score_order("Trash_Can, LAMP,  sofa.", order).value == 1.0
    wrong = score_order("lamp, trash can, sofa", order)
    assert wrong.value == 0.0 and "wrong order" in wrong.explanation
    assert score_order("lamp, sofa", order).value == 0.0


# ---- the task scorers on generated questions ------------------------------------------------


def test_perc_dec_accepts_a_consistent_other_object():
    scene = generate_scene(35)
    question = next(q for q in generate_questions(scene).by_task("perc_dec") if q.answer == "pan")
    assert [v["name"] for v in question.data["observations"]] == ["plant", "orange door"]
    # with only the plant listed (as before doors counted), the whiteboard reproduces the observation too
    only_plant = replace(question, data={**question.data, "observations": question.data["observations"][:1]})
    assert TASKS["perc_dec"].score(only_plant, "whiteboard", scene).value == 1.0
    assert "reproduces" in TASKS["perc_dec"].score(only_plant, "whiteboard", scene).explanation
    assert TASKS["perc_dec"].score(question, "whiteboard", scene).value == 0.0
    assert TASKS["perc_dec"].score(question, "pan", scene).value == 1.0
    assert TASKS["perc_dec"].score(question, "plant", scene).value == 0.0
    assert TASKS["perc_dec"].score(question, "pan, whiteboard", scene).value == 0.0
    assert "not an item" in TASKS["perc_dec"].score(question, "unicorn", scene).explanation


def test_view2act_accepts_any_path_that_gives_the_view(example_scene, example_suite):
    for question in example_suite.by_task("view2act"):
        shortest = TASKS["view2act"].solve(example_scene, question)
        assert shortest is not None and shortest != question.answer
        for answer in (question.answer, shortest, f"Actions: [{shortest}]", shortest.lower()):
            assert TASKS["view2act"].score(question, answer, example_scene).value == 1.0


def test_view2act_simulation_rules(example_scene, example_suite):
    question = example_suite.by_task("view2act")[0]
    score = TASKS["view2act"].score
    assert "not in the field of view" in score(question, "JumpTo(laptop)", example_scene).explanation
    assert "no such item" in score(question, "JumpTo(piano)", example_scene).explanation
    assert "not a multiple of 90" in score(question, "Rotate(45)", example_scene).explanation
    assert "does not give the view" in score(question, "Rotate(90)", example_scene).explanation
    assert score(question, "", example_scene).explanation == "empty answer"


def test_view2act_jumps_skip_the_room_test(example_scene, example_suite):
    # From the start facing east, the laptop of room 3 is in the cone but behind the wall.
    laptop = example_scene.item("laptop")
    assert in_field_of_view(example_scene.start.cell, Facing.EAST, laptop.cell)
    assert not is_visible(example_scene, example_scene.start.cell, Facing.EAST, laptop)
    question = replace(example_suite.by_task("view2act")[0], data={"observations": []})
    assert TASKS["view2act"].score(question, "Rotate(90), JumpTo(laptop)", example_scene).value == 1.0


@pytest.mark.parametrize("task", list(TASKS))
def test_truth_scores_one_and_nonsense_zero(task, scene0, suite0):
    for question in suite0.by_task(task):
        assert score_question(question, f"THINK: sure\nFINAL ANSWER: {question.answer}", scene0).value == 1.0
        nonsense = score_question(question, "FINAL ANSWER: I do not know", scene0)
        assert nonsense.value == 0.0 and nonsense.explanation


def test_rescoring_a_stored_question_needs_only_its_json(scene0, suite0):
    for question in suite0.questions:
        stored = Question.from_dict(question.to_dict())
        assert stored == question
        assert score_question(stored, question.answer, scene0).value == 1.0


# ---- the published scorer's readings, on the published example scene run00 ----------------------


def _question(task: str, answer: str, **data) -> Question:
    return Question(task=task, qid=f"{task}_0", text="", answer=answer, data=data)


def test_alloc_gives_a_prediction_on_the_origin_the_bin_north(example_scene):
    names = ["rubberduck", "shelf", "pan"]
    truth = [list(example_scene.allocentric(example_scene.item(n).cell)) for n in names]
    assert truth == [[4, 11], [12, -1], [8, 1]]
    question = _question("alloc", "(4, 11); (12, -1); (8, 1)", objects=names, coordinates=truth)
    # the published scorer gives 0.2810; with no bin for the origin pair it would be 0.1976
    assert score_question(question, "(0, 0); (1, 1); (2, 2)", example_scene).value == pytest.approx(0.2810, abs=1e-4)
    assert cardinal_of_offset((0, 0)) == "north"


def test_view2loc_reads_the_first_of_several_coordinates(example_scene):
    question = _question("view2loc", "(2, -5)", origin=None, position=[2, -5], facing="north", room=1)
    score = score_question(question, "(0, 0); (1, 1); (2, 2)", example_scene)
    assert score.value == pytest.approx(math.exp(-1), abs=1e-4) and "first of 3" in score.explanation
    assert score_question(question, "(2, -5); (0, 0)", example_scene).value == 1.0


@pytest.mark.parametrize(
    ("task", "reply"),
    [
        ("dir", "({answer})"),
        ("persp", "{answer}, facing forward"),
        ("loc2view", "[{answer}]"),
        ("act2view", "{answer}, on left wall"),
        ("view2loc", "{bare}"),
        ("view2act", "Rotate(360), {answer}"),
        ("view2act", "Rotate(450), Rotate(-90), {answer}"),
    ],
)
def test_replies_the_published_scorer_accepts(example_suite, example_scene, task, reply):
    for question in example_suite.by_task(task):
        text = reply.format(answer=question.answer, bare=question.answer.strip("()"))
        score = score_question(question, f"FINAL ANSWER: {text}", example_scene)
        assert score.value == 1.0, (text, score.explanation)


@pytest.mark.parametrize(
    ("task", "reply"),
    [
        ("dir", "{answer}."),
        ("dir", "**{answer}**"),
        ("persp", "{spaced}"),
        ("ment_rot", "{numbered}"),
        ("ment_rot", "{arrows}"),
        ("view2act", "Actions: [{answer}]"),
        ("view2act", "{plus}"),
        ("alloc", "{answer}."),
    ],
)
def test_replies_we_accept_beyond_the_published_scorer(example_suite, example_scene, task, reply):
    for question in example_suite.by_task(task):
        names = [n.replace(" ", "_") for n in question.answer.split(", ")]
        text = reply.format(
            answer=question.answer,
            spaced=question.answer.replace(", ", " "),
            numbered="\n".join(f"{i}. {n}" for i, n in enumerate(names, start=1)),
            arrows=" -> ".join(names),
            plus=question.answer.replace("Rotate(90)", "Rotate(+90)"),
        )
        score = score_question(question, f"FINAL ANSWER: {text}", example_scene)
        assert score.value == 1.0, (text, score.explanation)


def test_view2act_judges_a_doors_wall_from_the_room_the_moves_end_in(example_scenes):
    # On run01 the green door looks the same from the chair facing west (one side of the door) and
    # from the basket facing east (the other side); a reply that ends on the basket is valid.
    scene = example_scenes["run01"]
    door, chair, basket = scene.item("green door"), scene.item("chair"), scene.item("basket")
    assert chair.room != basket.room and set(door.rooms) == {chair.room, basket.room}
    asked = describe_item(scene, chair.cell, Facing.WEST, chair.rooms, door)
    assert describe_item(scene, basket.cell, Facing.EAST, basket.rooms, door) == asked
    # judged with the chair's room, the basket's view of the door would be on the back wall
    assert describe_item(scene, basket.cell, Facing.EAST, chair.rooms, door).wall != asked.wall
    basket_view = [
        view_to_dict(describe_item(scene, basket.cell, Facing.EAST, basket.rooms, item))
        for item in visible_items(scene, basket.cell, Facing.EAST, basket.rooms)
    ]
    to_basket = TASKS["view2act"].solve(scene, Question("view2act", "q", "", "", {"observations": basket_view}))
    question = Question("view2act", "view2act_0", "", "", {"observations": [view_to_dict(asked)]})
    assert to_basket is not None and TASKS["view2act"].score(question, to_basket, scene).value == 1.0
