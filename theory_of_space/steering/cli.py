"""``tos steer fit | generate | pairs | sweep | eval | readout | experiment``: fit steerers on a local model,
try them, and measure whether they lower belief inertia.

Torch and transformers are imported inside the handlers, so registering the parser stays light.
Handlers raise ``ValueError`` or ``FileNotFoundError`` naming the bad option; the main CLI turns
them into an error message and exit code 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .experiment_cli import add_experiment_parser, needs_local_extra

METHODS = ("odesteer", "step-odesteer", "caa", "iti", "repe")
DTYPES = ("float32", "bfloat16", "float16")


def add_steer_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``steer fit | generate | pairs | sweep | eval | readout`` to an argparse subparsers object.

    Each leaf sets ``func`` to a handler ``(args) -> int``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="tos")
        >>> add_steer_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["steer", "fit", "--model", "m", "--layer", "3", "--pos", "p.txt",
        ...                    "--neg", "n.txt", "--out", "o"]).method
        'odesteer'
    """
    steer = subparsers.add_parser("steer", help="fit and apply activation steering (ODESteer and baselines)")
    sub = steer.add_subparsers(dest="steer_command", required=True)

    fit = sub.add_parser("fit", help="collect activations for two text files, fit a steerer and save it")
    _common(fit)
    fit.add_argument("--layer", type=int, required=True, help="steered block index (negative counts from the end)")
    fit.add_argument("--pos", help="positive items: .txt (one per line) or .jsonl")
    fit.add_argument("--neg", help="negative items: .txt (one per line) or .jsonl")
    fit.add_argument("--pairs", help="pairs.jsonl from `tos steer pairs` (instead of --pos and --neg)")
    fit.add_argument("--method", choices=METHODS, default="odesteer", help="steering method (default odesteer)")
    fit.add_argument("--T", type=float, default=1.0, help="strength saved with the steerer (default 1.0)")
    fit.add_argument("--steps", type=int, default=10, help="ODESteer solver steps K (default 10)")
    fit.add_argument("--solver", choices=("euler", "midpoint", "rk4"), default="euler", help="ODESteer solver")
    fit.add_argument("--n-components", type=int, default=8000, help="sketch size n (default 8000)")
    fit.add_argument("--read", choices=("last", "completion_last"), default="last", help="token read per item")
    fit.add_argument("--seed", type=int, default=0, help="seed of the barrier's random features (default 0)")
    fit.add_argument("--cache-dir", help="activation cache directory")
    fit.add_argument("--out", required=True, help="directory to write config.json and tensors.safetensors")
    fit.set_defaults(func=needs_local_extra(_fit))

    pairs = sub.add_parser("pairs", help="build belief-inertia contrastive pairs from false-belief episodes")
    pairs.add_argument(
        "--runs",
        required=True,
        help="a run folder with the false_belief phase (tos run, tos steer eval), an episodes .jsonl file, "
        "or a folder holding inertia_episodes.jsonl",
    )
    pairs.add_argument("--out", required=True, help="folder to write pairs.jsonl")
    pairs.add_argument("--old-source", choices=("ground_truth", "model"), default="ground_truth")
    pairs.add_argument("--probe", choices=("object", "global_fb"), default="object")
    pairs.add_argument("--paraphrase", action="store_true", help="draw the object question from paraphrases")
    pairs.add_argument("--seed", type=int, default=0)
    pairs.set_defaults(func=_pairs)

    sweep = sub.add_parser("sweep", help="cross-fitted layer x strength sweep against belief inertia")
    _common(sweep)
    sweep_source = sweep.add_mutually_exclusive_group(required=True)
    sweep_source.add_argument("--pairs", help="pairs.jsonl from `tos steer pairs`")
    sweep_source.add_argument("--runs", help="a run folder with the false_belief phase: its pairs (default options)")
    sweep.add_argument("--layers", help="blocks, e.g. 8:16 or 8,10,12 (default: 30-60 %% of the depth)")
    sweep.add_argument("--methods", default="odesteer,caa,iti,repe", help="comma-separated methods")
    sweep.add_argument("--theta", default="-0.2,0,0.05,0.1,0.2,0.3,0.5", help="relative displacements")
    sweep.add_argument("--folds", type=int, default=2, help="scene folds (default 2)")
    sweep.add_argument("--no-generate", action="store_true", help="choose on forced-choice inertia only")
    sweep.add_argument("--max-new-tokens", type=int, default=48)
    sweep.add_argument("--n-components", type=int, default=8000, help="sketch size n (default 8000)")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--out", required=True, help="run folder")
    sweep.set_defaults(func=needs_local_extra(_sweep))

    ev = sub.add_parser("score", help="a saved steerer against the unsteered model on held-out pairs")
    _common(ev)
    ev.add_argument("--steerer", required=True, help="directory written by `tos steer fit` or `sweep`")
    ev.add_argument("--pairs", required=True, help="pairs.jsonl")
    ev.add_argument("--scenes", help="comma-separated scenes to evaluate (default: all)")
    ev.add_argument("--T", type=float, help="strength (default: the saved one)")
    ev.add_argument("--layer", type=int, help="steered block (default: the one it was fitted on)")
    ev.add_argument("--no-generate", action="store_true", help="margins and forced choice only")
    ev.add_argument("--max-new-tokens", type=int, default=48)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", required=True, help="folder for answers.jsonl and the summary")
    ev.set_defaults(func=needs_local_extra(_score))

    ro = sub.add_parser("readout", help="per-layer read-outs of object states next to the model's reports")
    _common(ro)
    source = ro.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", help="pairs.jsonl: read each pair's changed object at its probe")
    source.add_argument("--runs", help="a run folder: read every observed object at every false-belief probe")
    ro.add_argument("--agent", help="with --runs: only this agent's (or condition's) episodes")
    ro.add_argument("--layers", required=True, help="blocks, e.g. 8:16 or 8,10,12")
    ro.add_argument("--no-generate", action="store_true", help="use the forced choice as the report")
    ro.add_argument("--alpha", type=float, default=1.0, help="ridge strength (default 1.0)")
    ro.add_argument("--max-new-tokens", type=int, default=48)
    ro.add_argument("--out", required=True, help="folder for readout.json (map_readout.json with --runs) and readouts/")
    ro.set_defaults(func=needs_local_extra(_readout))

    gen = sub.add_parser("generate", help="generate with a saved steerer and report h before and after")
    _common(gen)
    gen.add_argument("--steer", required=True, help="directory written by `tos steer fit`")
    gen.add_argument("--prompt", action="append", default=[], help="a prompt (repeat for several)")
    gen.add_argument("--prompts", help="file of prompts: .txt (one per line) or .jsonl (strings or {'prompt': ...})")
    gen.add_argument("--out", help="write one JSON line per prompt to this file instead of printing")
    gen.add_argument("--T", type=float, help="strength (default: the saved one)")
    gen.add_argument("--layer", type=int, help="steered block (default: the one it was fitted on)")
    gen.add_argument("--max-new-tokens", type=int, default=32, help="tokens to generate (default 32)")
    gen.add_argument("--show-unsteered", action="store_true", help="also print the unsteered generation")
    gen.set_defaults(func=needs_local_extra(_generate))

    add_experiment_parser(sub, _common)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="local HuggingFace model directory (never downloaded)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="model dtype (default float32)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--batch-size", type=int, default=16, help="rows per forward when collecting (default 16)")
    p.add_argument("--template", choices=("auto", "chat", "plain"), default="auto", help="prompt rendering")
    p.add_argument("--layers-path", help="dotted path of the decoder block list, if it cannot be found")


