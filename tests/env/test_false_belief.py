import json
import pickle
import re
import shutil

import gymnasium as gym
import numpy as np
import pytest

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.factory import make_agent
from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.env.false_belief import FALSE_BELIEF_HEADING, false_belief_target
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene
from theory_of_space.world.perturb import perturb_scene
from theory_of_space.world.tos_format import load_tos_false_belief

FB_ID = "TheoryOfSpace/Explore-FalseBelief-v0"


def _explore_then_term(env, seed=0):
    env.reset(seed=seed)
    env.step("Actions: [Observe()]")
    return env.step("Actions: [Term()]")


def test_exploration_end_opens_the_phase():
    env = gym.make(FB_ID, reward="none")
    obs, _reward, terminated, truncated, info = _explore_then_term(env)
    assert not terminated and not truncated and info["phase"] == "exploration" and info["phase_end"] == "term"
    assert obs["text"].startswith("Exploration terminated.\n\n" + FALSE_BELIEF_HEADING)
    assert "4 objects changed" in obs["text"] and "at most 15 steps" in obs["text"]
    assert 'Term(changes="apple: position, chair: orientation")' in obs["text"]
    assert obs["text"].endswith("FINAL ANSWER:\nActions: [ ... ]")
    assert info["message_parts"]["phase_prompt"].startswith(FALSE_BELIEF_HEADING)
    scene = env.unwrapped.scene
    assert env.unwrapped.false_belief_changes == perturb_scene(scene)[1]
    _, _, _, _, info = env.step("Actions: [Rotate(90), Observe()]")
    assert info["phase"] == "false_belief" and info["budget_left"] == 14 and info["steps"] == 1
    # back at the start: the first phase-2 view is the start cell's, turned east
    assert info["agent"]["cell"] == list(scene.start.cell) and info["agent"]["facing"] == "east"
    assert [c["name"] for c in info["changes"]] == [c.name for c in env.unwrapped.false_belief_changes]


def test_memory_is_kept_and_jumps_go_to_new_cells(example_scene, reference_dir):
    env = gym.make(FB_ID, data_dir=str(reference_dir))
    env.reset(options={"scene": example_scene})
    env.step("Actions: [Rotate(90), Observe()]")  # television, cap and both doors
    _, _, _, _, info = env.step("Actions: [Term()]")
    changed, _ = load_tos_false_belief(reference_dir / "run00")
    assert env.unwrapped.false_belief_scene == changed
    explored = info["observed"]
    _, _, _, _, info = env.step("Actions: [Rotate(90), JumpTo(green door), Observe()]")
    assert "green door" in explored and info["action_results"][1]["ok"]
    _, _, _, _, info = env.step("Actions: [Query(cap)]")  # remembered, and rotated from east to north
    assert info["action_results"][0]["ok"] and "north" in info["action_results"][0]["message"]
    unseen = next(o.name for o in changed.objects if o.name not in explored + info["observed"])
    _, _, _, _, info = env.step(f"Actions: [Query({unseen})]")
    assert info["action_results"][0]["reason"] == "object not observed yet"  # seen in neither phase


def test_identification_redundancy_and_first_seen():
    scene = generate_scene(7)
    env = gym.make(FB_ID, reward="none")
    agent = make_agent("updating", scene=scene)
    result = run_episode(env, agent, options={"scene": scene})
    phase = [t.info for t in result.turns if t.info["phase"] == "false_belief"]
    final = phase[-1]
    assert final["phase_end"] == "term" and result.terminated
    summary = final["false_belief"]
    assert summary["f1_pos"] == summary["f1_ori"] == summary["f1_overall"] == 1.0
    assert result.metrics["false_belief"] == summary and "node_coverage" in result.metrics
    seen_turns = {n: i["steps"] for i in phase for n in i["first_seen_changed"]}
    assert seen_turns == summary["first_seen"]
    last = max(seen_turns.values())
    cost_after = sum(i["step_cost"] for i in phase if i["steps"] > last)
    assert summary["redundancy"] == cost_after
    assert summary["steps"] == len(phase) and summary["steps_excluding_term"] == len(phase) - 1


