"""MultiTurnTextEnv: many scenes side by side, chat messages in and out."""

import pytest

from theory_of_space.integrations.multiturn import MultiTurnTextEnv
from theory_of_space.integrations.training import TrainingEpisode


def test_multiturn_env_plays_many_scenes_side_by_side():
    env = MultiTurnTextEnv(3, reward="coverage", env_options={"n_rooms": 2, "max_exp_steps": 3})
    conversations = env.reset([{"seed": 0}, {"seed": 1}, {"seed": 2}])
    assert [[m["role"] for m in c] for c in conversations] == [["system", "user"]] * 3
    totals = [0.0, 0.0, 0.0]
    replies = ["FINAL ANSWER: Actions: [Rotate(90), Observe()]", "nonsense", "FINAL ANSWER: Actions: [Term()]"]
    conversations, rewards, dones, infos = env.step(replies)
    assert dones == [False, False, True]
    assert infos[1]["env_info"]["invalid_reason"] == "no_action_list"
    assert conversations[0][-2] == {"role": "assistant", "content": replies[0]}
    totals = [t + r for t, r in zip(totals, rewards)]
    while not all(dones):
        conversations, rewards, dones, infos = env.step(["FINAL ANSWER: Actions: [Observe()]", "x", None])
        totals = [t + r for t, r in zip(totals, rewards)]
    assert totals == pytest.approx([info["score"] for info in infos])
    assert totals[0] > 0 and totals[1] == 0.0 and totals[2] == 0.0
    # each env matches a single episode played alone
    alone = TrainingEpisode(reward="coverage", env_options={"n_rooms": 2, "max_exp_steps": 3})
    alone.reset(seed=0)
    alone.step(replies[0])
    alone.step("FINAL ANSWER: Actions: [Observe()]")
    alone.step("FINAL ANSWER: Actions: [Observe()]")
    assert alone.reward() == pytest.approx(totals[0])


def test_multiturn_env_takes_tool_calls_in_tools_mode():
    env = MultiTurnTextEnv(1, action_format="tools")
    (conversation,) = env.reset()
    assert "call the action tools" in conversation[1]["content"]
    calls = [{"name": "Rotate", "arguments": {"degrees": 90}}, {"name": "Observe", "arguments": {}}]
    (conversation,), (reward,), _, (info,) = env.step([calls])
    assert reward > 0
    assert info["env_info"]["valid"] and info["env_info"]["actions"] == ["Rotate(90)", "Observe()"]
    assert '"Rotate"' in conversation[-2]["content"]


def test_multiturn_env_checks_its_batch_sizes():
    env = MultiTurnTextEnv(2)
    with pytest.raises(ValueError, match="2 rows"):
        env.reset([{"seed": 0}])
    env.reset()
    with pytest.raises(ValueError, match="2 replies"):
        env.step(["a"])
    with pytest.raises(ValueError, match="n_envs"):
        MultiTurnTextEnv(0)
