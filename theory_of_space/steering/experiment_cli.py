"""``tos steer eval``: false-belief episodes of a local model, unsteered and with saved steerers, as one run.

The command runs :func:`~theory_of_space.runner.inertia.run_inertia_experiment` with every steerer
given. Everything is stored under ``--out`` in the layout of ``tos run`` (one agent folder per
condition), so a second run with the same options asks only what is missing, and ``tos rescore``
and ``tos report`` read the folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from theory_of_space.runner.inertia import APPLY_TO, PLAYERS, SUMMARY_MD_FILE


def add_experiment_parser(sub: argparse._SubParsersAction, common: Any) -> None:
    """Register ``eval`` under ``tos steer``; ``common`` adds the shared model options."""
    ex = sub.add_parser("eval", help="false-belief episodes played and probed, unsteered and steered, as one run")
    common(ex)
    ex.add_argument("--steerer", action="append", required=True, help="steerer directory (repeat for several)")
    ex.add_argument("--layer", type=int, help="steered block (default: the one each steerer was fitted on)")
    ex.add_argument("--scenes", required=True, help="scenes as in tos run: 0:8 (seeds 0..7), 3,5, tos:run00")
    ex.add_argument("--player", choices=PLAYERS, default="model", help="who plays the base episodes (default model)")
    ex.add_argument("--apply-to", choices=APPLY_TO, default="probes", help="what is steered (default probes)")
    ex.add_argument("--max-steps", type=int, default=20, help="exploration budget (default 20)")
    ex.add_argument("--max-false-belief-steps", type=int, default=15, help="false-belief budget (default 15)")
    ex.add_argument("--max-new-tokens", type=int, default=512, help="tokens per reply (default 512)")
    ex.add_argument("--in-flight", type=int, default=8, help="requests in flight, batched by the model (default 8)")
    ex.add_argument("--seed", type=int, default=0, help="bootstrap and fold seed")
    ex.add_argument("--readout-layers", help="also read maps from these blocks' activations (e.g. 8:16 or 8,12)")
    ex.add_argument("--alpha", type=float, default=1.0, help="ridge strength of the map read-outs (default 1.0)")
    ex.add_argument("--quiet", action="store_true", help="no progress display")
    ex.add_argument("--out", required=True, help="run folder")
    ex.set_defaults(func=needs_local_extra(run_experiment_command))


def needs_local_extra(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``handler``, first checking that torch and transformers are installed (an error with the install command)."""

    def run(args: argparse.Namespace) -> int:
        from theory_of_space.agents.clients import require

        require("torch", extra="local")
        require("transformers", extra="local")
        return handler(args)

    return run


def parse_ints(text: str, field: str) -> list[int]:
    """``"0:4"`` → ``[0, 1, 2, 3]``; ``"1,5"`` → ``[1, 5]`` (blocks).

    Raises:
        ValueError: naming ``field`` for anything else, or for no integer at all.
    """
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            values = list(range(start, stop))
        else:
            values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"`{field}`: expected START:STOP or comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"`{field}`: no integer in {text!r}")
    return values


def run_experiment_command(args: argparse.Namespace) -> int:
    """Handler of ``tos steer eval``."""
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.inertia import run_inertia_experiment
    from theory_of_space.runner.progress import Progress

    from .io import load_steerer

    model = Path(args.model)
    if not model.is_dir():
        raise FileNotFoundError(f"`--model`: {model} is not a local model directory")
    conditions: dict[str, Any] = {}
    for folder in args.steerer:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"`--steerer`: {path} is not a steerer directory")
        steerer = load_steerer(path)
        layer = args.layer if args.layer is not None else steerer.provenance.get("layer")
        if layer is None:
            raise ValueError(f"`--layer`: the steerer {path} records no layer; pass --layer")
        if path.name in conditions:
            raise ValueError(f"`--steerer`: two conditions would be named {path.name!r}; rename a folder")
        conditions[path.name] = (steerer, int(layer))
    overrides = {
        "device": args.device or "auto",
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "max_tokens": args.max_new_tokens,
        "temperature": 0,
        "chat_template": "plain" if args.template == "plain" else "model",
    }
    root = Path(args.out)
    with make_model_agent(f"hf:{model}", overrides=overrides) as agent:
        summary = run_inertia_experiment(
            agent,
            args.scenes,
            conditions,
            root,
            apply_to=args.apply_to,
            player=args.player,
            max_exp_steps=args.max_steps,
            max_false_belief_steps=args.max_false_belief_steps,
            in_flight=args.in_flight,
            seed=args.seed,
            progress=None if args.quiet else Progress(),
        )
        if args.readout_layers:
            _readout(args, agent.client.local, root)
    print((root / SUMMARY_MD_FILE).read_text())
    print(f"tos report {root}  # the benchmark report, one row per condition")
    return 1 if summary["errors"] else 0


def _readout(args: argparse.Namespace, local: Any, root: Path) -> None:
    """Map read-outs on the unsteered condition's probes, written to ``readout/``."""
    from theory_of_space.runner.inertia import UNSTEERED
    from theory_of_space.runner.map_readout import map_readout_lines, run_map_readout

    from .hooks import resolve_layers

    n = len(resolve_layers(local.model, args.layers_path)[1])
    layers = parse_ints(args.readout_layers, "--readout-layers")
    if not all(0 <= i < n for i in layers):
        raise ValueError(f"`--readout-layers`: expected blocks in [0, {n - 1}] for this model, got {layers}")
    report = run_map_readout(
        local.model,
        local.tokenizer,
        root,
        layers,
        root / "readout",
        agent=UNSTEERED,
        alpha=args.alpha,
        seed=args.seed,
        batch_size=args.batch_size,
        layers_path=args.layers_path,
        template=args.template,
    )
    print("\n".join(map_readout_lines(report)).replace("probes:", "probes (unsteered):", 1))
