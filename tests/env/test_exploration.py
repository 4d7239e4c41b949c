import json
import pickle
import re

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space._registration import ENV_IDS
from theory_of_space.agents.scripted import RandomAgent, scout_agent
from theory_of_space.env.actions import JumpTo, Observe, Rotate
from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.world.generate import generate_scene

ALL_IDS = sorted(ENV_IDS)
INFO_KEYS = {
    "phase",
    "phase_end",
    "valid",
    "invalid_reason",
    "budget_left",
    "steps",
    "invalid_steps",
    "action_cost",
    "visible",
    "observed",
    "node_coverage",
    "edge_coverage",
    "agent",
    "action_results",
    "step_cost",
    "newly_observed",
}


def render_modes(env_id):
    return gym.make(env_id).metadata["render_modes"]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_for_every_render_mode(env_id):
    for mode in [None, *render_modes(env_id)]:
        env = gym.make(env_id, render_mode=mode)
        check_env(env.unwrapped, skip_render_check=False)
        env.close()
        env.close()  # closing twice is harmless


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_spec_serialises_to_json(env_id):
    env = gym.make(env_id, n_rooms=2, max_exp_steps=7)
    assert json.loads(env.spec.to_json())["kwargs"]["max_exp_steps"] == 7


def rollout(env, seed, n=20):
    obs, info = env.reset(seed=seed)
    agent = RandomAgent(env.unwrapped.scene, seed=seed)
    texts = [obs["text"]]
    for _ in range(n):
        obs, reward, terminated, truncated, info = env.step(agent.act([]).text)
        texts.append((obs["text"], reward, terminated, truncated, info["agent"]))
        if terminated or truncated:
            break
    return texts


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_transcript(env_id):
    assert rollout(gym.make(env_id), 3) == rollout(gym.make(env_id), 3)
    assert rollout(gym.make(env_id), 3)[0] != rollout(gym.make(env_id), 4)[0]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_env_pickles_mid_episode(env_id):
    env = gym.make(env_id)
    env.reset(seed=1)
    env.step("Actions: [Rotate(90), Observe()]")
    clone = pickle.loads(pickle.dumps(env))
    step = "Actions: [Rotate(90), Observe()]"
    first, second = env.step(step), clone.step(step)
    assert first[0]["text"] == second[0]["text"] and first[1:4] == second[1:4]


def test_sync_and_async_vector_envs_give_identical_text():
    sync = gym.make_vec("TheoryOfSpace/Explore-v0", num_envs=2, vectorization_mode="sync")
    async_ = gym.make_vec(
        "TheoryOfSpace/Explore-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"shared_memory": False}
    )
    try:
        obs_s, _ = sync.reset(seed=[5, 6])
        obs_a, _ = async_.reset(seed=[5, 6])
        assert obs_s["text"] == obs_a["text"]
        assert obs_s["text"][0] != obs_s["text"][1]
        for reply in ["Actions: [Observe()]", "Actions: [Rotate(90), Observe()]", "no idea"]:
            obs_s, r_s, *_ = sync.step([reply, reply])
            obs_a, r_a, *_ = async_.step([reply, reply])
            assert obs_s["text"] == obs_a["text"]
            assert list(r_s) == list(r_a)
    finally:
        sync.close()
        async_.close()


def test_first_observation_is_the_task_prompt_with_the_scene_lists():
    env = gym.make("TheoryOfSpace/Explore-v0")
    obs, info = env.reset(seed=0)
    scene = env.unwrapped.scene
    assert obs["text"].startswith("# Spatial Exploration Task")
    assert f"Objects: {scene.object_list_text}" in obs["text"]
    assert "Doors: " + ", ".join(d.name for d in scene.doors) in obs["text"]
    assert "at most 20 exploration steps" in obs["text"]
    assert obs["text"].endswith("FINAL ANSWER:\nActions: [ ... ]")
    assert "THINK:" in info["system_prompt"] and info["scene_id"] == scene.scene_id
    no_think = gym.make("TheoryOfSpace/Explore-v0", think=False, query_enabled=False).reset(seed=0)[0]["text"]
    assert "THINK:" not in no_think and "Query(" not in no_think


