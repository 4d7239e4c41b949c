"""The env's text space: Gymnasium's ``Text`` with a membership test that scales to long observations."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory


class Text(spaces.Text):
    """``gymnasium.spaces.Text`` whose ``contains`` checks the characters in one set operation.

    Gymnasium tests membership one character at a time in Python, about 0.5 ms for a 3,600-character
    observation, and the passive env checker does that on every new env's first reset and step. The
    answer is the same for every input.
    """

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length and self.character_set.issuperset(x)


@create_shared_memory.register(Text)
def _refuse_shared_memory(space: Text, n: int = 1, ctx: Any = None) -> Any:
    # AsyncVectorEnv decodes the shared buffer into strings once, when it is built, and hands those same
    # strings back on every later step: text would read as the charset's first character forever.
    raise TypeError(
        "the TheoryOfSpace envs' text observations cannot be shared through shared memory; use "
        "AsyncVectorEnv(..., shared_memory=False), e.g. gym.make_vec(..., vectorization_mode='async', "
        "vector_kwargs={'shared_memory': False})"
    )
