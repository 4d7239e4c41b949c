"""Every scorer is total: arbitrary text never raises and scores in [0, 1] with a reason."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_of_space.tasks import TASK_IDS, TASKS, generate_questions, score_question
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import CARDINAL_LABELS, DISTANCE_LABELS, EGO_LABELS

_SCENE = generate_scene(3)
_SUITE = generate_questions(_SCENE)
_WORDS = [
    *EGO_LABELS,
    *CARDINAL_LABELS,
    *DISTANCE_LABELS,
    *(item.name for item in _SCENE.items),
    "JumpTo(",
    "Rotate(",
    "Observe()",
    ")",
    "(",
    "[",
    "]",
    ",",
    ";",
    "\n",
    "FINAL ANSWER:",
    "THINK:",
    "<answer>",
    "-",
    "1e999",
    "nan",
    "-3",
    "2.5",
    "°",
]

messy_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(_WORDS), max_size=25).map(" ".join),
    st.lists(st.sampled_from(_WORDS), max_size=25).map("".join),
    st.lists(st.tuples(st.integers(-(10**6), 10**6), st.floats(allow_nan=True, allow_infinity=True)), max_size=6).map(
        lambda pairs: "; ".join(f"({x}, {y})" for x, y in pairs)
    ),
)


@pytest.mark.parametrize("task", TASK_IDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=messy_text, index=st.integers(0, 2))
def test_scorers_never_raise_and_stay_in_range(task, text, index):
    question = _SUITE.by_task(task)[index]
    for answer in (text, f"THINK: hm\nFINAL ANSWER: {text}", f"{question.answer} {text}", f"{text}{question.answer}"):
        score = TASKS[task].score(question, answer, _SCENE)
        assert 0.0 <= score.value <= 1.0
        assert isinstance(score.explanation, str) and score.explanation
        whole = score_question(question, answer, _SCENE)
        assert 0.0 <= whole.value <= 1.0