def _rows(path: Path, field: str) -> Iterator[tuple[int, Any]]:
    """``(line number, row)`` of each non-empty line: the line itself in a ``.txt`` file, its JSON in ``.jsonl``."""
    if not path.is_file():
        raise FileNotFoundError(f"`{field}`: no such file {path}")
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix != ".jsonl":
            yield n, line
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"`{field}` {path}:{n}: invalid JSON ({exc.msg})") from exc


def read_items(path: str | Path, field: str) -> list[Any]:
    """Items from a ``.txt`` file (one per non-empty line) or ``.jsonl`` file.

    A JSONL line is a string, ``{"text": ...}`` or ``{"prompt": ..., "completion": ...}``
    (``completion`` may be null for prompt-end items).

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: for an empty file or a malformed line, naming ``field`` and the line.
    """
    p = Path(path)
    items: list[Any] = []
    for n, row in _rows(p, field):
        if isinstance(row, str):
            items.append(row)
        elif isinstance(row, dict) and isinstance(row.get("text"), str):
            items.append(row["text"])
        elif (
            isinstance(row, dict)
            and "prompt" in row
            and (row.get("completion") is None or isinstance(row["completion"], str))
        ):
            prompt = row["prompt"]
            items.append((prompt if isinstance(prompt, str) else list(prompt), row.get("completion")))
        else:
            raise ValueError(f"`{field}` {p}:{n}: expected a string, {{'text'}} or {{'prompt', 'completion'}}")
    if len(items) < 2:
        raise ValueError(f"`{field}` {p}: expected at least 2 items, got {len(items)}")
    return items


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    import transformers

    path = Path(args.model)
    if not path.is_dir():
        raise FileNotFoundError(f"`--model`: {path} is not a local model directory")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs = {"local_files_only": True, "dtype": getattr(torch, args.dtype)}
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except ValueError:  # image-text-to-text models are not registered as causal LMs
        model = transformers.AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model.to(device).eval(), tokenizer


