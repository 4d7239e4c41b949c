"""ExplorationToolEnv: TRL's environment_factory contract, checked without running a trainer."""

import inspect

import pytest

from theory_of_space.agents.scripted import scout_agent
from theory_of_space.env.actions import parse_actions, split_reply
from theory_of_space.env.tools import tool_specs
from theory_of_space.integrations.training import TrainingEpisode
from theory_of_space.integrations.trl import ExplorationToolEnv
from theory_of_space.tasks.suite import generate_questions


def _tools(env):
    """The methods TRL exposes as tools: public functions of the class other than reset and get_reward."""
    return {
        name: getattr(env, name)
        for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    }


def test_the_class_meets_trls_contract_and_its_tools_match_the_action_schemas():
    transformers = pytest.importorskip("transformers")
    env = ExplorationToolEnv()
    assert callable(env.reset) and callable(env.get_reward)
    tools = _tools(env)
    assert sorted(tools) == ["Answer", "JumpTo", "Observe", "Query", "Rotate", "Term"]
    specs = {spec["name"]: spec["parameters"] for spec in tool_specs()}
    for name, method in tools.items():
        schema = transformers.utils.get_json_schema(method)["function"]
        assert schema["name"] == name and schema["description"]
        if name in specs:
            parameters = schema["parameters"]
            assert parameters["properties"].keys() == specs[name]["properties"].keys()
            for key, prop in parameters["properties"].items():
                assert prop["type"] == specs[name]["properties"][key]["type"]


def test_reset_returns_the_prompt_of_the_rows_scene():
    env = ExplorationToolEnv(env_options={"n_rooms": 2})
    prompt = env.reset(seed=3, prompt=[{"role": "user", "content": ""}], n_rooms=3)
    assert "calling the action tools" in prompt and "# Spatial Exploration Task" in prompt
    assert len(env.episode.scene.room_ids) == 3
    assert env.get_reward() == 0.0


def test_motions_are_held_until_the_final_call_and_follow_the_text_rules():
    env = ExplorationToolEnv(reward="coverage")
    env.reset(seed=0)
    assert env.Rotate(degrees=90).startswith("Held: Rotate(90)")
    assert env.turns == 0
    seen = env.Observe()
    assert seen.startswith("You rotated clockwise 90°. You observe:")
    assert env.turns == 1 and env.get_reward() > 0
    env.Rotate(degrees=90)
    invalid = env.Term()  # Term after a held motion breaks the "Term alone" rule: an invalid turn
    assert invalid.startswith("Your reply could not be executed: Term must be the only action")
    assert env.episode.exploration_info["invalid_reason"] == "term_not_alone"
    assert env.Term() == "Exploration terminated."
    with pytest.raises(RuntimeError, match="episode is over"):
        env.Observe()
    env.reset(seed=0)  # a reset forgets held motions and the finished episode
    assert env.Observe().startswith("You observe:")


def test_scout_through_the_tools_earns_what_it_earns_through_text():
    scene_row = {"seed": 6, "n_rooms": 3}
    text_episode = TrainingEpisode(reward={"info_gain": 1.0, "coverage": 1.0})
    text_episode.reset(**scene_row)
    env = ExplorationToolEnv(reward={"info_gain": 1.0, "coverage": 1.0})
    env.reset(**scene_row)
    agent = scout_agent(text_episode.scene)
    done = False
    while not done:
        reply = agent.act([]).text
        done = text_episode.step(reply).done
        *motions, final = parse_actions(split_reply(reply)[1]).actions
        for motion in motions:
            name = type(motion).__name__
            getattr(env, name)(**({"degrees": motion.degrees} if name == "Rotate" else {"target": motion.target}))
        getattr(env, type(final).__name__)(**({"target": final.target} if hasattr(final, "target") else {}))
    assert env.get_reward() == pytest.approx(text_episode.reward())
    assert env.get_reward() > 0
    assert env.episode.phase == "done"


def test_answer_replies_to_the_questions_after_the_exploration():
    env = ExplorationToolEnv(reward="task_accuracy", tasks=["dir"], env_options={"n_rooms": 2})
    env.reset(seed=2)
    with pytest.raises(RuntimeError, match="no question"):
        env.Answer(answer="front")
    message = env.Term()
    (question,) = generate_questions(env.episode.scene, n_per_task=1, tasks=["dir"]).questions
    assert question.text in message
    with pytest.raises(RuntimeError, match="Answer tool"):
        env.Observe()
    env.Answer(answer=question.answer)
    assert env.get_reward() == 1.0 and env.episode.phase == "done"
