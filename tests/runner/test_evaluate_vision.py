"""The evaluation in the vision world: pictures in the requests, stored as PNG files, and resumed from them."""

import re

import gymnasium as gym
import numpy as np
import pytest

from theory_of_space.agents.answerers import OracleAnswerer
from theory_of_space.agents.base import IMAGE_PLACEHOLDER
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS
from theory_of_space.env.prompts import CALIBRATION_TEXT, REFERENCE_SHEET_TEXT
from theory_of_space.env.sheets import calibration_image, reference_sheet
from theory_of_space.runner import evaluate as runner
from theory_of_space.runner.episode import run_episode
from theory_of_space.runner.evaluate import (
    EVALUATION_FILE,
    EvaluationSettings,
    SceneEvaluation,
    agent_factory,
    evaluate,
    evaluate_scene,
    explore,
    find_evaluations,
    load_evaluation,
    rescore,
    save_evaluation,
    summary,
)
from theory_of_space.tasks import TASK_IDS
from theory_of_space.tasks.prompts import QUESTION_HEADING
from theory_of_space.world.generate import generate_scene

SIZE = 64
"""Small views keep the vision tests fast; the pictures' content does not matter to the questions."""


class Recording:
    """Wraps an agent: keeps every question request it gets and optionally fails after some."""

    def __init__(self, inner, *, requests, fail_after=None):
        self.inner = inner
        self.name = inner.name
        self.requests = requests
        self.fail_after = fail_after

    def act(self, messages):
        if QUESTION_HEADING in messages[-1].content:
            if self.fail_after is not None and len(self.requests) >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            self.requests.append(list(messages))
        return self.inner.act(messages)


def recording(spec, requests, fail_after=None):
    make = agent_factory(spec)
    return lambda scene, questions: Recording(make(scene, questions), requests=requests, fail_after=fail_after)


def vision(setting, proxy="scout", **kwargs):
    return EvaluationSettings(setting=setting, world="vision", proxy=proxy, image_size=SIZE, **kwargs)


def assert_same_messages(left, right):
    assert [(m.role, m.content) for m in left] == [(m.role, m.content) for m in right]
    for a, b in zip(left, right):
        assert len(a.images) == len(b.images)
        for x, y in zip(a.images, b.images):
            assert x.dtype == y.dtype == np.uint8 and np.array_equal(x, y)


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(seed) for seed in range(2)]


@pytest.mark.parametrize("proxy", ["scout", "strategist"])
def test_passive_prompt_has_the_reference_pictures_then_the_proxy_views(scenes, proxy):
    scene = scenes[0]
    conversation, metrics = explore(scene, OracleAnswerer(scene), vision("passive", proxy))
    assert [m.role for m in conversation] == ["system", "user"] and not conversation[0].images
    prompt = conversation[1]
    assert prompt.content.count(IMAGE_PLACEHOLDER) == len(prompt.images)
    history = prompt.content.split("## Exploration History\n", 1)[1]
    assert history.count("You observe: <image>.") == len(prompt.images) - 2 > 0
    # the two reference pictures come first, announced before the history
    assert prompt.content.index(CALIBRATION_TEXT) < prompt.content.index(REFERENCE_SHEET_TEXT)
    assert prompt.content.index(REFERENCE_SHEET_TEXT) < prompt.content.index("## Exploration History")
    assert np.array_equal(prompt.images[0], calibration_image(SIZE))
    assert np.array_equal(prompt.images[1], reference_sheet(scene))
    # then the views, in the order the proxy saw them
    env = gym.make("TheoryOfSpace/Explore-Vision-v0", max_exp_steps=PROXY_MAX_EXP_STEPS, reward="none", image_size=SIZE)
    episode = run_episode(env, make_agent(proxy, scene=scene), options={"scene": scene})
    views = [obs_image for turn in episode.turns for obs_image in turn.info["images"]]
    assert len(views) == len(prompt.images) - 2
    assert all(np.array_equal(a, b) for a, b in zip(prompt.images[2:], views))
    assert metrics == episode.metrics


