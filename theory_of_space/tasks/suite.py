"""The task table, the question suite of a scene and the aggregation of its scores.

:data:`TASKS` lists the nine families in the column order of the published tables (route tasks,
then survey tasks). :func:`generate_questions` draws each family's questions from its own generator
seeded with the scene seed, so families are independent of each other and of their order, and
de-duplicates them by the hash of their text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from theory_of_space.tasks import allocentric, direction, localisation, navigation, perception, rotation
from theory_of_space.tasks.base import Question, Score, TaskSpec, TaskUnavailable
from theory_of_space.tasks.parsing import extract_answer
from theory_of_space.world.scene import Scene, scene_seed

TASKS: dict[str, TaskSpec] = {
    spec.id: spec
    for spec in (
        TaskSpec(
            "dir",
            "dir",
            "dir",
            "route",
            direction.DIR_FORMAT,
            direction.generate_dir,
            direction.score_dir,
            direction.solve_dir,
        ),
        TaskSpec(
            "persp",
            "pov",
            "persp",
            "route",
            direction.PERSP_FORMAT,
            direction.generate_persp,
            direction.score_persp,
            direction.solve_persp,
        ),
        TaskSpec(
            "perc_dec",
            "bwd_pov_text",
            "perc.dec",
            "route",
            perception.PERC_DEC_FORMAT,
            perception.generate_perc_dec,
            perception.score_perc_dec,
            perception.solve_perc_dec,
        ),
        TaskSpec(
            "act2view",
            "fwd_fov",
            "act2view",
            "route",
            navigation.ACT2VIEW_FORMAT,
            navigation.generate_act2view,
            navigation.score_act2view,
            navigation.solve_act2view,
        ),
        TaskSpec(
            "view2act",
            "bwd_nav_text",
            "view2act",
            "route",
            navigation.VIEW2ACT_FORMAT,
            navigation.generate_view2act,
            navigation.score_view2act,
            navigation.solve_view2act,
        ),
        TaskSpec(
            "alloc",
            "e2a",
            "alloc",
            "survey",
            "(x0, y0); (x1, y1); ...",
            allocentric.generate_alloc,
            allocentric.score_alloc,
            allocentric.solve_alloc,
        ),
        TaskSpec(
            "ment_rot",
            "rot",
            "ment.rot",
            "survey",
            rotation.MENT_ROT_FORMAT,
            rotation.generate_ment_rot,
            rotation.score_ment_rot,
            rotation.solve_ment_rot,
        ),
        TaskSpec(
            "loc2view",
            "fwd_loc",
            "loc2view",
            "survey",
            localisation.LOC2VIEW_FORMAT,
            localisation.generate_loc2view,
            localisation.score_loc2view,
            localisation.solve_loc2view,
        ),
        TaskSpec(
            "view2loc",
            "bwd_loc_text",
            "view2loc",
            "survey",
            localisation.VIEW2LOC_FORMAT,
            localisation.generate_view2loc,
            localisation.score_view2loc,
            localisation.solve_view2loc,
        ),
    )
}
"""The nine task families in the published column order."""

TASK_IDS: tuple[str, ...] = tuple(TASKS)
ROUTE_TASKS: tuple[str, ...] = tuple(t for t, spec in TASKS.items() if spec.group == "route")
SURVEY_TASKS: tuple[str, ...] = tuple(t for t, spec in TASKS.items() if spec.group == "survey")
QUESTIONS_PER_TASK = 3
DEDUP_RETRIES = 20


@dataclass(frozen=True)
class QuestionSet:
    """The questions of one scene, and the tasks the scene could not produce (task → reason)."""

    questions: tuple[Question, ...]
    unavailable: dict[str, str] = field(default_factory=dict)

    def by_task(self, task: str) -> list[Question]:
        return [q for q in self.questions if q.task == task]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def generate_task_questions(scene: Scene, task: str, n: int = QUESTIONS_PER_TASK) -> list[Question]:
    """``n`` questions of one task, drawn from the task's own generator seeded with the scene seed.

    A question whose text repeats an earlier one is drawn again, up to 20 times; after that the
    duplicate is kept with the id suffix ``_dup<N>``, as published.

    Raises:
        KeyError: an unknown task id.
        TaskUnavailable: the scene cannot produce this task.
    """
    spec = TASKS[task]
    rng = np.random.default_rng(scene_seed(scene))
    seen: dict[str, int] = {}
    questions = []
    for index in range(n):
        draft = spec.generate(scene, rng)
        for _ in range(DEDUP_RETRIES):
            if _text_hash(draft.text) not in seen:
                break
            draft = spec.generate(scene, rng)
        key = _text_hash(draft.text)
        qid = f"{task}_{index}"
        if key in seen:
            qid += f"_dup{seen[key]}"
        seen[key] = seen.get(key, 0) + 1
        questions.append(Question(task=task, qid=qid, text=draft.text, answer=draft.answer, data=draft.data))
    return questions


def generate_questions(
    scene: Scene, *, n_per_task: int = QUESTIONS_PER_TASK, tasks: Sequence[str] | None = None
) -> QuestionSet:
    """The question suite of a scene: ``n_per_task`` questions for each task that the scene can produce.

    Example:
        >>> from theory_of_space import generate_scene
        >>> suite = generate_questions(generate_scene(0))
        >>> len(suite.questions), suite.unavailable
        (27, {})
    """
    chosen = TASK_IDS if tasks is None else tuple(tasks)
    unknown = [t for t in chosen if t not in TASKS]
    if unknown:
        raise ValueError(f"expected task ids from {', '.join(TASK_IDS)} for `tasks`, got {unknown}")
    questions: list[Question] = []
    unavailable: dict[str, str] = {}
    for task in chosen:
        try:
            questions.extend(generate_task_questions(scene, task, n_per_task))
        except TaskUnavailable as error:
            unavailable[task] = error.reason
    return QuestionSet(tuple(questions), unavailable)


def unavailable_tasks(scene: Scene) -> dict[str, str]:
    """The tasks this scene cannot produce, with the reason (empty when all nine work)."""
    return generate_questions(scene, n_per_task=1).unavailable


def can_generate_all(scene: Scene) -> bool:
    """Whether every task generator can produce its questions; procedural scenes failing this are redrawn."""
    return not unavailable_tasks(scene)


def score_question(question: Question, reply: str, scene: Scene) -> Score:
    """Score a model's whole reply to a question: the answer after ``FINAL ANSWER:``, by the task's scorer."""
    return TASKS[question.task].score(question, extract_answer(reply), scene)


def aggregate(scores: Iterable[tuple[str, float]]) -> dict[str, float | None]:
    """Per-task means, the route and survey means and the overall mean over questions.

    Args:
        scores: (task id, score) pairs.

    Returns:
        A dict keyed by task id plus ``route``, ``survey`` and ``overall``; ``None`` where no question counts.
    """
    per_task: dict[str, list[float]] = {task: [] for task in TASK_IDS}
    for task, value in scores:
        per_task.setdefault(task, []).append(value)
    result: dict[str, float | None] = {t: (float(np.mean(v)) if v else None) for t, v in per_task.items()}
    for name, group in (("route", ROUTE_TASKS), ("survey", SURVEY_TASKS), ("overall", TASK_IDS)):
        values = [v for t in group for v in per_task[t]]
        result[name] = float(np.mean(values)) if values else None
    return result
