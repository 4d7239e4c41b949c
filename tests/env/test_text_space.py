import string

import gymnasium as gym
from hypothesis import given
from hypothesis import strategies as st

from theory_of_space.env.exploration import MAX_TEXT_LENGTH, TEXT_CHARSET
from theory_of_space.env.text_space import Text

ours = Text(40, min_length=2, charset=TEXT_CHARSET)
gymnasiums = gym.spaces.Text(40, min_length=2, charset=TEXT_CHARSET)


@given(st.one_of(st.text(alphabet=string.printable + "•°é\x00", max_size=50), st.integers(), st.none(), st.binary()))
def test_membership_agrees_with_gymnasium_text(value):
    assert ours.contains(value) == gymnasiums.contains(value)


def test_the_env_spaces_accept_their_own_observations_and_equal_gymnasium_text():
    env = gym.make("TheoryOfSpace/Explore-v0")
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space and "é" not in env.observation_space["text"]
    assert env.action_space == gym.spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