def _check_layer(model: Any, layer: int, layers_path: str | None) -> None:
    from .hooks import resolve_layers

    n = len(resolve_layers(model, layers_path)[1])
    if not -n <= layer < n:
        raise ValueError(f"`--layer`: expected a block index in [{-n}, {n - 1}] for this model, got {layer}")


def _make_steerer(args: argparse.Namespace) -> Any:
    from .barriers import SketchBarrier
    from .methods import CAA, ITI, ODESteer, RepE, StepODESteer

    barrier = SketchBarrier(n_components=args.n_components, seed=args.seed)
    if args.method == "odesteer":
        return ODESteer(barrier, T=args.T, steps=args.steps, solver=args.solver)
    if args.method == "step-odesteer":
        return StepODESteer(barrier, T=args.T)
    return {"caa": CAA, "iti": ITI, "repe": RepE}[args.method](T=args.T)


def _aligned(model: Any, tokenizer: Any, pos: list[Any], neg: list[Any], opts: dict[str, Any]) -> tuple[list, list]:
    """Paired items without the pairs that collection would skip on either side (rows stay in step)."""
    from .collect import too_long

    long = set(too_long(model, tokenizer, pos, **opts)) | set(too_long(model, tokenizer, neg, **opts))
    if long:
        lines = sorted(i + 1 for i in long)[:10]
        print(f"dropped {len(long)} pair(s) longer than the model's context: line(s) {lines}")
    keep = [i for i in range(len(pos)) if i not in long]
    return [pos[i] for i in keep], [neg[i] for i in keep]


def _fit(args: argparse.Namespace) -> int:
    from .collect import collect_activations, model_fingerprint

    if args.pairs is not None:
        if args.pos is not None or args.neg is not None:
            raise ValueError("`--pairs`: give either --pairs or --pos and --neg")
        from .inertia import read_pairs

        pairs = read_pairs(args.pairs)
        pos_items = [(p.prompt, p.positive) for p in pairs]
        neg_items = [(p.prompt, p.negative) for p in pairs]
    elif args.pos is None or args.neg is None:
        raise ValueError("`--pos`/`--neg`: both are required without --pairs")
    else:
        pos_items, neg_items = read_items(args.pos, "--pos"), read_items(args.neg, "--neg")
    steerer = _make_steerer(args)
    model, tokenizer = _load(args)
    _check_layer(model, args.layer, args.layers_path)
    opts = {
        "read": args.read,
        "template": args.template,
        "batch_size": args.batch_size,
        "cache_dir": args.cache_dir,
        "layers_path": args.layers_path,
    }
    if args.pairs is not None or (args.method == "repe" and len(pos_items) == len(neg_items)):
        pos_items, neg_items = _aligned(model, tokenizer, pos_items, neg_items, opts)
    pos = collect_activations(model, tokenizer, pos_items, args.layer, **opts)
    neg = collect_activations(model, tokenizer, neg_items, args.layer, **opts)
    steerer.fit(pos, neg)
    steerer.provenance = {
        "model": str(Path(args.model).resolve()),
        "model_fingerprint": model_fingerprint(model, [args.layer], args.layers_path),
        "layer": args.layer,
        "layers_path": args.layers_path,
        "method": args.method,
        "collection": {
            "read": args.read,
            "template": args.template,
            "dtype": args.dtype,
            "pos": args.pos,
            "neg": args.neg,
            "pairs": args.pairs,
        },
    }
    steerer.save(args.out)
    info = steerer.fit_info
    h_pos, h_neg = float(steerer.value(pos).mean()), float(steerer.value(neg).mean())
    print(f"fitted {type(steerer).__name__} on layer {args.layer}: {info.n_pos} positive, {info.n_neg} negative rows")
    print(f"median |a| = {info.median_norm:.4g} (the unit of T)")
    print(f"T = {steerer.T:g}, displacement {steerer.displacement():.4g}")
    if info.logistic is not None:
        print(f"training accuracy {info.logistic.train_accuracy:.3f}, converged: {info.logistic.converged}")
    print(f"mean h: positives {h_pos:.4g}, negatives {h_neg:.4g}")
    print(f"saved to {args.out}")
    return 0


