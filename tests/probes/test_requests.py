"""Probe requests from a stored episode, answering them, and the record's offline round trip."""

from __future__ import annotations

import json
import threading

import pytest

from tests.probes.episodes import OBSERVE, TERM, TURN_RIGHT, play
from theory_of_space.agents.base import AgentReply, CallRecord
from theory_of_space.agents.factory import make_agent
from theory_of_space.probes.cogmap import DEFAULT_GLOBAL_PROMPT, DEFAULT_LOCAL_PROMPT
from theory_of_space.probes.metrics import probe_metrics
from theory_of_space.probes.replay import replay_episode, strip_budget_and_footer
from theory_of_space.probes.requests import (
    ProbeRecord,
    answer_probes,
    as_replay,
    assemble_probe_record,
    build_probe_requests,
    run_probes,
)
from theory_of_space.world.geometry import Facing


def test_requests_per_turn_follow_the_schedule(two_turn_episode):
    requests = build_probe_requests(two_turn_episode)
    assert [r.key for r in requests] == [
        "probe/t01/global",
        "probe/t01/local",
        "probe/t01/fog",
        "probe/t02/global",
        "probe/t02/local",
        "probe/t02/fog",
        "probe/t03/global",  # after Term: the global map only
    ]
    assert len({r.key for r in requests}) == len(requests)
    assert all(r.phase == "explore" for r in requests)
    assert requests[0].messages[-1].content == DEFAULT_GLOBAL_PROMPT
    assert requests[1].messages[-1].content == DEFAULT_LOCAL_PROMPT
    assert set(requests[2].context["letters"]) == set("ABCDEF")


def test_context_is_the_conversation_up_to_the_turn_without_budget_and_footer(two_turn_episode):
    requests = build_probe_requests(two_turn_episode)
    first, second = requests[0].messages, requests[3].messages
    # system, prompt, reply 1, env message 1, probe
    assert [m.role for m in first] == ["system", "user", "assistant", "user", "user"]
    assert first[2].content == OBSERVE
    env_message = first[3].content
    assert env_message.startswith("You observe:")
    assert "exploration steps left" not in env_message and "Reply strictly" not in env_message
    # the invalid reply stays in the conversation but is not a probed turn
    assert [m.content for m in second if m.role == "assistant"] == [OBSERVE, "no actions here", TURN_RIGHT]


def test_strip_budget_and_footer():
    text = "You observe: x.\n\nYou have 3 exploration steps left.\n\nReply strictly in this format:\nFINAL ANSWER:"
    assert strip_budget_and_footer(text) == "You observe: x."
    assert strip_budget_and_footer("Exploration terminated.") == "Exploration terminated."
    assert strip_budget_and_footer("a\n\nNo exploration steps are left.") == "a"


def test_truncated_episode_gives_its_last_turn_the_full_set(example_scene):
    episode = play(example_scene, [OBSERVE, TURN_RIGHT], max_exp_steps=2)
    assert episode.truncated
    kinds = [r.kind for r in build_probe_requests(episode) if r.turn == 2]
    assert kinds == ["global", "local", "fog"]


def test_local_probe_needs_something_in_view(example_scene):
    # facing south from the start, nothing of room 1 is in view
    episode = play(example_scene, ["FINAL ANSWER: Actions: [Rotate(180), Observe()]", OBSERVE], max_exp_steps=2)
    assert [r.kind for r in build_probe_requests(episode) if r.turn == 1] == ["global", "fog"]
    assert not as_replay(episode).turns[0].visible


def test_kinds_filter_and_unknown_kind(two_turn_episode):
    assert {r.kind for r in build_probe_requests(two_turn_episode, kinds=["global"])} == {"global"}
    with pytest.raises(ValueError, match="probe kinds"):
        build_probe_requests(two_turn_episode, kinds=["map"])


def test_passive_episode_gets_one_global_probe(example_scene):
    from theory_of_space.runner.evaluate import EvaluationSettings, explore

    conversation, _ = explore(
        example_scene, make_agent("strategist", scene=example_scene), EvaluationSettings("passive")
    )
    replay = replay_episode(example_scene, conversation)
    assert replay.passive and len(replay.turns) > 1
    requests = build_probe_requests(replay)
    assert [(r.kind, r.turn) for r in requests] == [("global", len(replay.turns))]
    assert requests[0].messages[:-1] == tuple(conversation)
    record = run_probes(replay, make_agent("oracle", scene=example_scene))
    metrics = probe_metrics(record, correctness_scope="observed")
    assert metrics["correctness"]["overall"] == pytest.approx(1.0)
    assert metrics["self_tracking"] == {"facing": 1.0, "pos": 1.0}


def test_failures_are_recorded_never_raised(two_turn_episode):
    requests = build_probe_requests(two_turn_episode)

    def answerer(request):
        if request.kind == "local":
            raise RuntimeError("server down")
        if request.kind == "fog":
            return AgentReply("", CallRecord("m", error="rate limited after 3 retries"))
        return 42

    answers = answer_probes(requests, answerer, in_flight=3)
    assert [a.key for a in answers] == [r.key for r in requests]
    by_kind = {a.kind: a for a in answers}
    assert by_kind["local"].error == "RuntimeError: server down"
    assert by_kind["fog"].error == "rate limited after 3 retries"
    assert "expected reply text" in by_kind["global"].error
    metrics = probe_metrics(assemble_probe_record(two_turn_episode, requests, answers))
    assert metrics["failed"] == {"global": 3, "local": 2, "fog": 2}
    assert metrics["self_tracking"] is None and metrics["uncertainty"] is None


def test_requests_run_concurrently_under_the_limit(two_turn_episode):
    requests = build_probe_requests(two_turn_episode)
    lock, state = threading.Lock(), {"now": 0, "peak": 0}
    barrier = threading.Barrier(2, timeout=5)

    def answerer(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        if request.turn == 1 and request.kind in ("global", "local"):
            barrier.wait()  # only returns when two requests are in flight together
        with lock:
            state["now"] -= 1
        return "{}"

    answer_probes(requests, answerer, in_flight=2)
    assert state["peak"] == 2


def test_record_round_trips_and_rescores_offline_like_the_live_run(example_scene):
    episode = play(example_scene, [OBSERVE, TURN_RIGHT, "FINAL ANSWER: Actions: [JumpTo(television), Observe()]", TERM])
    live = run_probes(episode, make_agent("belief", scene=example_scene))
    stored = ProbeRecord.from_dict(json.loads(json.dumps(live.to_dict())))
    assert stored.turns == live.turns
    assert probe_metrics(stored) == probe_metrics(live)
    # the transcript alone (its stored dict) rebuilds the same snapshots
    assert as_replay(episode.to_dict()).turns == as_replay(episode).turns
    assert stored.turns[2].pose.facing is Facing.EAST


def test_record_version_is_checked(two_turn_episode):
    data = run_probes(two_turn_episode, lambda request: "{}").to_dict()
    with pytest.raises(ValueError, match="version"):
        ProbeRecord.from_dict({**data, "version": 99})


def test_probe_request_for_the_false_belief_phase():
    from theory_of_space.agents.base import Message
    from theory_of_space.probes.cogmap import DEFAULT_GLOBAL_FB_PROMPT
    from theory_of_space.probes.requests import probe_request

    request = probe_request([Message("user", "hi")], "global_fb", 2, phase="false_belief")
    assert request.key == "fb_probe/t02/global_fb" and request.phase == "false_belief"
    assert request.messages[-1].content == DEFAULT_GLOBAL_FB_PROMPT