def test_plain_term_is_invalid_and_an_unspent_report_scores_zero():
    env = gym.make(FB_ID, max_false_belief_steps=2)
    _explore_then_term(env)
    _, reward, terminated, truncated, info = env.step("Actions: [Term()]")
    assert info["invalid_reason"] == "wrong_term_form" and not (terminated or truncated) and reward == 0.0
    assert 'Term(changes="...")' in info["message_parts"]["result"]
    _, _, terminated, truncated, info = env.step("Actions: [Observe()]")
    assert truncated and not terminated and info["phase_end"] == "budget"
    summary = info["false_belief"]
    assert summary["truncated"] and summary["f1_overall"] == 0.0 and summary["f1_pos"] == 0.0
    with pytest.raises(RuntimeError, match="reset"):
        env.step("Actions: [Observe()]")


def test_exploration_term_with_changes_is_invalid_and_reports_are_lenient():
    env = gym.make(FB_ID)
    env.reset(seed=1)
    _, _, _, _, info = env.step('Actions: [Term(changes="chair: position")]')
    assert info["invalid_reason"] == "wrong_term_form" and info["phase"] == "exploration"
    env.step("Actions: [Term()]")
    _, _, terminated, _, info = env.step('Actions: [Term(changes="nothing, piano: moved, chair: sideways")]')
    assert terminated
    report = info["false_belief"]["report"]
    assert report["labels"] == [["piano", "position"]] and report["unknown_objects"] == ["piano"]
    assert report["ignored"] == ["nothing", "chair: sideways"]


def test_exploration_budget_end_also_opens_the_phase():
    env = gym.make(FB_ID, max_exp_steps=1)
    env.reset(seed=2)
    obs, _, terminated, truncated, info = env.step("Actions: [Observe()]")
    assert info["phase_end"] == "budget" and not (terminated or truncated)
    assert "No exploration steps are left." in obs["text"] and FALSE_BELIEF_HEADING in obs["text"]


def _fb_rollout(env, seed):
    obs, _ = env.reset(seed=seed)
    agent = make_agent("inertial", scene=env.unwrapped.scene)
    texts, messages = [obs["text"]], []
    from theory_of_space.agents.base import Message

    messages = [Message("user", obs["text"])]
    while True:
        reply = agent.act(messages)
        obs, reward, terminated, truncated, info = env.step(reply.text)
        messages += [Message("assistant", reply.text), Message("user", obs["text"])]
        texts.append((obs["text"], reward, info["phase"], info["agent"]))
        if terminated or truncated:
            return texts


@pytest.mark.parametrize("env_id", [FB_ID, "TheoryOfSpace/Explore-Vision-FalseBelief-v0"])
def test_same_seed_same_transcript_through_both_phases(env_id):
    first, second = _fb_rollout(gym.make(env_id), 3), _fb_rollout(gym.make(env_id), 3)
    assert first == second and any(t[2] == "false_belief" for t in first[1:])


def test_env_pickles_in_the_second_phase():
    env = gym.make(FB_ID)
    _explore_then_term(env, seed=4)
    env.step("Actions: [Rotate(90), Observe()]")
    clone = pickle.loads(pickle.dumps(env))
    step = "Actions: [Rotate(90), Observe()]"
    first, second = env.step(step), clone.step(step)
    assert first[0]["text"] == second[0]["text"] and first[4]["phase"] == second[4]["phase"] == "false_belief"


