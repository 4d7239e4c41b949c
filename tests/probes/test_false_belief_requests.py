import json

import gymnasium as gym
import pytest

import theory_of_space  # noqa: F401  (registers the ids)
from theory_of_space.agents.false_belief import FalseBeliefAgent
from theory_of_space.env.false_belief import FALSE_BELIEF_HEADING
from theory_of_space.probes.false_belief import summarise_false_belief
from theory_of_space.probes.false_belief_requests import (
    FalseBeliefRecord,
    build_false_belief_requests,
    false_belief_episode,
    run_false_belief_probes,
)
from theory_of_space.probes.requests import ProbeRequest
from theory_of_space.runner.episode import run_episode
from theory_of_space.world.generate import generate_scene

FB_ID = "TheoryOfSpace/Explore-FalseBelief-v0"


def _play(mode, seed, **env_options):
    env = gym.make(FB_ID, reward="none", **env_options)
    scene = generate_scene(seed)
    env.reset(options={"scene": scene})
    changed, changes = env.unwrapped.false_belief_scene, env.unwrapped.false_belief_changes
    agent = FalseBeliefAgent(mode, scene, changed, changes)
    return agent, false_belief_episode(run_episode(env, agent, options={"scene": scene}), changed)


def test_requests_ask_the_last_exploration_map_and_a_map_after_each_probed_turn():
    _, episode = _play("updating", 2)
    requests = build_false_belief_requests(episode)
    first, *fb = requests
    assert (first.kind, first.phase, first.key) == ("global", "explore", f"probe/t{first.turn:02d}/global")
    assert all(FALSE_BELIEF_HEADING not in m.content for m in first.messages)  # asked before the news
    assert first.messages[-2].content == "Exploration terminated."
    assert [r.turn for r in fb] == [t.turn for t in episode.turns] == list(range(1, len(fb) + 1))
    for request in fb:
        assert request.kind == "global_fb" and request.phase == "false_belief"
        assert request.key == f"fb_probe/t{request.turn:02d}/global_fb"
        context = request.messages[:-1]
        assert any(FALSE_BELIEF_HEADING in m.content for m in context)
        assert "steps left" not in context[-1].content and "Reply strictly" not in context[-1].content
        assert "include all objects and doors" in request.messages[-1].content
    # the Term turn is not probed; its report is not in any context
    assert all("Term(changes" not in m.content for r in fb for m in r.messages if m.role == "assistant")


def test_a_truncated_phase_probes_its_last_observation():
    _agent, episode = _play("updating", 3, max_false_belief_steps=2)
    assert episode.identification["truncated"]
    assert [t.turn for t in episode.turns] == [1, 2]


def test_the_two_scripted_agents_sit_at_the_two_ends_of_the_scale():
    summaries = {}
    for mode in ("updating", "inertial"):
        samples = []
        for seed in range(5):
            agent, episode = _play(mode, seed)
            record = run_false_belief_probes(episode, agent.answer_probe)
            again = FalseBeliefRecord.from_dict(json.loads(json.dumps(record.to_dict())))
            assert again.score() == record.score()
            scores = record.score(inertia_skip_exact=mode == "inertial")
            assert scores["revision_curve"]["0"]["items"] == scores["items"]  # point 0: the first-seen maps
            samples.append({"identification": record.identification, "probes": scores})
        summaries[mode] = summarise_false_belief(samples)
    updating, inertial = summaries["updating"], summaries["inertial"]
    assert updating["f1_overall"] == inertial["f1_overall"] == 1.0
    assert updating["inertia_pos"] == 0.0 and updating["inertia_ori"] == 0.0
    assert inertial["inertia_pos"] == pytest.approx(1.0) and inertial["inertia_ori"] == 1.0
    assert updating["correctness"] == 1.0 and inertial["correctness_ori"] == 0.0
    assert inertial["unchanged_retention"] == 1.0
    # turn by turn after an object was seen again: the updating agent keeps the new state, the inertial the old
    for mode, summary in summaries.items():
        curve = summary["revision_curve"]
        assert [p["turns_since_seen"] for p in curve] == list(range(len(curve))) and len(curve) >= 4
        assert all(p["n_inertia_pos"] > 0 and p["n_inertia_ori"] > 0 for p in curve[:3]), mode
    for point in updating["revision_curve"]:
        assert point["correctness"] == 1.0 and point["inertia"] == 0.0 and point["inertia_pos"] in (0.0, None)
    for point in inertial["revision_curve"]:
        assert point["inertia"] == pytest.approx(1.0) and point["inertia_ori"] in (1.0, None)
        assert point["correctness_ori"] in (0.0, None)


def test_failed_answers_are_recorded_invalid_maps():
    _, episode = _play("inertial", 1)

    def broken(request: ProbeRequest) -> str:
        if request.kind == "global_fb" and request.turn == 1:
            raise RuntimeError("server down")
        return "no map today"

    record = run_false_belief_probes(episode, broken)
    assert record.answers["fb_probe/t01/global_fb"].error == "RuntimeError: server down"
    scores = record.score()
    assert scores["invalid_maps"] == len(episode.turns) and scores["inertia_pos"] is None


def test_an_episode_without_the_phase_is_refused():
    scene = generate_scene(0)
    env = gym.make("TheoryOfSpace/Explore-v0")
    result = run_episode(env, FalseBeliefAgent("updating", scene, scene, ()), options={"scene": scene})
    with pytest.raises(ValueError, match="no false-belief phase"):
        false_belief_episode(result, scene)


def test_vision_episodes_keep_their_pictures_in_the_probe_context():
    agent, episode = _play("updating", 4, obs_mode="vision", image_size=32)
    requests = build_false_belief_requests(episode)
    pictures = [m for r in requests for m in r.messages if m.images]
    assert pictures and all(m.content.count("<image>") == len(m.images) for m in pictures)
    assert run_false_belief_probes(episode, agent.answer_probe).score()["correctness"] == 1.0
