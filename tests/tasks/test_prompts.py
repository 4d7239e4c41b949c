from dataclasses import replace

import pytest

from theory_of_space.agents.base import Message
from theory_of_space.tasks import find_question, question_block, question_messages

SKELETON = "\n".join(
    [
        "THINK:",
        "<your reasoning about the question>",
        "FINAL ANSWER:",
        "<only the answer, in the required format, nothing else>",
    ]
)


def test_question_is_appended_to_the_last_user_message_after_a_blank_line(suite0):
    question = suite0.questions[0]
    conversation = [
        Message("system", "sys"),
        Message("user", "start"),
        Message("assistant", "a"),
        Message("user", "end\n"),
    ]
    request = question_messages(conversation, question)
    assert request[:3] == conversation[:3] and len(request) == 4
    assert request[-1].content.startswith("end\n\n## Question\n" + question.text + "\n\n## Output format\n")
    assert request[-1].content.endswith(SKELETON)
    assert conversation[-1].content == "end\n"


def test_no_think_skeleton_has_only_the_answer(suite0):
    block = question_block(suite0.questions[0], think=False)
    assert "THINK:" not in block
    assert block.endswith("FINAL ANSWER:\n<only the answer, in the required format, nothing else>")


def test_a_conversation_ending_with_a_reply_gets_a_new_user_message(suite0):
    request = question_messages([Message("user", "go"), Message("assistant", "done")], suite0.questions[0])
    assert [m.role for m in request] == ["user", "assistant", "user"]
    assert request[-1].content.startswith("## Question\n")


def test_a_conversation_without_user_messages_is_refused(suite0):
    with pytest.raises(ValueError, match="user message"):
        question_messages([Message("system", "sys")], suite0.questions[0])


def test_find_question_reads_the_asked_question(suite0):
    for question in suite0.questions:
        request = question_messages([Message("user", "history")], question)
        assert find_question(request[-1].content, suite0.questions) == question
    assert find_question("no question here", suite0.questions) is None
    other = replace(suite0.questions[0], text="Something else entirely.")
    assert find_question(question_messages([Message("user", "h")], other)[-1].content, suite0.questions) is None