def test_vector_envs_agree_through_the_phase_change():
    sync = gym.make_vec(FB_ID, num_envs=2, vectorization_mode="sync", max_exp_steps=2)
    async_ = gym.make_vec(
        FB_ID, num_envs=2, vectorization_mode="async", vector_kwargs={"shared_memory": False}, max_exp_steps=2
    )
    try:
        assert sync.reset(seed=[5, 6])[0]["text"] == async_.reset(seed=[5, 6])[0]["text"]
        for reply in ["Actions: [Observe()]", "Actions: [Term()]", "Actions: [Rotate(90), Observe()]"]:
            obs_s, _, _, _, info_s = sync.step([reply, reply])
            obs_a, _, _, _, _info_a = async_.step([reply, reply])
            assert obs_s["text"] == obs_a["text"]
        assert list(info_s["phase"]) == ["false_belief", "false_belief"]
    finally:
        sync.close()
        async_.close()


def test_vision_views_of_the_phase_show_the_changed_scene():
    from theory_of_space.env.image import render_view
    from theory_of_space.world.scene import Pose

    env = gym.make("TheoryOfSpace/Explore-Vision-FalseBelief-v0", image_size=64)
    _explore_then_term(env, seed=0)
    changed = env.unwrapped.false_belief_scene
    obs, _, _, _, info = env.step("Actions: [Rotate(180), Observe()]")
    assert info["image_attached"] and "You observe: <image>." in obs["text"]
    expected = render_view(changed, Pose(changed.start.cell, changed.start.facing.rotated(180)), size=64).image
    assert np.array_equal(obs["image"], expected)


def test_published_scenes_need_their_folder(example_scene):
    with pytest.raises(ValueError, match=r"falsebelief_exp\.json"):
        false_belief_target(example_scene)
    env = gym.make(FB_ID)
    with pytest.raises(ValueError, match="`data_dir`"):
        env.reset(options={"scene": example_scene})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"false_belief": "yes"}, "for `false_belief`"),
        ({"false_belief": True, "n_changes": 0}, "for `n_changes`"),
        ({"false_belief": True, "max_false_belief_steps": 0}, "for `max_false_belief_steps`"),
    ],
)
def test_bad_false_belief_options_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ExploreEnv(**kwargs)


def test_scripted_false_belief_agents_differ_only_in_their_maps():
    scene = generate_scene(11)
    updating, inertial = make_agent("updating", scene=scene), make_agent("inertial", scene=scene)
    assert updating.false_belief_turns == inertial.false_belief_turns
    changed, changes = perturb_scene(scene)
    names = [c.name for c in changes]
    report = updating.false_belief_turns[-1][0].changes
    assert all(f"{c.name}: {c.type_label}" in report for c in changes if c.name in report)
    explored = [o.name for o in scene.objects]
    pose = changed.start
    new_map, old_map = (
        agent.false_belief_map(explored=explored, seen_again=names, pose=pose) for agent in (updating, inertial)
    )

    def as_json(reply):
        return json.loads(reply.split("FINAL ANSWER: ", 1)[1])

    assert as_json(new_map) != as_json(old_map)
    assert as_json(inertial.exploration_map(explored=explored, pose=pose)) == as_json(old_map)
    with pytest.raises(ValueError, match="`mode`"):
        type(updating)("forgetful", scene, changed, changes)


def test_dataset_pictures_of_the_phase_are_the_fbexp_files(tmp_path, reference_dir):
    from PIL import Image

    folder = tmp_path / "run00"
    folder.mkdir()
    for name in ("meta_data.json", "falsebelief_exp.json"):
        shutil.copy(reference_dir / "run00" / name, folder / name)
    for entry in json.loads((folder / "meta_data.json").read_text())["images"]:
        Image.new("RGB", (40, 40), (10, 20, 30)).save(folder / entry["file"])
    Image.new("RGB", (40, 40), (200, 100, 50)).save(folder / "agent_facing_east_fbexp.png")
    env = gym.make(
        "TheoryOfSpace/Explore-Vision-FalseBelief-v0",
        scene_source="dataset",
        data_dir=str(tmp_path),
        image_source="dataset",
        image_size=40,
    )
    _explore_then_term(env, seed=0)
    obs, *_ = env.step("Actions: [Rotate(90), Observe()]")
    assert obs["image"][0, 0].tolist() == [200, 100, 50]
