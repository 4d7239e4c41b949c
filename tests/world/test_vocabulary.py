"""Object names as every text a model reads shows them, and both spellings accepted back."""

from __future__ import annotations

import gymnasium as gym
import pytest

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.base import Message
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS, scout_agent
from theory_of_space.env.actions import JumpTo, Rotate
from theory_of_space.runner.episode import run_episode
from theory_of_space.tasks import generate_questions
from theory_of_space.tasks.parsing import parse_moves
from theory_of_space.tasks.scoring import score_order
from theory_of_space.world.tos_format import load_tos_scene
from theory_of_space.world.vocabulary import display_name

# The published files spell these two with underscores; the published benchmark shows spaces.
UNDERSCORED = {"tos:run02": "fire_extinguisher", "tos:run04": "green_chair"}


@pytest.mark.parametrize(("raw", "shown"), [("fire_extinguisher", "fire extinguisher"), ("a__b  c", "a b c")])
def test_display_name_reads_underscores_as_spaces(raw, shown):
    assert display_name(raw) == shown


@pytest.mark.parametrize(("scene_name", "raw"), sorted(UNDERSCORED.items()))
def test_every_text_of_an_episode_shows_the_name_with_spaces(scene_name, raw):
    scene = load_tos_scene(scene_name)
    shown = display_name(raw)
    assert shown in scene.object_list_text
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=PROXY_MAX_EXP_STEPS)
    result = run_episode(env, scout_agent(scene), options={"scene": scene})
    texts = [message.content for message in result.messages]
    assert any(shown in text for text in texts[2:]), "the scout's observations never showed the object"
    assert not any(raw in text for text in texts)
    questions = generate_questions(scene).questions
    assert any(shown in q.text for q in questions)
    assert not any(raw in q.text for q in questions)


@pytest.mark.parametrize("spelling", ["fire_extinguisher", "fire extinguisher", "Fire_Extinguisher"])
def test_actions_accept_both_spellings(spelling):
    scene = load_tos_scene("tos:run02")
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=PROXY_MAX_EXP_STEPS).unwrapped
    env.reset(options={"scene": scene})
    scout = scout_agent(scene)
    messages = [Message("system", "")]
    while not env.session.coverage.has_observed("fire extinguisher"):
        reply = scout.act(messages).text
        messages.append(Message("assistant", reply))
        env.step(reply)
    _, _, _, _, info = env.step(f"Actions: [JumpTo({spelling}), Observe()]")
    assert info["valid"] and info["action_results"][0]["ok"], info["action_results"]
    assert info["message_parts"]["result"].startswith("You jumped to fire extinguisher")


@pytest.mark.parametrize("spelling", ["fire_extinguisher", "fire extinguisher", "Fire_Extinguisher"])
def test_answers_accept_both_spellings(spelling):
    order = ["chair", display_name("fire_extinguisher"), "table"]
    assert score_order(f"chair, {spelling}, table", order).value == 1.0
    moves = parse_moves(f"[JumpTo({spelling}), Rotate(90)]").moves
    assert moves == (JumpTo(spelling), Rotate(90))
    assert load_tos_scene("tos:run02").item(moves[0].target).name == "fire extinguisher"
