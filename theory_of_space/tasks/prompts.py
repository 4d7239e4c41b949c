"""The question wrapper: every question is its own request after the exploration.

The request is the whole exploration conversation (active) or the system message and the history
prompt (passive), with the question appended to the last user message after one blank line (the
published harness glued them together), then a heading that introduces the output format and the
reply skeleton.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from theory_of_space.agents.base import Message
from theory_of_space.tasks.base import Question

QUESTION_HEADING = "## Question"
OUTPUT_HEADING = "## Output format"
ANSWER_PLACEHOLDER = "<only the answer, in the required format, nothing else>"


def question_block(question: Question, *, think: bool = True) -> str:
    """The question, then the output-format heading and the ``THINK:`` / ``FINAL ANSWER:`` skeleton."""
    skeleton = ["FINAL ANSWER:", ANSWER_PLACEHOLDER]
    if think:
        skeleton = ["THINK:", "<your reasoning about the question>", *skeleton]
    intro = "Reply in exactly this format:" if think else "Reply with only the FINAL ANSWER: section:"
    return f"{QUESTION_HEADING}\n{question.text}\n\n{OUTPUT_HEADING}\n{intro}\n" + "\n".join(skeleton)


def question_messages(conversation: Sequence[Message], question: Question, *, think: bool = True) -> list[Message]:
    """The request for one question: ``conversation`` with the question appended to its last user message.

    When the conversation ends with an assistant reply, the question becomes a new user message.

    Raises:
        ValueError: the conversation has no user message at all.

    Example:
        >>> request = question_messages(episode.messages, question)  # doctest: +SKIP
        >>> reply = agent.act(request)  # doctest: +SKIP
    """
    messages = list(conversation)
    block = question_block(question, think=think)
    if not any(m.role == "user" for m in messages):
        raise ValueError("expected a conversation with at least one user message before the question")
    if messages[-1].role == "user":
        last = messages[-1]
        messages[-1] = replace(last, content=f"{last.content.rstrip()}\n\n{block}")
    else:
        # The conversation ended on a reply: the question becomes the next user message.
        messages.append(Message("user", block))
    return messages


def find_question(text: str, questions: Sequence[Question]) -> Question | None:
    """The question whose block ends ``text`` (the last user message of a request), or ``None``."""
    if QUESTION_HEADING not in text:
        return None
    asked = text.rsplit(QUESTION_HEADING, 1)[1]
    for question in questions:
        if asked.lstrip("\n").startswith(question.text):
            return question
    return None
