"""``tos steer experiment``: false-belief episodes on a local model, unsteered and with saved steerers.

The command plays (or reads back) one false-belief episode per scene seed, then runs
:func:`~theory_of_space.runner.inertia.run_inertia_experiment` with every steerer given. Everything
is stored under ``--out``, so a second run with the same options skips what is done.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PLAYERS = ("model", "updating", "inertial")


def add_experiment_parser(sub: argparse._SubParsersAction, common: Any) -> None:
    """Register ``experiment`` under ``tos steer``; ``common`` adds the shared model options."""
    ex = sub.add_parser("experiment", help="false-belief episodes played and probed, unsteered and steered")
    common(ex)
    ex.add_argument("--steerer", action="append", required=True, help="steerer directory (repeat for several)")
    ex.add_argument("--layer", type=int, help="steered block (default: the one each steerer was fitted on)")
    ex.add_argument("--seeds", required=True, help="scene seeds, e.g. 0:8 or 0,3,5")
    ex.add_argument("--player", choices=PLAYERS, default="model", help="who plays the stored episodes (default model)")
    ex.add_argument("--apply-to", choices=("probes", "fb_phase", "all"), default="probes", help="what is steered")
    ex.add_argument("--max-steps", type=int, default=20, help="exploration budget (default 20)")
    ex.add_argument("--max-false-belief-steps", type=int, default=15, help="false-belief budget (default 15)")
    ex.add_argument("--max-new-tokens", type=int, default=512, help="tokens per reply (default 512)")
    ex.add_argument("--in-flight", type=int, default=8, help="requests in flight, batched by the model (default 8)")
    ex.add_argument("--seed", type=int, default=0, help="bootstrap and fold seed")
    ex.add_argument("--readout-layers", help="also read maps from these blocks' activations (e.g. 8:16 or 8,12)")
    ex.add_argument("--alpha", type=float, default=1.0, help="ridge strength of the map read-outs (default 1.0)")
    ex.add_argument("--out", required=True, help="run folder")
    ex.set_defaults(func=run_experiment_command)


def parse_ints(text: str, field: str = "--seeds") -> list[int]:
    """``"0:4"`` → ``[0, 1, 2, 3]``; ``"1,5"`` → ``[1, 5]`` (seeds or blocks).

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
    """Handler of ``tos steer experiment``."""
    from theory_of_space.agents.model_agent import make_model_agent
    from theory_of_space.runner.inertia import run_inertia_experiment
    from theory_of_space.runner.replay import episode_from_dict, episode_to_dict, play_false_belief
    from theory_of_space.world.generate import generate_scene

    from .io import load_steerer

    model = Path(args.model)
    if not model.is_dir():
        raise FileNotFoundError(f"`--model`: {model} is not a local model directory")
    seeds = parse_ints(args.seeds)
    conditions: dict[str, Any] = {}
    for folder in args.steerer:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"`--steerer`: {path} is not a steerer directory")
        steerer = load_steerer(path)
        layer = args.layer if args.layer is not None else steerer.provenance.get("layer")
        if layer is None:
            raise ValueError(f"`--layer`: the steerer {path} records no layer; pass --layer")
        if path.name in conditions or path.name == "unsteered":
            raise ValueError(f"`--steerer`: two conditions would be named {path.name!r}; rename a folder")
        conditions[path.name] = (steerer, int(layer))
    root = Path(args.out)
    env_kwargs = {"max_exp_steps": args.max_steps, "max_false_belief_steps": args.max_false_belief_steps}
    config = {
        "model": str(model.resolve()),
        "dtype": args.dtype,
        "template": args.template,
        "seeds": seeds,
        "player": args.player,
        "apply_to": args.apply_to,
        "env": env_kwargs,
        "max_new_tokens": args.max_new_tokens,
        "conditions": {
            name: {"steerer": str(Path(f).resolve()), "layer": c[1]}
            for (name, c), f in zip(conditions.items(), args.steerer, strict=True)
        },
    }
    _check_config(root / "config.json", config)
    overrides = {
        "device": args.device or "auto",
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "max_tokens": args.max_new_tokens,
        "temperature": 0,
        "chat_template": "plain" if args.template == "plain" else "model",
    }
    with make_model_agent(f"hf:{model}", overrides=overrides) as agent:
        player = agent if args.player == "model" else args.player

        def base(seed: int) -> Any:
            path = root / "base" / f"seed{seed}.json"
            if path.is_file():
                return episode_from_dict(json.loads(path.read_text()))
            episode = play_false_belief(generate_scene(seed), player, env_kwargs=env_kwargs)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(episode_to_dict(episode)) + "\n")
            return episode

        with ThreadPoolExecutor(max_workers=max(1, min(args.in_flight, len(seeds)))) as pool:
            episodes = list(pool.map(base, seeds))
        run_inertia_experiment(
            episodes,
            agent,
            conditions,
            root,
            apply_to=args.apply_to,
            in_flight=args.in_flight,
            seed=args.seed,
            env_kwargs=env_kwargs,
        )
        if args.readout_layers:
            _readout(args, agent.client.local, episodes, root)
    print((root / "summary.md").read_text())
    return 0


def _readout(args: argparse.Namespace, local: Any, episodes: list[Any], root: Path) -> None:
    """Map read-outs on the unsteered condition's probes, written to ``readout/``."""
    from theory_of_space.runner.inertia import stored_condition
    from theory_of_space.runner.map_readout import map_readout_report

    from .hooks import resolve_layers

    n = len(resolve_layers(local.model, args.layers_path)[1])
    layers = parse_ints(args.readout_layers, "--readout-layers")
    if not all(0 <= i < n for i in layers):
        raise ValueError(f"`--readout-layers`: expected blocks in [0, {n - 1}] for this model, got {layers}")
    played, records = stored_condition(episodes, root)
    report = map_readout_report(
        local.model,
        local.tokenizer,
        played,
        records,
        layers,
        root / "readout",
        alpha=args.alpha,
        seed=args.seed,
        batch_size=args.batch_size,
        layers_path=args.layers_path,
    )
    json_acc = report["json"]
    print(f"map read-out on {report['n_rows']} objects at {report['n_probes']} probes (unsteered):")
    print(f"  JSON map: position exact {json_acc['position_exact']:.3f}, facing {json_acc['facing_accuracy']:.3f}")
    for layer, row in report["layers"].items():
        print(f"  layer {layer}: position exact {row['position_exact']:.3f}, facing {row['facing_accuracy']:.3f}")


def _check_config(path: Path, config: dict[str, Any]) -> None:
    """Write the run's configuration, or check that a resumed run has the same one."""
    if path.is_file():
        stored = json.loads(path.read_text())
        changed = sorted(k for k in config if stored.get(k) != config[k])
        if changed:
            raise ValueError(
                f"`--out`: {path.parent} holds a run with other settings ({', '.join(changed)}); "
                "use another folder to change them"
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
