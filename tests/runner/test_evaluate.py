import argparse
import json

import pytest

from theory_of_space.agents.answerers import OracleAnswerer
from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.commands.evaluate import add_evaluate_parser
from theory_of_space.runner.evaluate import (
    EVALUATION_FILE,
    EvaluationSettings,
    SceneEvaluation,
    agent_factory,
    evaluate,
    find_evaluations,
    format_table,
    load_evaluation,
    rescore,
    summary,
)
from theory_of_space.tasks import TASK_IDS, extract_answer
from theory_of_space.world.generate import generate_scene


class CountingOracle(OracleAnswerer):
    """The oracle, counting the questions it is asked and optionally failing after some."""

    def __init__(self, scene, questions, *, fail_after=None, log=None):
        super().__init__(scene, questions)
        self.fail_after = fail_after
        self.log = [] if log is None else log

    def act(self, messages):
        reply = super().act(messages)
        if not extract_answer(reply.text).startswith("Actions:"):
            if self.fail_after is not None and len(self.log) >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            self.log.append(messages[-1].content)
        return reply


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(seed) for seed in range(2)]


@pytest.mark.parametrize("setting", ["active", "passive"])
def test_oracle_scores_one_in_both_settings(scenes, setting):
    settings = EvaluationSettings(setting=setting)
    runs = evaluate(scenes, agent_factory("oracle"), settings, agent_name="oracle")
    values = summary(runs)
    assert all(values[t] == 1.0 for t in TASK_IDS) and values["overall"] == 1.0
    for run in runs:
        assert len(run.answers) == 27 and run.unavailable == {}
        roles = [m.role for m in run.conversation]
        assert roles[0] == "system" and roles[-1] == "user"
    if setting == "passive":
        assert "## Exploration History" in runs[0].conversation[1].content and len(runs[0].conversation) == 2
        assert "# Spatial Reasoning Task" in runs[0].conversation[1].content
    else:
        assert values["avg_step"] == 1.0


def test_records_round_trip_and_rescore_offline(scenes, tmp_path):
    settings = EvaluationSettings(setting="passive", query_enabled=False, n_per_task=2, tasks=("dir", "view2loc"))
    runs = evaluate(
        scenes, agent_factory("belief", query_enabled=False), settings, agent_name="belief", out_dir=tmp_path
    )
    paths = find_evaluations(tmp_path)
    assert len(paths) == 2 and all(p.name == EVALUATION_FILE for p in paths)
    assert paths[0].parts[-6:-1][1:] == ("text", "passive", "think", "strategist")
    stored = load_evaluation(paths[0])
    original = next(r for r in runs if r.scene == stored.scene)
    assert stored.to_dict() == original.to_dict()
    again = rescore(stored)
    assert [a.score for a in again.answers] == [a.score for a in stored.answers]
    data = json.loads(paths[0].read_text())
    assert set(data["tasks"]) == {"dir", "view2loc"}
    assert data["tasks"]["dir"]["dir_0"]["published_task"] == "dir"


def test_rescore_uses_the_current_scorer_not_the_stored_score(scenes):
    run = evaluate(scenes[:1], agent_factory("oracle"), EvaluationSettings(tasks=("dir",)), agent_name="oracle")[0]
    tampered = SceneEvaluation.from_dict(run.to_dict())
    tampered.answers[0].score = type(tampered.answers[0].score)(0.0, "x", "tampered")
    assert rescore(tampered).answers[0].score.value == 1.0


def test_an_interrupted_run_resumes_with_only_the_missing_questions(scenes, tmp_path):
    settings = EvaluationSettings(setting="passive", tasks=("dir", "alloc"))
    asked = []

    def failing(scene, questions):
        return CountingOracle(scene, questions, fail_after=4, log=asked)

    with pytest.raises(KeyboardInterrupt):
        evaluate(scenes[:1], failing, settings, agent_name="oracle", out_dir=tmp_path)
    assert len(load_evaluation(find_evaluations(tmp_path)[0]).answers) == 4

    resumed = []
    runs = evaluate(
        scenes[:1], lambda s, q: CountingOracle(s, q, log=resumed), settings, agent_name="oracle", out_dir=tmp_path
    )
    assert len(resumed) == 2 and len(runs[0].answers) == 6
    assert summary(runs)["overall"] == 1.0