@pytest.mark.parametrize(("setting", "proxy"), [("active", "scout"), ("passive", "scout"), ("passive", "strategist")])
def test_the_oracle_scores_one_on_the_text_questions_with_pictures_in_every_request(scenes, setting, proxy):
    requests = []
    runs = evaluate(scenes, recording("oracle", requests), vision(setting, proxy), agent_name="oracle")
    values = summary(runs)
    assert all(values[t] == 1.0 for t in TASK_IDS) and values["overall"] == 1.0
    assert len(requests) == sum(len(r.answers) for r in runs) == 54
    for request in requests:
        assert request[1].images and request[1].images[0].shape == (SIZE, SIZE, 3)
        assert "## Question" in request[-1].content
    if setting == "active":
        assert values["avg_step"] == 1.0 and runs[0].conversation[1].content.startswith("# Spatial Exploration Task")
    else:
        assert len(runs[0].conversation) == 2 and runs[0].conversation[1].content.startswith("# Spatial Reasoning")


@pytest.mark.parametrize(("setting", "agent"), [("passive", "oracle"), ("active", "belief")])
def test_a_resumed_run_rebuilds_the_same_requests_from_stored_pictures(scenes, tmp_path, monkeypatch, setting, agent):
    settings = vision(setting, tasks=("dir", "alloc"), n_per_task=2)
    scene = scenes[0]
    expected = []
    fresh = evaluate([scene], recording(agent, expected), settings, agent_name=agent)[0]
    assert len(expected) == 4 and sum(len(m.images) for m in fresh.conversation) > 2
    with pytest.raises(KeyboardInterrupt):
        evaluate([scene], recording(agent, [], fail_after=2), settings, agent_name=agent, out_dir=tmp_path)
    path = find_evaluations(tmp_path)[0]
    assert path.name == EVALUATION_FILE and len(load_evaluation(path, images=False).answers) == 2

    stored = load_evaluation(path)
    assert stored.has_images
    assert_same_messages(stored.conversation, fresh.conversation)
    files = sorted(name for names in stored.image_files for name in names)
    assert files == sorted(f"images/{p.name}" for p in (path.parent / "images").iterdir())

    def no_exploration(*args, **kwargs):
        raise AssertionError("a resumed run must not explore again")

    monkeypatch.setattr(runner, "explore", no_exploration)
    requests = []
    resumed = evaluate([scene], recording(agent, requests), settings, agent_name=agent, out_dir=tmp_path)[0]
    assert len(requests) == 2 and [a.reply for a in resumed.answers] == [a.reply for a in fresh.answers]
    for request, reference in zip(requests, expected[2:]):
        assert_same_messages(request, reference)


def test_pictures_are_stored_byte_identically_and_rescore_needs_none(scenes, tmp_path):
    settings = vision("passive", tasks=("dir",), n_per_task=1)
    for out in ("a", "b"):
        evaluate(scenes[:1], agent_factory("oracle"), settings, agent_name="oracle", out_dir=tmp_path / out)
    first, second = (find_evaluations(tmp_path / out)[0] for out in ("a", "b"))
    assert first.parent.parts[-4:] == ("vision", "passive", "think", "scout")
    pictures = sorted((first.parent / "images").iterdir())
    assert pictures[0].name == "message_001_image_00.png"
    assert all(p.read_bytes() == (second.parent / "images" / p.name).read_bytes() for p in pictures)

    for picture in pictures:
        picture.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape("message_001_image_00.png")):
        load_evaluation(first)
    stored = load_evaluation(first, images=False)
    assert not stored.has_images and rescore(stored).answers[0].score.value == 1.0
    save_evaluation(rescore(stored), first, images=False)
    assert load_evaluation(first, images=False).image_files == stored.image_files
    with pytest.raises(ValueError, match="images=False"):
        save_evaluation(stored, first)
    with pytest.raises(ValueError, match="without its pictures"):
        evaluate_scene(scenes[0], agent_factory("oracle"), settings, stored=stored)


def test_version_1_text_records_still_load(scenes):
    run = evaluate(scenes[:1], agent_factory("oracle"), EvaluationSettings(tasks=("dir",)), agent_name="oracle")[0]
    old = run.to_dict()
    old["version"] = 1
    old["settings"] = {k: v for k, v in old["settings"].items() if k not in ("world", "image_size")}
    old["conversation"] = [{"role": m["role"], "content": m["content"]} for m in old["conversation"]]
    loaded = SceneEvaluation.from_dict(old)
    assert loaded.settings.world == "text" and loaded.to_dict() == run.to_dict()