def read_prompts(path: str | Path, field: str) -> list[Any]:
    """Prompts from a ``.txt`` file (one per non-empty line) or ``.jsonl`` file.

    A JSONL line is a string or ``{"prompt": ...}``, where the prompt is a string or a list of
    chat messages.

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: for an empty file or a malformed line, naming ``field`` and the line.
    """
    p = Path(path)
    prompts: list[Any] = []
    for n, row in _rows(p, field):
        prompt = row.get("prompt") if isinstance(row, dict) else row
        if isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt)):
            prompts.append(prompt)
        else:
            raise ValueError(f"`{field}` {p}:{n}: expected a string or {{'prompt': string or messages}}")
    if not prompts:
        raise ValueError(f"`{field}` {p}: no prompts")
    return prompts


def _generate(args: argparse.Namespace) -> int:
    from .collect import collect_activations
    from .generate import steered_generate
    from .io import load_steerer

    prompts: list[Any] = list(args.prompt)
    if args.prompts:
        prompts += read_prompts(args.prompts, "--prompts")
    if not prompts:
        raise ValueError("`--prompt`/`--prompts`: give at least one prompt")
    steerer = load_steerer(args.steer)
    layer = args.layer if args.layer is not None else steerer.provenance.get("layer")
    if layer is None:
        raise ValueError("`--layer`: the steerer records no layer; pass --layer")
    layers_path = args.layers_path or steerer.provenance.get("layers_path")
    if args.T is not None:
        steerer.T = float(args.T)
    if args.max_new_tokens < 1:
        raise ValueError(f"`--max-new-tokens`: expected a positive integer, got {args.max_new_tokens}")
    if args.batch_size < 1:
        raise ValueError(f"`--batch-size`: expected a positive integer, got {args.batch_size}")
    model, tokenizer = _load(args)
    _check_layer(model, layer, layers_path)
    settings = {
        "steerer": str(args.steer),
        "method": type(steerer).__name__,
        "layer": layer,
        "T": steerer.T,
        "displacement": steerer.displacement(),
        "max_new_tokens": args.max_new_tokens,
        "do_sample": False,
        "template": args.template,
        "dtype": args.dtype,
    }
    gen = {"max_new_tokens": args.max_new_tokens, "do_sample": False, "template": args.template}
    rows: list[dict[str, Any]] = []
    for start in range(0, len(prompts), args.batch_size):
        batch = prompts[start : start + args.batch_size]
        items = [(p, None) for p in batch]
        acts = collect_activations(
            model, tokenizer, items, layer, template=args.template, layers_path=layers_path, batch_size=len(batch)
        )
        before, after = steerer.value(acts), steerer.value(steerer.steer(acts))
        steered = steered_generate(model, tokenizer, batch, steerer, layer, layers_path=layers_path, **gen)
        plain = steered_generate(model, tokenizer, batch, **gen) if args.show_unsteered else None
        for i, prompt in enumerate(batch):
            row = {
                "prompt": prompt,
                "completion": steered.texts[i],
                "h_before": float(before[i]),
                "h_after": float(after[i]),
                "settings": settings,
            }
            if plain is not None:
                row["unsteered"] = plain.texts[i]
            rows.append(row)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"wrote {len(rows)} generations to {out}")
        return 0
    print(f"{type(steerer).__name__} on layer {layer}, T = {steerer.T:g} (displacement {steerer.displacement():.4g})")
    for row in rows:
        print(f"\nprompt: {row['prompt']}")
        print(f"h before: {row['h_before']:.4g}   h after: {row['h_after']:.4g}")
        print(f"steered: {row['completion']}")
        if "unsteered" in row:
            print(f"unsteered: {row['unsteered']}")
    return 0


