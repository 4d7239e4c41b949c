"""The one rendering function for prompts and completions, shared by collection, scoring and agents.

Pure string work on a tokenizer's chat template; it imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Template = Literal["auto", "chat", "plain"]
Messages = Sequence[dict[str, Any]]
DEFAULT_PLAIN_FORMAT = "{prompt}\n{completion}"


@dataclass(frozen=True)
class Rendered:
    """A rendered item.

    Attributes:
        text: the full text to tokenise.
        add_special_tokens: whether the tokenizer should add BOS/EOS (False for chat text, which
            already holds them).
        completion_end: character index just after the completion in ``text`` (``None`` for
            prompt-only items).
    """

    text: str
    add_special_tokens: bool
    completion_end: int | None


def uses_chat_template(tokenizer: Any, template: Template) -> bool:
    """Whether ``template`` resolves to the tokenizer's chat template.

    Raises:
        ValueError: for an unknown ``template`` or ``"chat"`` without a chat template.
    """
    if template not in ("auto", "chat", "plain"):
        raise ValueError(f"expected 'auto', 'chat' or 'plain' for `template`, got {template!r}")
    has_chat = bool(getattr(tokenizer, "chat_template", None))
    if template == "chat" and not has_chat:
        raise ValueError("template='chat' but the tokenizer has no chat template; use template='plain'")
    return template == "chat" or (template == "auto" and has_chat)


def _messages(prompt: str | Messages, system_prompt: str | None) -> list[dict[str, Any]]:
    if isinstance(prompt, str):
        msgs: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, Sequence) and all(isinstance(m, dict) and "role" in m for m in prompt):
        msgs = [dict(m) for m in prompt]
    else:
        raise TypeError(f"expected a string or a list of chat messages for `prompt`, got {type(prompt).__name__}")
    if system_prompt is not None:
        msgs.insert(0, {"role": "system", "content": system_prompt})
    return msgs


def render(
    tokenizer: Any,
    prompt: str | Messages,
    completion: str | None = None,
    *,
    template: Template = "auto",
    plain_format: str = DEFAULT_PLAIN_FORMAT,
    system_prompt: str | None = None,
) -> Rendered:
    """Render a prompt, optionally followed by a completion, as the model sees it.

    Under a chat template the prompt becomes user message(s) (after an optional system message)
    and the completion an assistant turn; a prompt-only item gets the generation prompt. The plain
    format fills ``{prompt}`` and ``{completion}``; a prompt-only item keeps the text before
    ``{completion}``.

    Args:
        tokenizer: a HuggingFace tokenizer (only its chat template is used).
        prompt: a string or a list of ``{"role", "content"}`` messages.
        completion: the completion, or ``None`` for a prompt-only item.
        template: ``"auto"`` (chat template when there is one), ``"chat"`` or ``"plain"``.
        plain_format: format string with ``{prompt}`` and ``{completion}`` fields.
        system_prompt: optional system message (a first line in plain format).

    Returns:
        The text, whether to add special tokens, and where the completion ends.

    Example:
        >>> class Plain:
        ...     chat_template = None
        >>> render(Plain(), "Q: 2+2?", "4").text
        'Q: 2+2?\\n4'
    """
    if completion is not None and not isinstance(completion, str):
        raise TypeError(f"expected a string or None for `completion`, got {type(completion).__name__}")
    if uses_chat_template(tokenizer, template):
        msgs = _messages(prompt, system_prompt)
        if completion is None:
            text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            return Rendered(text, add_special_tokens=False, completion_end=None)
        msgs.append({"role": "assistant", "content": completion})
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
        at = text.rfind(completion)
        if at < 0:
            raise ValueError("the chat template does not reproduce the completion text verbatim")
        return Rendered(text, add_special_tokens=False, completion_end=at + len(completion))
    if "{prompt}" not in plain_format or "{completion}" not in plain_format:
        raise ValueError(f"expected `plain_format` with {{prompt}} and {{completion}} fields, got {plain_format!r}")
    if not isinstance(prompt, str):
        prompt = "\n".join(str(m.get("content", "")) for m in _messages(prompt, None))
    head = "" if system_prompt is None else system_prompt + "\n"
    if completion is None:
        text = head + plain_format.split("{completion}", 1)[0].format(prompt=prompt)
        return Rendered(text, add_special_tokens=True, completion_end=None)
    text = head + plain_format.format(prompt=prompt, completion=completion)
    at = text.rfind(completion)
    return Rendered(text, add_special_tokens=True, completion_end=at + len(completion))
