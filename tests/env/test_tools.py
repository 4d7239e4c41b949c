"""Tool-calling actions: schemas, the call parser, and an env in ``action_format="tools"`` that behaves
exactly as the text grammar does."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_of_space.agents.scripted import RandomAgent, scout_agent
from theory_of_space.env.actions import (
    InvalidTurn,
    JumpTo,
    Observe,
    ParsedTurn,
    Query,
    Rotate,
    Term,
    format_actions,
    parse_actions,
    split_reply,
)
from theory_of_space.env.exploration import ExploreEnv
from theory_of_space.env.tools import (
    TOOL_NAMES,
    anthropic_tools,
    normalise_tool_calls,
    openai_tools,
    parse_tool_calls,
    tool_calls_for,
    tool_specs,
)
from theory_of_space.world.generate import generate_scene

STYLES = ("neutral", "openai", "anthropic")


def test_specs_cover_the_five_actions_with_closed_json_schemas():
    specs = tool_specs()
    assert [s["name"] for s in specs] == list(TOOL_NAMES)
    for spec in specs:
        schema = spec["parameters"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"])
    by_name = {s["name"]: s["parameters"]["properties"] for s in specs}
    assert by_name == {
        "JumpTo": {"target": by_name["JumpTo"]["target"]},
        "Rotate": {"degrees": by_name["Rotate"]["degrees"]},
        "Observe": {},
        "Query": {"target": by_name["Query"]["target"]},
        "Term": {},
    }
    assert by_name["Rotate"]["degrees"]["type"] == "integer"
    assert [s["name"] for s in tool_specs(query_enabled=False)] == ["JumpTo", "Rotate", "Observe", "Term"]
    false_belief_term = tool_specs(false_belief=True)[-1]
    assert false_belief_term["parameters"]["required"] == ["changes"]
    assert false_belief_term["parameters"]["properties"]["changes"]["type"] == "string"


def test_provider_shapes_carry_the_same_schemas():
    specs = tool_specs()
    openai = openai_tools(specs)
    anthropic = anthropic_tools(specs)
    assert [t["type"] for t in openai] == ["function"] * 5
    assert [t["function"]["parameters"] for t in openai] == [s["parameters"] for s in specs]
    assert [t["input_schema"] for t in anthropic] == [s["parameters"] for s in specs]
    json.dumps(openai), json.dumps(anthropic)  # plain JSON


@pytest.mark.parametrize("style", STYLES)
def test_calls_of_every_shape_parse_to_the_same_turn(style):
    actions = (Rotate(-90), JumpTo("green door"), Query("lamp"))
    assert parse_tool_calls(tool_calls_for(actions, style=style)) == ParsedTurn(actions)
    # the JSON text of the list parses too
    assert parse_tool_calls(json.dumps(tool_calls_for(actions, style=style))) == ParsedTurn(actions)


def test_whole_messages_responses_items_and_sdk_objects_are_accepted():
    openai_message = {"role": "assistant", "content": None, "tool_calls": tool_calls_for([Observe()], style="openai")}
    assert parse_tool_calls(openai_message) == ParsedTurn((Observe(),))
    blocks = [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "I look."}]
    blocks += tool_calls_for([Rotate(90), Observe()], style="anthropic")
    assert parse_tool_calls({"role": "assistant", "content": blocks}) == ParsedTurn((Rotate(90), Observe()))
    responses_item = {"type": "function_call", "call_id": "c1", "name": "Query", "arguments": '{"target": "lamp"}'}
    assert parse_tool_calls([responses_item]) == ParsedTurn((Query("lamp"),))

    class SdkObject:
        def model_dump(self):
            return {"id": "x", "type": "function", "function": {"name": "Term", "arguments": "{}"}}

    assert parse_tool_calls([SdkObject()]) == ParsedTurn((Term(),))
    (call,) = normalise_tool_calls([responses_item])
    assert (call.id, call.name, call.arguments) == ("c1", "Query", {"target": "lamp"})


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ([], "no_action_list"),
        ("I would rather describe the room.", "no_action_list"),
        ([{"type": "text", "text": "no calls"}], "no_action_list"),
        (42, "no_action_list"),
        ([{"name": "Fly", "arguments": {}}], "unknown_action"),
        ([{"name": "observe", "arguments": {}}], "unknown_action"),
        ([{"arguments": {}}], "unknown_action"),
        (["Observe()"], "unknown_action"),
        ([{"name": "Rotate", "arguments": {"degrees": "ninety"}}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "Rotate", "arguments": {"degrees": True}}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "Rotate", "arguments": {"angle": 90}}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "Rotate", "arguments": "{degrees: 90"}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "JumpTo", "arguments": {"target": "lamp!"}}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "JumpTo", "arguments": {"target": 3}}, {"name": "Observe"}], "bad_argument"),
        ([{"name": "Observe", "arguments": {"now": True}}], "bad_argument"),
        ([{"name": "Observe"}, {"name": "Rotate", "arguments": {"degrees": 90}}], "final_not_last"),
        ([{"name": "Observe"}, {"name": "Observe"}], "final_not_last"),
        ([{"name": "JumpTo", "arguments": {"target": "lamp"}}], "missing_final"),
        ([{"name": "Rotate", "arguments": {"degrees": 90}}, {"name": "Term"}], "term_not_alone"),
        ([{"name": "Term", "arguments": {"changes": "lamp: moved"}}], "wrong_term_form"),
    ],
)
def test_invalid_calls_get_the_text_grammars_codes(calls, reason):
    turn = parse_tool_calls(calls)
    assert isinstance(turn, InvalidTurn)
    assert turn.reason == reason
    assert turn.detail


def test_query_and_false_belief_term_follow_the_grammar():
    assert parse_tool_calls([{"name": "Query", "arguments": {"target": "lamp"}}], query_enabled=False).reason == (
        "unknown_action"
    )
    assert parse_tool_calls([{"name": "Term"}], false_belief=True).reason == "wrong_term_form"
    report = [{"name": "Term", "arguments": {"changes": "lamp: position, sofa: orientation"}}]
    expected = ParsedTurn((Term(changes="lamp: position, sofa: orientation"),))
    assert parse_tool_calls(report, false_belief=True) == expected
    # the same report in the text grammar
    text = format_actions([Term(changes="lamp: position, sofa: orientation")])
    assert parse_actions(text, false_belief=True) == parse_tool_calls(report, false_belief=True)


def test_numeric_degrees_are_read_like_the_text_grammar_reads_them():
    for degrees in (90, 90.0, "90", " -90 "):
        turn = parse_tool_calls([{"name": "Rotate", "arguments": {"degrees": degrees}}, {"name": "Observe"}])
        assert turn.actions[0] == Rotate(int(float(str(degrees).strip())))
    assert parse_tool_calls([{"name": "Rotate", "arguments": {"degrees": 90.5}}, {"name": "Observe"}]).reason == (
        "bad_argument"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
call_like = st.fixed_dictionaries(
    {"name": st.sampled_from([*TOOL_NAMES, "Fly", ""]) | st.text(max_size=6)},
    optional={"arguments": json_values | json_values.map(json.dumps), "type": st.sampled_from(["function", "text"])},
)


@given(st.lists(call_like, max_size=4) | json_values | st.text())
def test_parsing_arbitrary_calls_never_raises(calls):
    assert isinstance(parse_tool_calls(calls), (ParsedTurn, InvalidTurn))


# ==== the env in tools mode ====


def _comparable(step):
    _, reward, terminated, truncated, info = step
    kept = {k: v for k, v in info.items() if k not in ("message_parts", "action_format", "invalid_detail")}
    # valid turns answer with the same results; invalid ones restate the tools instead of the grammar
    return (info["message_parts"]["result"] if info["valid"] else None), reward, terminated, truncated, kept


def _text_and_tools_envs(**options):
    return ExploreEnv(**options), ExploreEnv(action_format="tools", **options)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("seed", [0, 3])
def test_scout_through_tools_matches_the_text_grammar_step_for_step(seed, style):
    scene = generate_scene(seed, n_rooms=3)
    text_env, tools_env = _text_and_tools_envs(reward="info_gain")
    text_env.reset(options={"scene": scene})
    tools_env.reset(options={"scene": scene})
    text_agent, tools_agent = scout_agent(scene), scout_agent(scene)
    messages: list = []
    done = False
    while not done:
        reply = text_agent.act(messages).text
        assert tools_agent.act(messages).text == reply
        turn = parse_actions(split_reply(reply)[1])
        expected = text_env.step(reply)
        got = tools_env.step(tool_calls_for(turn.actions, style=style))
        assert _comparable(got) == _comparable(expected)
        assert got[4]["action_format"] == "tools" and expected[4]["action_format"] == "text"
        done = expected[2] or expected[3]
    assert tools_env.session.metrics() == text_env.session.metrics()


names = st.sampled_from(["lamp", "sofa", "green door", "red door", "nothing", "chair"])
any_action = st.one_of(
    names.map(JumpTo),
    st.sampled_from([0, 45, 90, -90, 180, 270, 360]).map(Rotate),
    st.just(Observe()),
    names.map(Query),
    st.just(Term()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 50), st.lists(st.lists(any_action, min_size=1, max_size=3), min_size=1, max_size=8))
def test_any_action_sequence_has_the_same_effects_in_both_formats(seed, turns):
    scene = generate_scene(seed, n_rooms=2)
    text_env, tools_env = _text_and_tools_envs(reward="coverage", max_exp_steps=6)
    text_env.reset(options={"scene": scene})
    tools_env.reset(options={"scene": scene})
    for actions in turns:
        expected = text_env.step(format_actions(actions))
        got = tools_env.step(tool_calls_for(actions, style="openai"))
        assert _comparable(got) == _comparable(expected)
        if expected[2] or expected[3]:
            break


def test_tools_mode_prompts_ask_for_tool_calls_and_reset_lists_the_tools():
    env = ExploreEnv(action_format="tools", query_enabled=False)
    obs, info = env.reset(seed=1)
    assert [t["name"] for t in info["tools"]] == ["JumpTo", "Rotate", "Observe", "Term"]
    assert "Actions: [" not in obs["text"] and "call the action tools" in obs["text"]
    assert "calling the action tools" in info["system_prompt"]
    obs, reward, *_, step_info = env.step("Actions: [Observe()]")  # text is not a tool call in this mode
    assert (step_info["valid"], step_info["invalid_reason"], reward) == (False, "no_action_list", 0.0)
    assert "Act by calling the tools" in obs["text"] and "Actions: [" not in obs["text"]
    # action objects are accepted in either format
    assert env.step([Observe()])[4]["valid"]


def test_text_mode_is_unchanged_by_default():
    env = ExploreEnv()
    obs, info = env.reset(seed=1)
    assert "tools" not in info and info["action_format"] == "text"
    assert "Actions: [ ... ]" in obs["text"]


def test_a_random_agent_never_crashes_the_tools_env():
    scene = generate_scene(5, n_rooms=3)
    env = ExploreEnv(action_format="tools")
    env.reset(options={"scene": scene})
    agent = RandomAgent(scene, seed=5)
    done = False
    while not done:
        reply = agent.act([]).text
        turn = parse_actions(split_reply(reply)[1])
        calls = tool_calls_for(turn.actions, style="anthropic") if isinstance(turn, ParsedTurn) else reply
        *_, terminated, truncated, info = env.step(calls)
        done = terminated or truncated
    assert info["budget_used"] == info["steps"] + info["invalid_steps"]


def test_the_tools_env_passes_gymnasiums_checker_and_its_spec_serialises():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    env = gym.make("TheoryOfSpace/Explore-v0", action_format="tools", n_rooms=2)
    check_env(env.unwrapped)
    assert json.loads(env.spec.to_json())["kwargs"]["action_format"] == "tools"
    with pytest.raises(ValueError, match="`action_format`"):
        ExploreEnv(action_format="json")


def test_the_vision_world_takes_tool_calls_too():
    env = ExploreEnv(obs_mode="vision", action_format="tools", image_size=64)
    env.reset(seed=2)
    obs, _, _, _, info = env.step(tool_calls_for([Rotate(90), Observe()], style="anthropic"))
    assert info["valid"] and info["image_attached"] and obs["image"].shape == (64, 64, 3)