def test_every_step_reports_the_documented_info():
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=3)
    env.reset(seed=2)
    _, _, _, _, info = env.step("THINK: look\nFINAL ANSWER: Actions: [Observe()]")
    assert set(info) >= INFO_KEYS
    assert info["valid"] and info["step_cost"] == 1 and info["budget_left"] == 2
    assert info["newly_observed"] == info["visible"] == info["observed"]
    assert 0 < info["information_gain"] <= 1


def test_invalid_replies_use_budget_and_the_last_one_truncates():
    env = gym.make("TheoryOfSpace/Explore-v0", max_exp_steps=3)
    env.reset(seed=0)
    for _i in range(3):
        obs, reward, terminated, truncated, info = env.step("I think I will look around")
        assert not info["valid"] and info["invalid_reason"] == "no_action_list" and reward == 0.0
        assert "Actions: [ <M>* <F> ]" in obs["text"]
    assert truncated and not terminated
    assert info["phase_end"] == "budget" and info["invalid_steps"] == 3 and info["steps"] == 0
    assert "No exploration steps are left." in obs["text"]
    assert info["metrics"]["budget_used"] == 3
    with pytest.raises(RuntimeError, match="reset"):
        env.step("Actions: [Observe()]")


def test_term_terminates_and_reports_the_final_metrics():
    env = gym.make("TheoryOfSpace/Explore-v0", reward="none")
    env.reset(seed=0)
    env.step("Actions: [Observe()]")
    obs, _reward, terminated, truncated, info = env.step("Actions: [Term()]")
    assert terminated and not truncated and obs["text"] == "Exploration terminated."
    assert info["phase_end"] == "term"
    assert set(info["metrics"]) >= {"node_coverage", "edge_coverage", "information_gain", "steps", "action_cost"}
    assert info["metrics"]["steps"] == 2 and info["metrics"]["steps_excluding_term"] == 1


def test_a_failed_motion_falls_back_to_an_observe(example_scene):
    env = gym.make("TheoryOfSpace/Explore-v0")
    env.reset(options={"scene": example_scene})
    obs, _, _, _, info = env.step("Actions: [JumpTo(vase), Rotate(90), Observe()]")
    assert info["valid"] and info["action_failures"] == 1 and info["step_cost"] == 1
    assert obs["text"].startswith("JumpTo(vase) failed: object not observed yet.")
    assert "You observe:" in obs["text"]
    assert [r["ok"] for r in info["action_results"]] == [False, True]
    _, _, _, _, info = env.step("Actions: [JumpTo(sofa), Observe()]")
    assert info["action_results"][0]["reason"] == "object not found"
    _, _, _, _, info = env.step("Actions: [Rotate(45), Observe()]")
    assert "invalid rotation angle" in info["action_results"][0]["reason"]
    obs, _, _, _, info = env.step("Actions: [Query(vase)]")
    assert info["action_results"][0]["reason"] == "object not observed yet" and info["step_cost"] == 0


def test_jump_needs_visibility_and_keeps_the_facing(example_scene):
    env = gym.make("TheoryOfSpace/Explore-v0")
    env.reset(options={"scene": example_scene})
    env.step("Actions: [Rotate(90), Observe()]")  # sees television, cap, both doors
    _, _, _, _, info = env.step("Actions: [Rotate(180), JumpTo(cap), Observe()]")
    assert info["action_results"][1]["reason"] == "object not visible"
    _obs, _, _, _, info = env.step([Rotate(180), JumpTo("blue_door"), Observe()])
    assert info["agent"]["cell"] == [6, 8] and info["agent"]["facing"] == "east" and info["agent"]["rooms"] == [1, 2]


def test_rewards_add_up_to_the_final_value():
    for kind, key in (("info_gain", "information_gain"), ("coverage", "node_coverage")):
        env = gym.make("TheoryOfSpace/Explore-v0", reward=kind, max_exp_steps=30)
        env.reset(seed=4)
        total, done = 0.0, False
        for actions in scout_agent(env.unwrapped.scene).turns:
            _, reward, terminated, truncated, info = env.step(list(actions))
            total += reward
            done = terminated or truncated
            if done:
                break
        assert done and total == pytest.approx(info["metrics"][key])
    env = gym.make("TheoryOfSpace/Explore-v0", reward="none")
    env.reset(seed=4)
    _, reward, *_, info = env.step([Observe()])
    assert reward == 0.0 and "information_gain" not in info


