"""Helpers for probe tests: episodes of fixed replies."""

from __future__ import annotations


class ScriptedReplies:
    """An explorer that plays fixed replies in order."""

    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)

    def act(self, messages):
        from theory_of_space.agents.base import AgentReply, CallRecord

        return AgentReply(self.replies.pop(0), CallRecord(self.name))


def play(scene, replies, **env_kwargs):
    """Run one episode of fixed replies on ``scene``."""
    import gymnasium as gym

    import theory_of_space  # noqa: F401  (registers the env ids)
    from theory_of_space.runner.episode import run_episode

    with gym.make("TheoryOfSpace/Explore-v0", **env_kwargs) as env:
        return run_episode(env, ScriptedReplies(replies), options={"scene": scene})


OBSERVE = "THINK: look\nFINAL ANSWER: Actions: [Observe()]"
TURN_RIGHT = "THINK: turn\nFINAL ANSWER: Actions: [Rotate(90), Observe()]"
TERM = "THINK: done\nFINAL ANSWER: Actions: [Term()]"
