"""The action grammar: reply splitting, parsing and the action objects RL code can pass.

``Actions: [ <M>* <F> ]`` with motions ``JumpTo(name)``, ``Rotate(degrees)`` and one final action
``Observe()``, ``Query(name)`` or ``Term()``. A reply that breaks the grammar becomes an
:class:`InvalidTurn` with a stable code; parsing never raises for any input text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

InvalidReason = Literal[
    "no_action_list",
    "empty_action_list",
    "unknown_action",
    "bad_argument",
    "final_not_last",
    "missing_final",
    "term_not_alone",
    "wrong_term_form",
]


@dataclass(frozen=True)
class JumpTo:
    """Move onto an observed, currently visible item; the facing is unchanged."""

    target: str

    def __str__(self) -> str:
        return f"JumpTo({self.target})"


@dataclass(frozen=True)
class Rotate:
    """Turn by a multiple of 90 degrees, clockwise positive."""

    degrees: int

    def __str__(self) -> str:
        return f"Rotate({self.degrees})"


@dataclass(frozen=True)
class Observe:
    """Look along the current facing (cost 1)."""

    def __str__(self) -> str:
        return "Observe()"


@dataclass(frozen=True)
class Query:
    """Ask for an observed item's allocentric position (cost 2)."""

    target: str

    def __str__(self) -> str:
        return f"Query({self.target})"


@dataclass(frozen=True)
class Term:
    """End the phase; in the false-belief phase it carries the changes the agent reports."""

    changes: str | None = None

    def __str__(self) -> str:
        return "Term()" if self.changes is None else f'Term(changes="{self.changes}")'


Action = JumpTo | Rotate | Observe | Query | Term
MOTIONS = (JumpTo, Rotate)
FINALS = (Observe, Query, Term)


@dataclass(frozen=True)
class ParsedTurn:
    """A grammatical turn: motions followed by exactly one final action."""

    actions: tuple[Action, ...]

    @property
    def text(self) -> str:
        return format_actions(self.actions)


@dataclass(frozen=True)
class InvalidTurn:
    """A reply that breaks the grammar: nothing is executed; ``detail`` names the problem."""

    reason: InvalidReason
    detail: str


def format_actions(actions: Sequence[Action]) -> str:
    return f"Actions: [{', '.join(str(a) for a in actions)}]"


_LABEL = re.compile(r"(THINK\s*:|FINAL\s+ANSWER\s*:)", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.IGNORECASE | re.DOTALL)
_THINK_TAG = re.compile(r"<think>(.*?)(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r"[A-Za-z]+\([^()]*\)")
_NAME_ARG = r"([A-Za-z0-9_ -]+)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("JumpTo", re.compile(rf"JumpTo\({_NAME_ARG}\)")),
    ("Rotate", re.compile(r"Rotate\(\s*([0-9-]+)\s*\)")),
    ("Observe", re.compile(r"Observe\(\s*\)")),
    ("Query", re.compile(rf"Query\({_NAME_ARG}\)")),
    ("Term", re.compile(r"Term\(\s*\)")),
)
_TERM_CHANGES = re.compile(r"""Term\(\s*changes\s*=\s*["']?(.*?)["']?\s*\)""", re.DOTALL)


def split_reply(reply: str) -> tuple[str, str]:
    """Split a reply into its THINK part and its FINAL ANSWER part.

    The answer is the text after the last ``FINAL ANSWER:`` label; without labels, the last
    ``<answer>`` tag; without either, the whole reply.
    """
    parts = _LABEL.split(reply)
    if len(parts) > 1:
        think, answer = "", None
        for label, body in zip(parts[1::2], parts[2::2]):
            if label.upper().startswith("THINK"):
                think = body.strip()
            else:
                answer = body
        return think, (reply if answer is None else answer).strip()
    answers = _ANSWER_TAG.findall(reply)
    if answers:
        thinks = _THINK_TAG.findall(reply)
        return (thinks[-1].strip() if thinks else ""), answers[-1].strip()
    return "", reply.strip()


def parse_actions(answer: str, *, query_enabled: bool = True, false_belief: bool = False) -> ParsedTurn | InvalidTurn:
    """Parse the answer part of a reply into a turn; never raises.

    Args:
        answer: the text after ``FINAL ANSWER:`` (see :func:`split_reply`).
        query_enabled: whether ``Query`` belongs to the grammar.
        false_belief: whether this is the false-belief phase (``Term(changes=...)`` instead of ``Term()``).
    """
    start, end = answer.find("["), answer.rfind("]")
    if start < 0 or end <= start:
        return InvalidTurn("no_action_list", "no bracketed action list `Actions: [ ... ]` was found")
    tokens = _TOKEN.findall(answer[start + 1 : end])
    if not tokens:
        return InvalidTurn("empty_action_list", "the action list holds no action")
    actions: list[Action] = []
    for token in tokens:
        parsed = _parse_token(token, query_enabled=query_enabled, false_belief=false_belief)
        if isinstance(parsed, InvalidTurn):
            return parsed
        actions.append(parsed)
    return check_sequence(actions)


def check_sequence(actions: Sequence[Action]) -> ParsedTurn | InvalidTurn:
    """Check the order rules: motions first, one final action last, ``Term`` alone."""
    if not actions:
        return InvalidTurn("empty_action_list", "the action list holds no action")
    if any(isinstance(a, Term) for a in actions) and len(actions) > 1:
        return InvalidTurn("term_not_alone", "Term must be the only action of its turn")
    for action in actions[:-1]:
        if isinstance(action, FINALS):
            return InvalidTurn("final_not_last", f"{action} is a final action but is not the last action")
    if isinstance(actions[-1], MOTIONS):
        return InvalidTurn(
            "missing_final", f"the last action {actions[-1]} is a motion; end with Observe(), Query() or Term()"
        )
    return ParsedTurn(tuple(actions))


def _parse_token(token: str, *, query_enabled: bool, false_belief: bool) -> Action | InvalidTurn:
    name = token[: token.index("(")]
    if name == "Term" and _TERM_CHANGES.fullmatch(token):
        if not false_belief:
            return InvalidTurn("wrong_term_form", f"{token}: Term takes no argument during exploration")
        return Term(changes=_TERM_CHANGES.fullmatch(token).group(1).strip())  # type: ignore[union-attr]
    known = [pattern for key, pattern in _PATTERNS if key == name and (key != "Query" or query_enabled)]
    if not known:
        return InvalidTurn("unknown_action", f"{token} is not an action")
    match = known[0].fullmatch(token)
    if match is None:
        return InvalidTurn("bad_argument", f"{token} has a malformed argument")
    if name == "JumpTo":
        target = match.group(1).strip()
        return JumpTo(target) if target else InvalidTurn("bad_argument", f"{token} names no item")
    if name == "Query":
        target = match.group(1).strip()
        return Query(target) if target else InvalidTurn("bad_argument", f"{token} names no item")
    if name == "Rotate":
        try:
            return Rotate(int(match.group(1)))
        except ValueError:
            return InvalidTurn("bad_argument", f"{token} needs a whole number of degrees")
    if name == "Term":
        if false_belief:
            return InvalidTurn("wrong_term_form", 'end the false-belief phase with Term(changes="...")')
        return Term()
    return Observe()
