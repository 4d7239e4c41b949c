import math
from dataclasses import replace

import pytest

from theory_of_space.tasks import TASKS, Question, generate_questions, score_question
from theory_of_space.tasks.scoring import (
    allocentric_similarity,
    score_allocentric,
    score_direction_distance,
    score_location,
    score_order,
)
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing, cardinal_of_offset, in_field_of_view
from theory_of_space.world.visibility import is_visible


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
    # off by one cell on a ground truth at distance 5.385 gives 0.83 (the spec's verified example)
    assert score_location("(5, -3)", (5, -2)).value == pytest.approx(math.exp(-1 / math.hypot(5, 2)))
    assert score_location("(5, -2)", (5, -2)).value == 1.0
    assert round(score_location("(6, -2)", (5, -2)).value, 2) == 0.83


def test_location_at_the_origin_needs_the_exact_answer():
    assert score_location("(0, 0)", (0, 0)).value == 1.0
    assert score_location("(0, 1)", (0, 0)).value == 0.0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("", "empty"), ("(1, 2); (3, 4)", "expected one coordinate"), ("(inf, 2)", "no coordinates"), ("x=1", "no coord")],
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


def test_allocentric_coincident_predictions_have_no_direction():
    truth = [(3, 0), (0, 4), (-2, -2)]
    assert allocentric_similarity([(0.0, 0.0)] * 3, truth) < 0.5


def test_order_is_exact_after_normalisation():
    order = ["trash can", "lamp", "sofa"]
    assert score_order("Trash_Can, LAMP,  sofa.", order).value == 1.0
    wrong = score_order("lamp, trash can, sofa", order)
    assert wrong.value == 0.0 and "wrong order" in wrong.explanation
    assert score_order("lamp, sofa", order).value == 0.0


# ---- the task scorers on generated questions ------------------------------------------------


def test_perc_dec_accepts_a_consistent_other_object():
    scene = generate_scene(35)
    question = generate_questions(scene).by_task("perc_dec")[1]
    assert question.answer == "pan" and len(question.data["observations"]) == 1
    assert TASKS["perc_dec"].score(question, "whiteboard", scene).value == 1.0
    assert "reproduces" in TASKS["perc_dec"].score(question, "whiteboard", scene).explanation
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
    assert "invalid rotation" in score(question, "Rotate(45)", example_scene).explanation
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
