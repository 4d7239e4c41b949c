"""The five actions as function-calling tools: JSON schemas and a parser for lists of tool calls.

A tool-calling model answers a turn with calls such as ``Rotate(degrees=90)`` then ``Observe()``
instead of the text ``Actions: [Rotate(90), Observe()]``. :func:`parse_tool_calls` turns a list of
calls into the same :class:`~theory_of_space.env.actions.ParsedTurn` the text grammar produces, or an
:class:`~theory_of_space.env.actions.InvalidTurn` with the same codes, so both interfaces share one set
of rules, costs and failures.

Accepted call shapes (a list of them, mixed freely):

- OpenAI Chat Completions: ``{"id", "type": "function", "function": {"name", "arguments": "<json>"}}``;
- OpenAI Responses: ``{"type": "function_call", "call_id", "name", "arguments": "<json>"}``;
- Anthropic Messages: ``{"type": "tool_use", "id", "name", "input": {...}}`` (``text`` and
  ``thinking`` blocks in the same list are skipped, so a whole ``content`` list can be passed);
- plain ``{"name", "arguments": {...}}`` (the shape of transformers chat templates and TRL);
- an assistant message holding any of these under ``tool_calls`` or ``content``;
- SDK objects with ``model_dump()`` (the pydantic types of the ``openai`` and ``anthropic`` packages);
- the JSON text of any of the above.

Parsing never raises for any input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from theory_of_space.env.actions import (
    Action,
    InvalidTurn,
    JumpTo,
    Observe,
    ParsedTurn,
    Query,
    Rotate,
    Term,
    check_sequence,
)

__all__ = [
    "TOOL_NAMES",
    "ToolCall",
    "ToolCalls",
    "anthropic_tools",
    "normalise_tool_calls",
    "openai_tools",
    "parse_tool_calls",
    "tool_calls_for",
    "tool_specs",
]

TOOL_NAMES = ("JumpTo", "Rotate", "Observe", "Query", "Term")
ToolStyle = Literal["neutral", "openai", "anthropic"]

_NAME = re.compile(r"[A-Za-z0-9_ -]+")
_DEGREES = re.compile(r"\s*-?[0-9]+\s*")
_SKIPPED_BLOCKS = frozenset({"text", "thinking", "redacted_thinking"})

_TARGET_PROPERTY = {
    "type": "string",
    "description": "The name of an object or door exactly as the task lists it, e.g. 'lamp' or 'green door'.",
}


def _object_schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


def tool_specs(*, query_enabled: bool = True, false_belief: bool = False) -> list[dict[str, Any]]:
    """The actions as provider-neutral tool specifications: ``name``, ``description``, ``parameters``.

    Args:
        query_enabled: Include ``Query`` (it is an unknown tool when the env disables it).
        false_belief: Describe ``Term`` as the false-belief phase's ``Term(changes=...)``, which reports
            the objects the agent found changed.

    Returns:
        One dict per tool, in the order motions, then final actions; ``parameters`` is a JSON schema.
    """
    specs = [
        {
            "name": "JumpTo",
            "description": (
                "Motion. Move onto an object or door you have already observed and can see now; your facing "
                "does not change. Free."
            ),
            "parameters": _object_schema({"target": _TARGET_PROPERTY}),
        },
        {
            "name": "Rotate",
            "description": (
                "Motion. Turn in place by 90, 180 or 270 degrees; positive is clockwise, negative "
                "counterclockwise. Free."
            ),
            "parameters": _object_schema(
                {"degrees": {"type": "integer", "description": "One of 0, 90, -90, 180, -180, 270, -270."}}
            ),
        },
        {
            "name": "Observe",
            "description": "Final action. Describe what you see now. Costs 1.",
            "parameters": _object_schema({}),
        },
    ]
    if query_enabled:
        specs.append(
            {
                "name": "Query",
                "description": (
                    "Final action. Return the map position (x, y) of an item you have already observed, and its "
                    "facing if it has one. Costs 2."
                ),
                "parameters": _object_schema({"target": _TARGET_PROPERTY}),
            }
        )
    if false_belief:
        changes = {
            "type": "string",
            "description": (
                "The changed objects as 'object: type' pairs separated by commas, where type is position "
                "(the object moved) or orientation (it turned), e.g. 'apple: position, chair: orientation'."
            ),
        }
        specs.append(
            {
                "name": "Term",
                "description": "End this phase and report which objects changed and how. Must be the only call.",
                "parameters": _object_schema({"changes": changes}),
            }
        )
    else:
        specs.append(
            {
                "name": "Term",
                "description": "End the exploration. Must be the only call of its turn.",
                "parameters": _object_schema({}),
            }
        )
    return specs


def openai_tools(specs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral specs in the shape of the OpenAI Chat Completions ``tools`` parameter."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec["name"],
                "description": spec["description"],
                "parameters": spec["parameters"],
            },
        }
        for spec in specs
    ]


def anthropic_tools(specs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral specs in the shape of the Anthropic Messages ``tools`` parameter."""
    return [
        {"name": spec["name"], "description": spec["description"], "input_schema": spec["parameters"]} for spec in specs
    ]


