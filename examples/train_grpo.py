"""Train a small local model to explore with TRL's GRPOTrainer, acting through the benchmark's tools.

Each rollout plays one scene: TRL resets an :class:`~theory_of_space.integrations.trl.ExplorationToolEnv`
with a dataset row (its ``seed`` and ``n_rooms`` choose the scene), the model calls the action tools, and
the reward is the episode's final information gain (or another mix, see ``--reward``).

Needs the ``rl`` extra (``pip install -e ".[rl]"`` in your clone) and a model whose chat template supports tool
calling and is known to TRL (Qwen3, Qwen2.5, Llama 3.1/3.2, ...). Example:

    python examples/train_grpo.py --model Qwen/Qwen3-0.6B --output-dir runs/grpo --max-steps 200
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from theory_of_space.integrations.trl import ExplorationToolEnv


def build_dataset(*, n_scenes: int, n_rooms: int, first_seed: int = 0):
    """One row per scene: an empty user turn (the env's ``reset`` fills it in), a seed and a room count."""
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": ""}] for _ in range(n_scenes)],
            "seed": list(range(first_seed, first_seed + n_scenes)),
            "n_rooms": [n_rooms] * n_scenes,
        }
    )


def build_trainer(
    model: str,
    *,
    output_dir: str,
    max_steps: int = 100,
    num_generations: int = 4,
    n_scenes: int = 64,
    n_rooms: int = 2,
    reward: str | dict[str, float] = "info_gain",
    max_exp_steps: int = 10,
    max_completion_length: int = 1024,
    max_tool_calling_iterations: int = 10,
    learning_rate: float = 1e-6,
    use_cpu: bool = False,
    seed: int = 0,
    environment_factory: Callable[[], Any] | None = None,
    **config: Any,
):
    """A GRPOTrainer on the exploration environment.

    Args:
        model: A model id or folder with a tool-calling chat template.
        output_dir: Where checkpoints and logs go.
        max_steps: Optimisation steps.
        num_generations: Rollouts per scene (the GRPO group); also the batch size.
        n_scenes: Scenes in the dataset (seeds ``0 .. n_scenes - 1``).
        n_rooms: Rooms per scene.
        reward: The reward mix (see :mod:`theory_of_space.integrations.training`).
        max_exp_steps: The exploration budget of each episode.
        max_completion_length: Tokens of one rollout, tool results included.
        max_tool_calling_iterations: Model turns after the first one.
        learning_rate: The optimiser's step size.
        use_cpu: Train on the CPU.
        seed: The trainer's seed.
        environment_factory: Replaces the default factory (tests use it to keep the env instances).
        config: Further ``GRPOConfig`` settings.
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory is marked experimental
    from trl import GRPOConfig, GRPOTrainer

    factory = environment_factory or functools.partial(
        ExplorationToolEnv, reward=reward, env_options={"max_exp_steps": max_exp_steps}
    )
    args = GRPOConfig(
        output_dir=output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=num_generations,
        num_generations=num_generations,
        max_completion_length=max_completion_length,
        max_tool_calling_iterations=max_tool_calling_iterations,
        learning_rate=learning_rate,
        use_cpu=use_cpu,
        seed=seed,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        **config,
    )
    return GRPOTrainer(
        model=model,
        args=args,
        train_dataset=build_dataset(n_scenes=n_scenes, n_rooms=n_rooms),
        environment_factory=factory,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model id or folder (tool-calling chat template)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--n-scenes", type=int, default=64)
    parser.add_argument("--n-rooms", type=int, default=2)
    parser.add_argument(
        "--reward",
        default="info_gain",
        help="a component (info_gain, coverage, task_accuracy) or JSON weights, e.g. '{\"info_gain\": 1}'",
    )
    parser.add_argument("--max-exp-steps", type=int, default=10)
    parser.add_argument("--max-completion-length", type=int, default=1024)
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument("--cpu", action="store_true", help="train on the CPU")
    args = parser.parse_args(argv)
    reward = json.loads(args.reward) if args.reward.lstrip().startswith("{") else args.reward
    trainer = build_trainer(
        args.model,
        output_dir=args.output_dir,
        max_steps=args.max_steps,
        num_generations=args.num_generations,
        n_scenes=args.n_scenes,
        n_rooms=args.n_rooms,
        reward=reward,
        max_exp_steps=args.max_exp_steps,
        max_completion_length=args.max_completion_length,
        learning_rate=args.learning_rate,
        use_cpu=args.cpu,
    )
    trainer.train()
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
