import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_split_reply_takes_the_text_after_the_last_final_answer():
    assert split_reply("THINK: go left\nFINAL ANSWER: Actions: [Observe()]") == ("go left", "Actions: [Observe()]")
    reply = "think: a\nfinal answer: x\nTHINK: b\nFINAL ANSWER:  Actions: [Term()] "
    assert split_reply(reply) == ("b", "Actions: [Term()]")
    assert split_reply("<think>hm</think><answer>Actions: [Observe()]</answer>") == ("hm", "Actions: [Observe()]")
    assert split_reply("Actions: [Observe()]") == ("", "Actions: [Observe()]")


def test_a_full_turn_parses_in_order():
    turn = parse_actions("Actions: [Rotate(-90), JumpTo(trash_can), Observe()]")
    assert turn == ParsedTurn((Rotate(-90), JumpTo("trash_can"), Observe()))
    assert parse_actions("Actions: [Query(green door)]") == ParsedTurn((Query("green door"),))
    assert parse_actions("sure! Actions: [ JumpTo(lamp) then Observe() ] done") == ParsedTurn(
        (JumpTo("lamp"), Observe())
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I will observe", "no_action_list"),
        ("Actions: ]Observe()[", "no_action_list"),
        ("Actions: []", "empty_action_list"),
        ("Actions: [look around]", "empty_action_list"),
        ("Actions: [Fly(north), Observe()]", "unknown_action"),
        ("Actions: [observe()]", "unknown_action"),
        ("Actions: [Rotate(ninety), Observe()]", "bad_argument"),
        ("Actions: [Rotate(9-0), Observe()]", "bad_argument"),
        ("Actions: [JumpTo(lamp!), Observe()]", "bad_argument"),
        ("Actions: [Observe(now)]", "bad_argument"),
        ("Actions: [Observe(), Rotate(90)]", "final_not_last"),
        ("Actions: [Observe(), Observe()]", "final_not_last"),
        ("Actions: [JumpTo(lamp)]", "missing_final"),
        ("Actions: [Rotate(90), Term()]", "term_not_alone"),
        ('Actions: [Term(changes="lamp moved")]', "wrong_term_form"),
    ],
)
def test_invalid_turns_carry_a_stable_code(answer, reason):
    turn = parse_actions(answer)
    assert isinstance(turn, InvalidTurn)
    assert turn.reason == reason
    assert turn.detail


def test_query_is_unknown_when_disabled_and_term_changes_in_false_belief():
    assert parse_actions("Actions: [Query(lamp)]", query_enabled=False).reason == "unknown_action"
    assert parse_actions("Actions: [Term()]", false_belief=True).reason == "wrong_term_form"
    turn = parse_actions('Actions: [Term(changes="lamp: moved")]', false_belief=True)
    assert turn == ParsedTurn((Term(changes="lamp: moved"),))


@given(st.text())
def test_parsing_arbitrary_text_never_raises(text):
    reply = split_reply(text)
    turn = parse_actions(reply[1])
    assert isinstance(turn, (ParsedTurn, InvalidTurn))


names = st.from_regex(r"[a-z][a-z ]{0,10}[a-z]", fullmatch=True)
motions = st.one_of(names.map(JumpTo), st.sampled_from([-270, -180, -90, 0, 90, 180, 270]).map(Rotate))
finals = st.one_of(st.just(Observe()), names.map(Query))


@given(st.lists(motions, max_size=4), finals)
def test_formatted_turns_parse_back_to_themselves(moves, final):
    actions = (*moves, final)
    assert parse_actions(format_actions(actions)) == ParsedTurn(actions)