@dataclass(frozen=True)
class ToolCall:
    """One call in provider-neutral form; ``arguments`` is None when the model's arguments were not JSON."""

    name: str
    arguments: dict[str, Any] | None
    id: str | None = None
    raw_arguments: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for transcripts."""
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.arguments is None:
            data["raw_arguments"] = self.raw_arguments
        return data


@dataclass(frozen=True)
class ToolCalls:
    """A turn given as tool calls (in any accepted shape), marked so the env does not read it as text."""

    calls: Any


def normalise_tool_calls(calls: Any) -> list[ToolCall] | InvalidTurn:
    """Read a turn's tool calls in any accepted shape into :class:`ToolCall` objects; never raises."""
    if isinstance(calls, ToolCalls):
        calls = calls.calls
    if isinstance(calls, (str, bytes)):
        try:
            calls = json.loads(calls)
        except ValueError:
            return InvalidTurn("no_action_list", "the reply holds no tool call")
    calls = _dump(calls)
    if isinstance(calls, Mapping):
        if "tool_calls" in calls or ("content" in calls and "role" in calls):
            calls = calls.get("tool_calls") or calls.get("content") or []
        else:
            calls = [calls]
    if not isinstance(calls, Sequence) or isinstance(calls, (str, bytes)):
        return InvalidTurn("no_action_list", "the reply holds no tool call")
    normalised: list[ToolCall] = []
    for raw in calls:
        call = _dump(raw)
        if not isinstance(call, Mapping):
            return InvalidTurn("unknown_action", f"{str(raw)[:80]!r} is not a tool call")
        if call.get("type") in _SKIPPED_BLOCKS:
            continue
        read = _read_call(call)
        if isinstance(read, InvalidTurn):
            return read
        normalised.append(read)
    if not normalised:
        return InvalidTurn("no_action_list", "the reply holds no tool call")
    return normalised


def parse_tool_calls(calls: Any, *, query_enabled: bool = True, false_belief: bool = False) -> ParsedTurn | InvalidTurn:
    """Turn a list of tool calls into a turn, under the same rules as the text grammar; never raises.

    Args:
        calls: The calls in any accepted shape (see the module docstring).
        query_enabled: Whether ``Query`` is an action of this env.
        false_belief: Whether this is the false-belief phase (``Term`` then needs ``changes``).

    Returns:
        A :class:`ParsedTurn`, or an :class:`InvalidTurn` whose ``reason`` is the text grammar's code for
        the same mistake: ``no_action_list`` (no call at all), ``unknown_action``, ``bad_argument``,
        ``final_not_last``, ``missing_final``, ``term_not_alone`` or ``wrong_term_form``.

    Example:
        >>> parse_tool_calls([{"name": "Rotate", "arguments": {"degrees": 90}}, {"name": "Observe", "arguments": {}}])
        ParsedTurn(actions=(Rotate(degrees=90), Observe()))
    """
    normalised = normalise_tool_calls(calls)
    if isinstance(normalised, InvalidTurn):
        return normalised
    actions: list[Action] = []
    for call in normalised:
        action = _to_action(call, query_enabled=query_enabled, false_belief=false_belief)
        if isinstance(action, InvalidTurn):
            return action
        actions.append(action)
    return check_sequence(actions)


def tool_calls_for(actions: Sequence[Action], *, style: ToolStyle = "neutral") -> list[dict[str, Any]]:
    """The tool calls that express ``actions``: scripted explorers and tests act through the tools with it.

    Args:
        actions: Action objects, e.g. a parsed text turn's ``actions``.
        style: ``"neutral"`` (``{"name", "arguments": {...}}``), ``"openai"`` (Chat Completions, arguments
            as JSON text) or ``"anthropic"`` (``tool_use`` blocks).

    Example:
        >>> tool_calls_for([Rotate(90), Observe()])
        [{'name': 'Rotate', 'arguments': {'degrees': 90}}, {'name': 'Observe', 'arguments': {}}]
    """
    calls = []
    for index, action in enumerate(actions):
        name, arguments = _action_arguments(action)
        if style == "openai":
            encoded = json.dumps(arguments)
            calls.append({"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": encoded}})
        elif style == "anthropic":
            calls.append({"type": "tool_use", "id": f"toolu_{index}", "name": name, "input": arguments})
        else:
            calls.append({"name": name, "arguments": arguments})
    return calls


