"""History control: how much of the conversation a model sees.

By default every turn is sent. ``turns=N`` keeps the system prompt, the first exchange (the first user
message holds the task's rules) and the last ``N`` user messages with the replies between them.
``images=M`` keeps the last ``M`` images and replaces older ones by a short text marker, so the text
still says an image was shown there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from theory_of_space.agents.base import IMAGE_PLACEHOLDER, Message

__all__ = ["OMITTED_IMAGE", "trim_history"]

OMITTED_IMAGE = "[image omitted]"


def trim_history(messages: Sequence[Message], *, turns: int | None = None, images: int | None = None) -> list[Message]:
    """Apply the history limits to a conversation.

    Args:
        messages: System message (optional) then alternating user and assistant turns.
        turns: User messages to keep at the end, besides the first exchange; ``None`` keeps all.
        images: Images to keep, counted from the end; ``None`` keeps all.

    Returns:
        A new list; the input is left unchanged.

    Raises:
        ValueError: ``turns`` is below 1 (the last user message is always needed) or ``images`` below 0.

    Example:
        >>> trim_history(conversation, turns=2, images=1)  # doctest: +SKIP
    """
    if turns is not None and turns < 1:
        raise ValueError(f"expected history turns >= 1 or None, got {turns}")
    if images is not None and images < 0:
        raise ValueError(f"expected history images >= 0 or None, got {images}")
    kept = list(messages) if turns is None else _last_turns(messages, turns)
    return kept if images is None else _last_images(kept, images)


def _last_turns(messages: Sequence[Message], turns: int) -> list[Message]:
    head: list[Message] = []
    index = 0
    if messages and messages[0].role == "system":
        head.append(messages[0])
        index = 1
    body = list(messages[index:])
    user_positions = [i for i, message in enumerate(body) if message.role == "user"]
    if len(user_positions) <= turns + 1:
        return head + body
    # The first exchange: the first user message and the reply to it.
    first_end = user_positions[1]
    start = user_positions[len(user_positions) - turns]
    return head + body[:first_end] + body[start:]


def _last_images(messages: list[Message], images: int) -> list[Message]:
    budget = images
    trimmed: list[Message] = []
    for message in reversed(messages):
        count = len(message.images)
        if count <= budget:
            budget -= count
            trimmed.append(message)
            continue
        keep = budget
        budget = 0
        pieces = message.content.split(IMAGE_PLACEHOLDER)
        drop = count - keep  # the oldest images of this message go first
        content = pieces[0]
        for position, piece in enumerate(pieces[1:]):
            content += (OMITTED_IMAGE if position < drop else IMAGE_PLACEHOLDER) + piece
        trimmed.append(replace(message, content=content, images=message.images[drop:]))
    trimmed.reverse()
    return trimmed