def test_stored_runs_with_other_settings_are_not_mixed(scenes, tmp_path):
    evaluate(scenes[:1], agent_factory("oracle"), EvaluationSettings(tasks=("dir",)), agent_name="o", out_dir=tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        evaluate(
            scenes[:1], agent_factory("oracle"), EvaluationSettings(tasks=("alloc",)), agent_name="o", out_dir=tmp_path
        )


def test_a_model_failure_is_an_empty_reply_scored_zero(scenes):
    class Silent:
        name = "silent"

        def act(self, messages):
            return AgentReply("", CallRecord(model="silent", error="timeout"))

    runs = evaluate(scenes[:1], lambda s, q: Silent(), EvaluationSettings(setting="passive"), agent_name="silent")
    assert all(a.score.value == 0.0 and a.score.explanation for a in runs[0].answers)
    assert runs[0].answers[0].call["error"] == "timeout"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("setting", "dreaming"),
        ("world", "3d"),
        ("proxy", "oracle"),
        ("tasks", ("dir", "x")),
        ("n_per_task", 0),
        ("image_size", 16),
        ("image_size", True),
    ],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        EvaluationSettings(**{field: value})


def test_table_has_the_published_column_order():
    table = format_table([("m", {"dir": 0.5, "overall": 0.25, "avg_step": 12.0})], with_steps=True)
    header, _, row = table.splitlines()
    assert header == (
        "| Agent | Avg step | dir | persp | perc.dec | act2view | view2act | alloc | ment.rot | loc2view | view2loc "
        "| Avg | Route | Survey |"
    )
    assert row.startswith("| m | 12.0 | 50.0 | - |") and "| 25.0 |" in row
    assert "Avg step" not in format_table([("m", {})], with_steps=False)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="tos")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_evaluate_and_rescore_commands(tmp_path, capsys, reference_dir):
    out = tmp_path / "runs"
    argv = ["evaluate", "--agent", "belief", "--scenes", "2", "--data-dir", str(reference_dir), "--setting", "passive"]
    assert _cli([*argv, "--no-query", "--questions", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 scenes, text world, passive setting, 18 questions" in printed
    assert "| belief (strategist log) | " in printed and "Avg step" not in printed
    assert _cli(["rescore", str(out)]) == 0
    assert "2 stored scenes re-scored; 0 scores changed" in capsys.readouterr().out


def test_evaluate_command_with_generated_scenes_and_a_task_subset(capsys):
    assert _cli(["evaluate", "--agent", "oracle", "--scenes", "1", "--tasks", "dir,ment_rot"]) == 0
    printed = capsys.readouterr().out
    assert "1 scenes, text world, active setting, 6 questions" in printed and "| oracle | 1.0 | 100.0 | - |" in printed


def test_vision_commands_default_to_the_published_scout_pairing(tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["evaluate", "--world", "vision", "--setting", "passive", "--scenes", "1", "--tasks", "dir,alloc"]
    assert _cli([*argv, "--image-size", "64", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 scenes, vision world, passive setting, 6 questions" in printed
    assert "| oracle (scout log) | 100.0 | - |" in printed
    (record,) = find_evaluations(out)
    assert record.parent.parts[-4:] == ("vision", "passive", "think", "scout")
    assert (record.parent / "images" / "message_001_image_00.png").is_file()
    assert _cli([*argv, "--image-size", "64", "--proxy", "strategist"]) == 0
    assert "| oracle (strategist log) | 100.0 | - |" in capsys.readouterr().out
    assert _cli(["rescore", str(out)]) == 0
    assert "\nvision, passive:\n" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "value"), [("--world", "3d"), ("--proxy", "oracle")])
def test_a_bad_world_or_proxy_option_is_refused_with_the_choices(capsys, option, value):
    with pytest.raises(SystemExit) as stop:
        _cli(["evaluate", option, value])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: invalid choice: '{value}'" in error


def test_rescore_of_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no stored evaluations"):
        _cli(["rescore", str(tmp_path)])


def test_rescore_names_a_bad_file_goes_on_with_the_others_and_keeps_a_null_reply(tmp_path, capsys):
    out = tmp_path / "runs"
    assert _cli(["evaluate", "--scenes", "2", "--questions", "1", "--tasks", "dir", "--out", str(out)]) == 0
    capsys.readouterr()
    first, second = find_evaluations(out)
    broken = json.loads(first.read_text())
    del broken["tasks"]
    first.write_text(json.dumps(broken))
    record = json.loads(second.read_text())
    answer = next(iter(record["tasks"]["dir"].values()))
    answer["reply"] = None
    second.write_text(json.dumps(record))
    assert _cli(["rescore", str(out), "--write"]) == 1
    captured = capsys.readouterr()
    assert f"skipped {first}: missing field `tasks`" in captured.err
    assert "1 stored scenes re-scored; 1 scores changed and written" in captured.out
    stored = next(iter(json.loads(second.read_text())["tasks"]["dir"].values()))
    assert stored["reply"] is None and stored["score"]["value"] == 0
