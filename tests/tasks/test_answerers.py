"""The oracle and belief answerers, driven through the agent protocol exactly like a model."""

import gymnasium as gym
import numpy as np
import pytest

from theory_of_space.agents.answerers import (
    UNKNOWN,
    BeliefAnswerer,
    OracleAnswerer,
    conversation_turns,
    replay_exploration,
)
from theory_of_space.agents.base import Agent, Message
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS, strategist_agent
from theory_of_space.env.actions import ParsedTurn
from theory_of_space.env.prompts import PromptOptions, initial_message, system_message
from theory_of_space.runner.episode import exploration_history, run_episode
from theory_of_space.tasks import (
    TASKS,
    Question,
    extract_answer,
    generate_questions,
    question_messages,
    score_question,
)
from theory_of_space.tasks.localisation import origin_cell
from theory_of_space.world.scene import Door

CONVERSATION = [Message("system", "sys"), Message("user", "You observe: nothing.")]


def test_answerers_implement_the_agent_protocol(scene0):
    assert isinstance(OracleAnswerer(scene0), Agent)
    assert isinstance(BeliefAnswerer(scene0), Agent)


def test_oracle_scores_one_on_every_question(generated_scenes, example_scenes):
    for scene in [*example_scenes.values(), *generated_scenes]:
        suite = generate_questions(scene)
        oracle = OracleAnswerer(scene, suite.questions)
        for question in suite.questions:
            reply = oracle.act(question_messages(CONVERSATION, question))
            score = score_question(question, reply.text, scene)
            assert score.value == 1.0, (scene.scene_id, question.qid, reply.text, score.explanation)


def test_oracle_ends_exploration_at_once(scene0):
    reply = OracleAnswerer(scene0).act(CONVERSATION)
    assert extract_answer(reply.text) == "Actions: [Term()]"


def _passive_conversation(scene, *, query_enabled):
    env = gym.make(
        "TheoryOfSpace/Explore-v0", max_exp_steps=PROXY_MAX_EXP_STEPS, reward="none", query_enabled=query_enabled
    )
    result = run_episode(env, strategist_agent(scene, query_enabled=query_enabled), options={"scene": scene})
    options = PromptOptions(query_enabled=query_enabled, active=False)
    prompt = initial_message(scene, options, history=exploration_history(result))
    return result, [Message("system", system_message(options)), Message("user", prompt)]


@pytest.mark.parametrize("query_enabled", [True, False])
def test_history_replay_gives_the_proxys_knowledge(example_scene, query_enabled):
    result, conversation = _passive_conversation(example_scene, query_enabled=query_enabled)
    turns = conversation_turns(conversation, query_enabled=query_enabled)
    assert all(isinstance(t, ParsedTurn) for t in turns)
    assert len(turns) == sum(t.valid for t in result.turns)
    beliefs = replay_exploration(example_scene, turns, query_enabled=query_enabled)
    proxy_solver = result.session.knowledge()
    for item in example_scene.items:
        assert beliefs.solver.candidates(item.name) == proxy_solver.candidates(item.name)


def test_belief_label_answers_are_right_whenever_given(generated_scenes):
    answered = partial = 0
    for scene in generated_scenes[:8]:
        _, conversation = _passive_conversation(scene, query_enabled=False)
        suite = generate_questions(scene)
        belief = BeliefAnswerer(scene, suite.questions, query_enabled=False)
        for question in suite.questions:
            if question.task in ("alloc", "view2loc"):
                continue  # coordinates are best guesses, not certainties
            reply = belief.act(question_messages(conversation, question))
            answer, score = extract_answer(reply.text), score_question(question, reply.text, scene)
            if question.task in ("dir", "persp", "loc2view", "act2view"):
                given = [part for part in answer.split(", ") if part != UNKNOWN]
                partial += 0 < len(given) < 2
                assert score.value == 0.5 * len(given), (question.qid, answer, score.explanation)
            elif answer == UNKNOWN:
                assert score.value == 0.0
            else:
                assert score.value == 1.0, (question.qid, answer, score.explanation)
            answered += answer != UNKNOWN
    assert answered > 0 and partial > 0


def test_belief_after_a_full_strategist_run_with_query_knows_every_position(example_scene):
    _, conversation = _passive_conversation(example_scene, query_enabled=True)
    suite = generate_questions(example_scene)
    belief = BeliefAnswerer(example_scene, suite.questions)
    for question in suite.questions:
        if question.task == "view2loc":
            continue  # the observations need not pin the pose to one cell
        reply = belief.act(question_messages(conversation, question))
        assert score_question(question, reply.text, example_scene).value == 1.0


def test_belief_without_exploration_knows_nothing(example_scene):
    suite = generate_questions(example_scene)
    belief = BeliefAnswerer(example_scene, suite.questions)
    for question in suite.questions:
        answer = extract_answer(belief.act(question_messages(CONVERSATION, question)).text)
        if question.task in ("alloc", "view2loc"):
            assert score_question(question, answer, example_scene).value < 1.0
        else:
            assert set(answer.split(", ")) == {UNKNOWN}


def test_belief_explores_as_strategist(example_scene):
    belief = BeliefAnswerer(example_scene)
    strategist = strategist_agent(example_scene)
    for _ in range(3):
        assert extract_answer(belief.act(CONVERSATION).text) == extract_answer(strategist.act(CONVERSATION).text)


def test_belief_location_keeps_the_true_cell_when_a_door_is_listed(example_scenes):
    checked = 0
    for scene in example_scenes.values():
        _, conversation = _passive_conversation(scene, query_enabled=True)
        answerer = BeliefAnswerer(scene)
        beliefs = answerer.beliefs(conversation)
        for seed in range(30):
            draft = TASKS["view2loc"].generate(scene, np.random.default_rng(seed))
            if not any(isinstance(scene.item(v["name"]), Door) for v in draft.data["observations"]):
                continue
            question = Question("view2loc", "view2loc_0", draft.text, draft.answer, draft.data)
            origin = origin_cell(scene, draft.data["origin"])
            cell = (origin[0] + draft.data["position"][0], origin[1] + draft.data["position"][1])
            assert cell in answerer.locate_candidates(question, beliefs), (scene.source, draft.data)
            checked += 1
    assert checked > 10