def _action_arguments(action: Action) -> tuple[str, dict[str, Any]]:
    if isinstance(action, (JumpTo, Query)):
        return type(action).__name__, {"target": action.target}
    if isinstance(action, Rotate):
        return "Rotate", {"degrees": action.degrees}
    if isinstance(action, Term) and action.changes is not None:
        return "Term", {"changes": action.changes}
    return type(action).__name__, {}


def _dump(value: Any) -> Any:
    """SDK objects (pydantic models) as plain data."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def _read_call(call: Mapping[str, Any]) -> ToolCall | InvalidTurn:
    function = call.get("function")
    if isinstance(function, Mapping):  # OpenAI Chat Completions, transformers chat templates
        name, arguments, call_id = function.get("name"), function.get("arguments"), call.get("id")
    elif "input" in call:  # Anthropic tool_use
        name, arguments, call_id = call.get("name"), call.get("input"), call.get("id")
    else:  # OpenAI Responses function_call, plain {"name", "arguments"}
        name, arguments, call_id = call.get("name"), call.get("arguments", {}), call.get("call_id", call.get("id"))
    if not isinstance(name, str) or not name:
        return InvalidTurn("unknown_action", f"a tool call names no tool: {json.dumps(call, default=str)[:120]}")
    call_id = None if call_id is None else str(call_id)
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text) if text.strip() else {}
        except ValueError:
            return ToolCall(name, None, call_id, raw_arguments=text)
    if not isinstance(arguments, Mapping):
        return ToolCall(name, None, call_id, raw_arguments=json.dumps(arguments, default=str))
    return ToolCall(name, dict(arguments), call_id)


def _to_action(call: ToolCall, *, query_enabled: bool, false_belief: bool) -> Action | InvalidTurn:
    name = call.name
    if name not in TOOL_NAMES or (name == "Query" and not query_enabled):
        return InvalidTurn("unknown_action", f"{name} is not an action tool")
    shown = _shown(call)
    if call.arguments is None:
        return InvalidTurn("bad_argument", f"{shown}: the arguments are not a JSON object")
    arguments = call.arguments
    if name == "Term":
        return _term(arguments, shown, false_belief=false_belief)
    expected = {"JumpTo": {"target"}, "Query": {"target"}, "Rotate": {"degrees"}, "Observe": set()}[name]
    if set(arguments) != expected:
        wanted = ", ".join(sorted(expected)) or "no argument"
        return InvalidTurn("bad_argument", f"{shown}: {name} takes {wanted}")
    if name == "Observe":
        return Observe()
    if name == "Rotate":
        degrees = _integer(arguments["degrees"])
        if degrees is None:
            return InvalidTurn("bad_argument", f"{shown} needs a whole number of degrees")
        return Rotate(degrees)
    target = arguments["target"]
    if not isinstance(target, str) or not _NAME.fullmatch(target) or not target.strip():
        return InvalidTurn("bad_argument", f"{shown} needs the name of an object or door")
    return JumpTo(target.strip()) if name == "JumpTo" else Query(target.strip())


def _term(arguments: dict[str, Any], shown: str, *, false_belief: bool) -> Action | InvalidTurn:
    if false_belief:
        changes = arguments.get("changes")
        if set(arguments) != {"changes"} or not isinstance(changes, str):
            return InvalidTurn("wrong_term_form", 'end the false-belief phase with Term(changes="...")')
        return Term(changes=changes.strip())
    if "changes" in arguments:
        return InvalidTurn("wrong_term_form", f"{shown}: Term takes no argument during exploration")
    if arguments:
        return InvalidTurn("bad_argument", f"{shown}: Term takes no argument")
    return Term()


def _integer(value: Any) -> int | None:
    """A whole number from an int, an integral float or a numeric string; None otherwise (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DEGREES.fullmatch(value):
        return int(value)
    return None


def _shown(call: ToolCall) -> str:
    """The call as the model wrote it, for feedback messages."""
    if call.arguments is None:
        return f"{call.name}({(call.raw_arguments or '')[:80]})"
    arguments = ", ".join(f"{key}={json.dumps(value, default=str)[:60]}" for key, value in call.arguments.items())
    return f"{call.name}({arguments})"