def _layers_arg(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = text.split(":")
            return list(range(int(lo), int(hi)))
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ValueError(f"`--layers`: expected START:STOP or a comma-separated list, got {text!r}") from exc


def _floats_arg(text: str, field: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ValueError(f"`{field}`: expected comma-separated numbers, got {text!r}") from exc


def _pairs(args: argparse.Namespace) -> int:
    from .inertia import build_inertia_pairs, read_inertia_episodes, write_jsonl

    try:
        episodes = read_inertia_episodes(args.runs)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"`--runs`: {error}") from None
    pairs = build_inertia_pairs(
        episodes, old_source=args.old_source, probe=args.probe, paraphrase=args.paraphrase, seed=args.seed
    )
    out = Path(args.out) / "pairs.jsonl"
    write_jsonl(out, (p.to_dict() for p in pairs))
    scenes = len({p.scene for p in pairs})
    print(f"wrote {len(pairs)} pairs from {len(episodes)} episodes ({scenes} scenes) to {out}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .inertia import build_inertia_pairs, read_pairs
    from .inertia_run import METHODS as SWEEP_METHODS
    from .inertia_run import SweepConfig, run_inertia_sweep

    pairs = read_pairs(args.pairs) if args.pairs else build_inertia_pairs(args.runs, seed=args.seed)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in SWEEP_METHODS]
    if bad or not methods:
        raise ValueError(f"`--methods`: expected names from {SWEEP_METHODS}, got {args.methods!r}")
    config = SweepConfig(
        layers=_layers_arg(args.layers),
        methods=methods,
        thetas=_floats_arg(args.theta, "--theta"),
        n_folds=args.folds,
        generate=not args.no_generate,
        max_new_tokens=args.max_new_tokens,
        n_components=args.n_components,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    model, tokenizer = _load(args)
    for layer in config.layers or []:
        _check_layer(model, layer, args.layers_path)
    summary = run_inertia_sweep(model, tokenizer, pairs, args.out, config, layers_path=args.layers_path)
    print((Path(args.out) / "summary.md").read_text())
    return 0 if summary else 1


def _score(args: argparse.Namespace) -> int:
    from .inertia import read_pairs
    from .inertia_run import evaluate_steerer
    from .io import load_steerer

    pairs = read_pairs(args.pairs)
    if args.scenes:
        wanted = {s.strip() for s in args.scenes.split(",") if s.strip()}
        unknown = wanted - {p.scene for p in pairs}
        if unknown:
            raise ValueError(f"`--scenes`: not in {args.pairs}: {sorted(unknown)}")
        pairs = [p for p in pairs if p.scene in wanted]
    steerer = load_steerer(args.steerer)
    layer = args.layer if args.layer is not None else steerer.provenance.get("layer")
    if layer is None:
        raise ValueError("`--layer`: the steerer records no layer; pass --layer")
    if args.T is not None:
        steerer.T = float(args.T)
    model, tokenizer = _load(args)
    _check_layer(model, layer, args.layers_path)
    evaluate_steerer(
        model,
        tokenizer,
        pairs,
        steerer,
        layer,
        args.out,
        generate=not args.no_generate,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def _readout(args: argparse.Namespace) -> int:
    from .inertia import read_pairs
    from .inertia_run import readout_report

    layers = _layers_arg(args.layers) or []
    if not layers:
        raise ValueError(f"`--layers`: no layers in {args.layers!r}")
    if args.agent and not args.runs:
        raise ValueError("`--agent` goes with --runs")
    pairs = read_pairs(args.pairs) if args.pairs else []
    model, tokenizer = _load(args)
    for layer in layers:
        _check_layer(model, layer, args.layers_path)
    if args.runs:
        from theory_of_space.runner.map_readout import map_readout_lines, run_map_readout

        maps = run_map_readout(
            model, tokenizer, args.runs, layers, args.out, agent=args.agent, alpha=args.alpha,
            batch_size=args.batch_size, layers_path=args.layers_path, template=args.template,
        )
        print("\n".join(map_readout_lines(maps)))
        return 0
    report = readout_report(
        model,
        tokenizer,
        pairs,
        layers,
        args.out,
        generate=not args.no_generate,
        alpha=args.alpha,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    print(
        f"report ({report['report']}): accuracy {report['report_accuracy']:.3f}, inertia {report['report_inertia']:.3f}"
    )
    for layer, row in report["layers"].items():
        extra = ""
        if "inertia_moves_encoding_new" in row:
            extra = f", new state encoded on {row['inertia_moves_encoding_new']:.3f} of inertial moves"
        print(f"layer {layer}: position exact {row['position_exact']:.3f}, facing {row['facing_accuracy']:.3f}{extra}")
    return 0
