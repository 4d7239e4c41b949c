"""Tool calls in a conversation, for the API clients' ``tools`` mode.

A tool-calling model's reply is kept as an assistant :class:`~theory_of_space.agents.base.Message` with
``tool_calls`` in neutral form (``{"id", "name", "arguments"}``). Both providers require every call to be
answered by a tool result before the conversation goes on, so the user message that follows (the
environment's answer to the whole turn, text and images) is preceded by one short result per call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TOOL_RESULT_NOTE", "anthropic_tool_use", "call_ids", "openai_tool_call"]

TOOL_RESULT_NOTE = "Carried out as part of this turn; the environment's answer to the whole turn follows."


def call_ids(calls: Sequence[Mapping[str, Any]], position: int) -> list[str]:
    """The calls' own ids, or stable stand-ins (``call_<message>_<index>``) for calls that came without one."""
    return [str(call.get("id") or f"call_{position}_{index}") for index, call in enumerate(calls)]


def openai_tool_call(call: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    """A neutral call as a Chat Completions ``tool_calls`` entry (arguments as JSON text)."""
    arguments = call.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return {"id": call_id, "type": "function", "function": {"name": str(call.get("name", "")), "arguments": arguments}}


def anthropic_tool_use(call: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    """A neutral call as an Anthropic ``tool_use`` block (arguments as an object)."""
    arguments = call.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = None
    if not isinstance(arguments, dict):
        arguments = {}  # the API only takes an object; the original text stays in the transcript
    return {"type": "tool_use", "id": call_id, "name": str(call.get("name", "")), "input": arguments}
