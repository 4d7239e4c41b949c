"""The training episode: scenes from dataset columns, the question phase, and a reward that cannot be gamed."""

import json

import pytest

from theory_of_space.agents.scripted import scout_agent, strategist_agent
from theory_of_space.integrations.training import TrainingEpisode, reward_weights, scene_from_columns
from theory_of_space.probes.cogmap import map_prompt, true_cogmap
from theory_of_space.tasks.suite import generate_questions
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.scene import Pose, scene_seed

REWARDS = ["info_gain", "coverage", {"info_gain": 1.0, "coverage": 0.5}]


def _play(episode: TrainingEpisode, replies) -> float:
    """Play replies (a function of the turn index) until the episode ends; returns the summed step rewards."""
    total, index, done = 0.0, 0, False
    while not done:
        step = episode.step(replies(index))
        total += step.reward
        done = step.done
        index += 1
    return total


def _scripted(episode: TrainingEpisode, make_agent) -> float:
    agent = make_agent(episode.scene)
    return _play(episode, lambda _: agent.act([]).text)


GAMING = {
    "invalid replies": lambda _: "I would like to look around, please.",
    "the same Observe again and again": lambda _: "FINAL ANSWER: Actions: [Observe()]",
    "Term at step 1": lambda _: "FINAL ANSWER: Actions: [Term()]",
    "rotate in place and observe the same four views": lambda i: "FINAL ANSWER: Actions: [Rotate(90), Observe()]",
}


@pytest.mark.parametrize("reward", REWARDS, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_gaming_replies_never_earn_more_than_a_scripted_explorer(seed, reward):
    episode = TrainingEpisode(reward=reward, env_options={"n_rooms": 3, "max_exp_steps": 20})
    episode.reset(seed=seed)
    explorer = _scripted(episode, scout_agent)
    assert explorer == pytest.approx(episode.reward())
    assert explorer > 0
    for name, replies in GAMING.items():
        episode.reset(seed=seed)
        earned = _play(episode, replies)
        assert earned == pytest.approx(episode.reward())  # step rewards add up to the episode's reward
        assert earned <= explorer + 1e-9, name
    episode.reset(seed=seed)
    assert _play(episode, GAMING["invalid replies"]) == 0.0
    episode.reset(seed=seed)
    assert _play(episode, GAMING["Term at step 1"]) == 0.0


def test_repeating_a_view_adds_nothing_after_the_first_time():
    episode = TrainingEpisode(reward={"info_gain": 1.0, "coverage": 1.0})
    episode.reset(seed=3)
    first = episode.step("FINAL ANSWER: Actions: [Rotate(90), Observe()]").reward
    again = [episode.step("FINAL ANSWER: Actions: [Observe()]").reward for _ in range(5)]
    assert first > 0
    assert again == [0.0] * 5


def test_a_scripted_strategist_and_scout_are_rewarded_for_exploring():
    episode = TrainingEpisode(reward="coverage", env_options={"n_rooms": 2})
    episode.reset(seed=4)
    assert _scripted(episode, scout_agent) == pytest.approx(1.0)
    episode.reset(seed=4)
    assert _scripted(episode, strategist_agent) == pytest.approx(1.0)


def test_scenes_come_from_the_dataset_columns(tmp_path):
    scene = scene_from_columns({"seed": 5, "n_rooms": 2, "prompt": "ignored"})
    assert scene == generate_scene(5, n_rooms=2)
    assert scene_from_columns({"seed": 5}, defaults={"n_rooms": 2}) == scene
    assert len(scene_from_columns({"seed": 5, "n_rooms": 3}).room_ids) == 3
    with pytest.raises(ValueError, match="`seed`"):
        scene_from_columns({"prompt": "no scene"})
    with pytest.raises(ValueError, match="both"):
        scene_from_columns({"seed": 1, "scene_folder": str(tmp_path)})
    episode = TrainingEpisode(env_options={"n_rooms": 2})
    episode.reset(seed=9)
    assert scene_seed(episode.scene) == 9 and len(episode.scene.room_ids) == 2


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        ("fun", "reward components"),
        ({"info_gain": -1.0}, "non-negative"),
        ({"coverage": float("nan")}, "non-negative"),
        ({"coverage": 0.0}, "at least one positive"),
    ],
)
def test_bad_reward_settings_name_the_problem(reward, message):
    with pytest.raises(ValueError, match=message):
        reward_weights(reward)


def test_task_accuracy_asks_the_questions_after_the_exploration_and_scores_them():
    episode = TrainingEpisode(reward="task_accuracy", tasks=["dir", "alloc"], env_options={"n_rooms": 2})
    episode.reset(seed=2)
    step = episode.step("FINAL ANSWER: Actions: [Term()]")
    assert not step.done and episode.phase == "questions"
    questions = list(generate_questions(episode.scene, n_per_task=1, tasks=["dir", "alloc"]).questions)
    assert [q.qid for q in episode.questions] == [q.qid for q in questions]
    assert questions[0].text in step.message
    # the right answer to the first question, a wrong one to the second
    first = episode.step(f"THINK: known. FINAL ANSWER: {questions[0].answer}")
    assert first.reward == pytest.approx(1 / len(questions)) and questions[1].text in first.message
    last = episode.step("FINAL ANSWER: no idea")
    assert last.done and last.reward == 0.0
    assert episode.reward() == pytest.approx(1 / len(questions))
    with pytest.raises(RuntimeError, match="reset"):
        episode.step("FINAL ANSWER: more")


def test_unknown_tasks_fail_at_construction():
    with pytest.raises(ValueError, match="`tasks`"):
        TrainingEpisode(reward="task_accuracy", tasks=["rot"])


def test_map_correctness_asks_the_global_map_after_the_exploration_then_the_questions():
    episode = TrainingEpisode(
        reward={"map_correctness": 1.0, "task_accuracy": 1.0}, tasks=["dir"], env_options={"n_rooms": 2}
    )
    episode.reset(seed=2)
    step = episode.step("FINAL ANSWER: Actions: [Observe()]")
    step = episode.step("FINAL ANSWER: Actions: [Term()]")
    assert episode.phase == "map" and map_prompt("global") in step.message and step.reward == 0.0
    session = episode.env.session
    truth = true_cogmap(episode.scene, "global", pose=Pose(session.cell, session.facing))
    perfect = {
        name: {"position": list(entry.position), **({} if entry.facing is None else {"facing": entry.facing.name})}
        for name, entry in truth.items()
    }
    step = episode.step(f"FINAL ANSWER: {json.dumps(perfect)}")
    assert step.reward == pytest.approx(1.0) and episode.components["map_correctness"] == pytest.approx(1.0)
    assert step.info["map_valid"] and episode.phase == "questions"  # the questions follow the map


def test_a_reply_with_no_map_scores_zero_and_a_partial_map_scores_between():
    scores = []
    for reply in ("FINAL ANSWER: no map", 'FINAL ANSWER: {"agent": {"position": [0, 0], "facing": "north"}}'):
        episode = TrainingEpisode(reward="map_correctness", env_options={"n_rooms": 2})
        episode.reset(seed=2)
        episode.step("FINAL ANSWER: Actions: [Term()]")
        last = episode.step(reply)
        assert last.done
        scores.append(episode.reward())
    assert scores[0] == 0.0 and 0.0 < scores[1] < 1.0
