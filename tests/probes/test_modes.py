"""The cognitive-map evaluation modes: requests, scoring of the answer part, and the runner around them."""

from __future__ import annotations

import json

import pytest

from theory_of_space.agents.answerers import BeliefAnswerer
from theory_of_space.agents.base import AgentReply, CallRecord, Message
from theory_of_space.probes.cogmap import parse_cogmap, true_cogmap
from theory_of_space.probes.modes import (
    MAP_HEADING,
    PROMPT_COGMAP_INSTRUCTION,
    gt_cogmap_json,
    mode_messages,
    model_cogmap_json,
    scored_reply,
    written_cogmap,
)
from theory_of_space.runner.evaluate import EvaluationSettings, SceneEvaluation, evaluate, rescore, summary
from theory_of_space.tasks.prompts import QUESTION_HEADING
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing
from theory_of_space.world.scene import Pose

REQUEST = [Message("system", "rules"), Message("user", f"You observe: x.\n\n{QUESTION_HEADING}\nWhere?\n\nformat")]


def test_default_mode_leaves_the_request_alone():
    assert mode_messages(REQUEST, "default") == REQUEST
    with pytest.raises(ValueError, match="mode"):
        mode_messages(REQUEST, "maps")


def test_map_is_placed_before_the_question():
    messages = mode_messages(REQUEST, "use_gt_cogmap", cogmap='{"lamp": {"position": [0, 4]}}')
    content = messages[-1].content
    assert content.index(MAP_HEADING) < content.index(QUESTION_HEADING)
    assert content.startswith("You observe: x.\n\n" + MAP_HEADING + '\n{"lamp"')
    assert messages[:-1] == REQUEST[:-1]
    with pytest.raises(ValueError, match="cogmap"):
        mode_messages(REQUEST, "use_model_cogmap")


def test_prompt_cogmap_asks_for_both_parts_and_scores_the_answer_part():
    assert mode_messages(REQUEST, "prompt_cogmap")[-1].content.endswith(PROMPT_COGMAP_INSTRUCTION)
    reply = 'THINK: hm\nFINAL ANSWER: <cogmap>{"lamp": {"position": [0, 4]}}</cogmap><answer> north, near </answer>'
    assert scored_reply(reply, "prompt_cogmap") == "FINAL ANSWER: north, near"
    assert scored_reply(reply, "default") == reply
    assert scored_reply("FINAL ANSWER: north", "prompt_cogmap") == "FINAL ANSWER: north"
    assert parse_cogmap(written_cogmap(reply), "global").entries["lamp"].position == (0.0, 4.0)


def test_gt_map_has_every_item_and_the_agent(example_scene):
    pose = Pose((3, 2), Facing.WEST)
    data = json.loads(gt_cogmap_json(example_scene, pose))
    assert len(data) == 15 and data["agent"] == {"position": [2, -1], "facing": "west"}
    assert data["lamp"] == {"position": [0, 4]} and "facing" not in data["green door"]
    parsed = parse_cogmap(json.dumps(data), "global")
    assert parsed.entries == true_cogmap(example_scene, "global", pose=pose)


def test_model_map_is_rewritten_or_empty(example_scene):
    reply = 'FINAL ANSWER: {"Green_Door": {"position": ["6", 3]}, "lamp": {"position": [0]}}'
    assert json.loads(model_cogmap_json(example_scene, reply)) == {"green door": {"position": [6, 3]}}
    assert model_cogmap_json(example_scene, "no map") == "{}"


class RecordingBelief(BeliefAnswerer):
    """The belief answerer, keeping every request it gets."""

    def __init__(self, scene, questions, log):
        super().__init__(scene, questions)
        self.log = log

    def act(self, messages):
        self.log.append(messages[-1].content)
        return super().act(messages)


@pytest.mark.parametrize("mode", ["prompt_cogmap", "use_gt_cogmap", "use_model_cogmap"])
def test_runner_modes(mode, tmp_path):
    scene = generate_scene(3)
    log: list[str] = []
    settings = EvaluationSettings(mode=mode, tasks=("dir", "alloc"), n_per_task=2)
    runs = evaluate([scene], lambda s, q: RecordingBelief(s, q, log), settings, agent_name="belief", out_dir=tmp_path)
    (run,) = runs
    questions = [text for text in log if QUESTION_HEADING in text]
    assert len(questions) == 4
    if mode == "prompt_cogmap":
        assert all(text.endswith(PROMPT_COGMAP_INSTRUCTION) for text in questions)
        assert run.cogmap is None
    else:
        assert all(MAP_HEADING in text for text in questions)
        assert run.cogmap is not None and f"{MAP_HEADING}\n{run.cogmap}" in questions[0]
        if mode == "use_gt_cogmap":
            assert len(json.loads(run.cogmap)) == len(scene.items) + 1 and run.cogmap_reply is None
        else:
            # one global probe, answered by the belief map writer, before the questions
            assert run.cogmap_reply is not None and "FINAL ANSWER:" in run.cogmap_reply
            assert json.loads(run.cogmap) == json.loads(model_cogmap_json(scene, run.cogmap_reply))
    stored = SceneEvaluation.from_dict(json.loads(json.dumps(run.to_dict())))
    assert stored.settings.mode == mode and stored.cogmap == run.cogmap
    assert summary([rescore(stored)]) == summary(runs)


def test_rescore_scores_the_answer_part_in_prompt_cogmap_mode():
    scene = generate_scene(1)

    class Tagged(BeliefAnswerer):
        def act(self, messages):
            reply = super().act(messages)
            if QUESTION_HEADING not in messages[-1].content:
                return reply
            answer = reply.text.rsplit("FINAL ANSWER:", 1)[1].strip()
            return AgentReply(f"FINAL ANSWER: <cogmap>{{}}</cogmap><answer>{answer}</answer>", CallRecord("t"))

    settings = EvaluationSettings(mode="prompt_cogmap", tasks=("dir",), n_per_task=2)
    (run,) = evaluate([scene], lambda s, q: Tagged(s, q), settings, agent_name="t")
    plain = evaluate(
        [scene], lambda s, q: BeliefAnswerer(s, q), EvaluationSettings(tasks=("dir",), n_per_task=2), agent_name="b"
    )
    assert [a.score.value for a in run.answers] == [a.score.value for a in plain[0].answers]
    assert [a.score for a in rescore(run).answers] == [a.score for a in run.answers]
