"""The nine evaluation tasks: question generators, answer scorers and the question wrapper.

Every family has a generator (seeded by the scene), a pure scorer that returns a :class:`Score`
record and a solver that answers from a scene (the oracle's answer). :data:`TASKS` lists them in the
column order of the published tables.

Example:
    >>> from theory_of_space import generate_scene
    >>> from theory_of_space.tasks import generate_questions, score_question
    >>> scene = generate_scene(0)
    >>> question = generate_questions(scene).questions[0]
    >>> score_question(question, "FINAL ANSWER: " + question.answer, scene).value
    1.0
"""

from __future__ import annotations

from theory_of_space.tasks.base import Question, Score, TaskSpec, TaskUnavailable
from theory_of_space.tasks.parsing import extract_answer
from theory_of_space.tasks.prompts import find_question, question_block, question_messages
from theory_of_space.tasks.suite import (
    QUESTIONS_PER_TASK,
    ROUTE_TASKS,
    SURVEY_TASKS,
    TASK_IDS,
    TASKS,
    QuestionSet,
    aggregate,
    can_generate_all,
    generate_questions,
    generate_task_questions,
    score_question,
    unavailable_tasks,
)
from theory_of_space.world.scene import scene_seed

__all__ = [
    "QUESTIONS_PER_TASK",
    "ROUTE_TASKS",
    "SURVEY_TASKS",
    "TASKS",
    "TASK_IDS",
    "Question",
    "QuestionSet",
    "Score",
    "TaskSpec",
    "TaskUnavailable",
    "aggregate",
    "can_generate_all",
    "extract_answer",
    "find_question",
    "generate_questions",
    "generate_task_questions",
    "question_block",
    "question_messages",
    "scene_seed",
    "score_question",
    "unavailable_tasks",
]