def test_dataset_source_opens_run_folders(reference_dir):
    env = gym.make("TheoryOfSpace/Explore-v0", scene_source="dataset", data_dir=str(reference_dir))
    _, info = env.reset(seed=2)
    assert info["scene_source"]["folder"] == "run02"
    with pytest.raises(FileNotFoundError, match="run42"):
        env.reset(seed=42)


def test_dataset_source_defaults_to_the_shipped_scenes():
    env = gym.make("TheoryOfSpace/Explore-v0", scene_source="dataset")
    _, info = env.reset(seed=4)
    assert info["scene_source"]["folder"] == "run04"


def test_async_vector_env_with_gymnasium_defaults_refuses_shared_memory_clearly():
    # Gymnasium's AsyncVectorEnv decodes shared text once, at construction: every later observation would
    # read '000...'. The env refuses that path with the fix in the message.
    with pytest.raises(TypeError, match=re.escape("vector_kwargs={'shared_memory': False}")):
        gym.make_vec("TheoryOfSpace/Explore-v0", num_envs=2, vectorization_mode="async")
    with pytest.raises(TypeError, match="shared_memory=False"):
        gym.vector.AsyncVectorEnv([lambda: gym.make("TheoryOfSpace/Explore-v0")] * 2)


@pytest.mark.parametrize("action", [42, None, 3.5, {"JumpTo": "lamp"}])
def test_step_refuses_an_action_of_the_wrong_type_naming_what_it_expects(action):
    env = gym.make("TheoryOfSpace/Explore-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"expected the reply text \(str\), a list of action objects .* or of tool "
                       r"calls for `action`, got "):
        env.step(action)


def test_reset_refuses_unknown_options():
    env = gym.make("TheoryOfSpace/Explore-v0")
    with pytest.raises(ValueError, match=re.escape("unknown reset option(s) ['scenes']; expected only ['scene']")):
        env.reset(options={"scenes": generate_scene(1)})
    with pytest.raises(TypeError, match="reset `options`"):
        env.reset(options=["scene"])


def test_scene_dicts_are_accepted_in_options():
    scene = generate_scene(9, n_rooms=2)
    env = gym.make("TheoryOfSpace/Explore-v0")
    _, info = env.reset(options={"scene": scene.to_dict()})
    assert info["scene_id"] == scene.scene_id
    with pytest.raises(TypeError, match="options\\['scene'\\]"):
        env.reset(options={"scene": 3})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"colour_blind": True}, TypeError, "unknown option(s) `colour_blind`"),
        ({"reward": "money"}, ValueError, "for `reward`"),
        ({"obs_mode": "smell"}, ValueError, "for `obs_mode`"),
        ({"max_exp_steps": 0}, ValueError, "for `max_exp_steps`"),
        ({"topology": "spiral"}, ValueError, "for `topology`"),
        ({"n_objects": 99}, ValueError, "for `n_objects`"),
        ({"scene_source": "dataset", "data_dir": "/no/such/dir"}, ValueError, "`data_dir`"),
    ],
)
def test_bad_options_name_the_field(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ExploreEnv(**kwargs)


def test_settings_are_checked_on_every_construction_until_they_are_found_feasible():
    # the feasibility check is remembered per process only once it has passed
    for _ in range(2):
        with pytest.raises(ValueError, match="for `n_objects`"):
            ExploreEnv(n_rooms=2, room_size=(3, 3), n_objects=9)
    assert ExploreEnv(n_rooms=2, room_size=[3, 3], n_objects=4).generator_settings["room_size"] == (3, 3)


def test_ansi_render_draws_the_agent():
    env = gym.make("TheoryOfSpace/Explore-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step("Actions: [Rotate(90), Observe()]")
    frame = env.render()
    assert "A>" in frame and "##" in frame and "Agent:" in frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | st.from_regex(r"Actions: \[[A-Za-z(),_ \-0-9]*\]"))
def test_arbitrary_replies_never_escape_step(reply):
    env = ExploreEnv(max_exp_steps=2, reward="info_gain")
    env.reset(seed=0)
    obs, reward, _terminated, _truncated, info = env.step(reply)
    assert isinstance(obs["text"], str) and 0.0 <= reward <= 1.0
    assert info["budget_left"] == 1 and info["valid"] == (info["invalid_reason"] is None)
