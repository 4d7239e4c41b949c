"""Stored evaluation records are checked on load: a bad file fails with the file and the field named, a null
reply stays null through re-scoring, and fuzzing with damaged records lets no other exception out."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.world.mutations import mutated
from theory_of_space.cli import main
from theory_of_space.runner.evaluate import (
    EVALUATION_FILE,
    EvaluationSettings,
    SceneEvaluation,
    agent_factory,
    evaluate,
    load_evaluation,
    rescore,
    save_evaluation,
)
from theory_of_space.runner.record_checks import EvaluationRecordError
from theory_of_space.world.generate import generate_scene


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real record of the oracle on one scene, as JSON."""
    out = tmp_path_factory.mktemp("runs")
    settings = EvaluationSettings(setting="passive", n_per_task=1, tasks=("dir", "alloc", "view2act"))
    evaluate([generate_scene(0)], agent_factory("oracle"), settings, agent_name="oracle", out_dir=out)
    (path,) = out.rglob(EVALUATION_FILE)
    return json.loads(path.read_text())


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / EVALUATION_FILE
    path.write_text(json.dumps(data))
    return path


def _first_answer(data: dict[str, Any]) -> dict[str, Any]:
    return next(iter(data["tasks"]["dir"].values()))


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "no-tasks": (_delete("tasks"), "missing field `tasks`"),
    "unknown-setting": (lambda d: d["settings"].update(colour="red"), "unknown setting `settings.colour`"),
    "setting-of-a-wrong-type": (lambda d: d["settings"].update(n_per_task="3"), "for `settings.n_per_task`, got '3'"),
    "setting-out-of-range": (lambda d: d["settings"].update(world="smell"), "`settings`: expected text or vision"),
    "score-above-one": (
        lambda d: _first_answer(d)["score"].update(value=2),
        "expected a number in [0, 1] for `tasks.dir.dir_0.score.value`, got 2",
    ),
    "no-reply": (lambda d: _first_answer(d).pop("reply"), "missing field `tasks.dir.dir_0.reply`"),
    "reply-a-number": (lambda d: _first_answer(d).update(reply=3), "expected a string for `tasks.dir.dir_0.reply`"),
    "unknown-task": (
        lambda d: _first_answer(d)["question"].update(task="smell"),
        "unknown task 'smell' for `tasks.dir.dir_0.question.task`",
    ),
    "bad-role": (lambda d: d["conversation"][0].update(role="robot"), "for `conversation[0].role`, got 'robot'"),
    "picture-outside-the-folder": (
        lambda d: d["conversation"][1].update(images=["../../secret.png"]),
        "expected a file path inside the record's folder for `conversation[1].images[0]`",
    ),
    "bad-scene": (lambda d: d["scene"].update(objects=[]), "`scene`: expected at least one object in `objects`"),
    "old-version": (lambda d: d.update(version=0), "expected evaluation format version 1 or 2 for `version`, got 0"),
    "tasks-a-list": (lambda d: d.update(tasks=[]), "expected an object for `tasks`, got []"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_record_names_the_file_and_the_field(stored: dict[str, Any], tmp_path: Path, case: str) -> None:
    edit, message = CASES[case]
    data = copy.deepcopy(stored)
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(EvaluationRecordError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}"):
        load_evaluation(path, images=False)


def test_tos_rescore_reports_a_bad_record(
    stored: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(stored)
    del data["tasks"]
    path = _write(tmp_path, data)
    assert main(["rescore", str(tmp_path)]) == 1  # reported and skipped; other scenes would go on
    assert f"tos rescore: skipped {path}: missing field `tasks`" in capsys.readouterr().err


def test_a_record_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / EVALUATION_FILE
    path.write_text('{"version": 2, "tasks": {')
    with pytest.raises(EvaluationRecordError, match=f"^{re.escape(str(path))}: not valid JSON"):
        load_evaluation(path, images=False)


def test_a_null_reply_stays_null_through_rescoring(stored: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(stored)
    _first_answer(data)["reply"] = None
    path = _write(tmp_path, data)
    fresh = rescore(load_evaluation(path, images=False))
    save_evaluation(fresh, path, images=False)
    again = json.loads(path.read_text())
    assert _first_answer(again)["reply"] is None
    assert _first_answer(again)["score"]["value"] == 0.0
    assert load_evaluation(path, images=False).answers[0].reply is None


def test_a_valid_record_loads_unchanged(stored: dict[str, Any], tmp_path: Path) -> None:
    loaded = load_evaluation(_write(tmp_path, stored), images=False)
    assert isinstance(loaded, SceneEvaluation)
    assert loaded.to_dict() == stored


# ==== Fuzzing: damaged records ====


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_records_fail_only_with_record_errors(stored: dict[str, Any], data: st.DataObject) -> None:
    """Whatever loads can be re-scored and written again."""
    damaged = data.draw(mutated(stored))
    try:
        record = SceneEvaluation.from_dict(damaged)
    except EvaluationRecordError:
        event("refused")
        return
    event("loaded")
    json.dumps(rescore(record).to_dict())
