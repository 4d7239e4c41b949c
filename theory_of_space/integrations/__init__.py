"""Adapters for LLM reinforcement-learning trainers.

- :mod:`theory_of_space.integrations.training`: one training episode (exploration, then optional
  evaluation questions) with a reward that cannot be gamed; shared by the adapters below.
- :mod:`theory_of_space.integrations.trl`: an ``environment_factory`` class for TRL's ``GRPOTrainer``.
- :mod:`theory_of_space.integrations.multiturn`: :class:`MultiTurnTextEnv`, plain chat messages in and out,
  batched over scenes, for verl- or verifiers-style rollout loops.

Nothing here imports TRL: the adapters are plain Python classes that follow TRL's conventions.
"""
