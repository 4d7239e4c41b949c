"""Tokens per second of greedy generation, unsteered and with each steering method.

Prints tokens/s and per-token time per condition and batch size, the ODESteer/unsteered and
ODESteer/CAA per-token ratios, and a micro-benchmark of ``steer`` alone (d=4096, n=8000, K=10).

* CPU (default when no GPU): a tiny random Llama; the ratio is large there and only reported.
* GPU: a random Llama shaped like Llama-3.1-8B (d=4096, 32 layers, 32 heads, 8 KV heads,
  intermediate 14,336) in bf16, built on the device; ``--layers`` lowers the depth if memory is
  short, which makes the comparison harsher. Target: ODESteer per-token time <= 1.25 x CAA's.

With ``--pipeline`` it also times the belief-inertia pipeline on the same model: activation
collection for contrastive pairs (tokens/s against plain forward passes of the same batches,
interleaved) and one small sweep, whose total time is split into collection, fitting,
teacher-forced scoring and probe generation.

Usage::

    python benchmarks/steering_speed.py                 # all conditions on the available device
    python benchmarks/steering_speed.py --quick         # unsteered, CAA and ODESteer only
    python benchmarks/steering_speed.py --quick --pipeline --batch-sizes 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from theory_of_space.steering import (
    CAA,
    ITI,
    ODESteer,
    SketchBarrier,
    Steerer,
    StepODESteer,
    attach,
)

GPU_TARGET = 1.25  # ODESteer per-token time / CAA per-token time


@dataclass(frozen=True)
class Timing:
    name: str
    batch: int
    seconds: float  # median wall time of one generate call
    new_tokens: int

    @property
    def per_token_ms(self) -> float:
        return 1000 * self.seconds / self.new_tokens

    @property
    def tokens_per_s(self) -> float:
        return self.batch * self.new_tokens / self.seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(device: torch.device, layers: int | None) -> tuple[torch.nn.Module, int]:
    """A random Llama: tiny on CPU, Llama-3.1-8B-shaped in bf16 on GPU."""
    if device.type == "cuda":
        config = LlamaConfig(
            vocab_size=128_256,
            hidden_size=4096,
            intermediate_size=14_336,
            num_hidden_layers=layers or 32,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=4096,
        )
        dtype = torch.bfloat16
    else:
        config = LlamaConfig(
            vocab_size=1000,
            hidden_size=256,
            intermediate_size=512,
            num_hidden_layers=layers or 4,
            num_attention_heads=8,
            num_key_value_heads=4,
            max_position_embeddings=1024,
        )
        dtype = torch.float32
    torch.manual_seed(0)
    with device:
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.pad_token_id = 0
    return model.eval(), config.hidden_size


def fit_steerers(d: int, device: torch.device, quick: bool) -> dict[str, Steerer]:
    """Steerers fitted on synthetic activations of width ``d`` (the speed does not depend on the data)."""
    g = torch.Generator().manual_seed(0)
    pos = (torch.randn(1000, d, generator=g) + 0.1).to(device)
    neg = (torch.randn(1000, d, generator=g) - 0.1).to(device)
    t0 = time.perf_counter()
    sketch = SketchBarrier(max_iter=100).fit(pos, neg)  # n=8000, the paper's settings
    print(f"fitted the n=8000 sketch barrier in {time.perf_counter() - t0:.1f} s")
    steerers: dict[str, Steerer] = {
        "CAA": CAA(T=0.5).fit(pos, neg),
        "ODESteer euler K=10": ODESteer(sketch, T=2.0, steps=10),
    }
    if not quick:
        auto = SketchBarrier(max_iter=100, grad="autograd").fit(pos, neg)
        steerers |= {
            "ITI": ITI(T=2.0, max_iter=100).fit(pos, neg),
            "ODESteer euler K=10 autograd": ODESteer(auto, T=2.0, steps=10),
            "ODESteer midpoint K=10": ODESteer(sketch, T=2.0, steps=10, solver="midpoint"),
            "ODESteer rk4 K=10": ODESteer(sketch, T=2.0, steps=10, solver="rk4"),
            "StepODESteer": StepODESteer(sketch, T=2.0),
        }
    return steerers


def median_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        times.append(_timed(fn, device))
    return statistics.median(times)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def generation_call(
    model: torch.nn.Module, steerer: Steerer | None, layer: int, batch: int, new_tokens: int
) -> Callable[[], object]:
    """A closure running one greedy generation of exactly ``new_tokens`` tokens."""
    device = model.get_input_embeddings().weight.device
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(3, model.config.vocab_size, (batch, 32), generator=g).to(device)
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}

    @torch.no_grad()
    def run() -> object:
        if steerer is None:
            return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        with attach(model, steerer, layer) as handle:
            handle.begin(ids.shape[1])
            return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)

    return run


def time_conditions(calls: dict[str, Callable[[], object]], device: torch.device, repeats: int) -> dict[str, float]:
    """Median seconds per condition; runs are interleaved so that drifting machine load hits all alike."""
    for fn in calls.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            times[name].append(_timed(fn, device))
    return {name: statistics.median(t) for name, t in times.items()}


def micro_benchmark(device: torch.device, repeats: int) -> None:
    """``steer`` alone at d=4096, n=8000, K=10."""
    g = torch.Generator().manual_seed(1)
    d = 4096
    pos = (torch.randn(600, d, generator=g) + 0.1).to(device)
    neg = (torch.randn(600, d, generator=g) - 0.1).to(device)
    print(f"\nsteer() alone on {device}, d={d}, n=8000, K=10:")
    for grad in ("analytic", "autograd"):
        steerer = ODESteer(SketchBarrier(max_iter=50, grad=grad).fit(pos, neg), T=2.0, steps=10)
        for batch in (1, 10):
            x = torch.randn(batch, d, generator=g).to(device)
            seconds = median_time(lambda s=steerer, x=x: s.steer(x), device, repeats)
            print(f"  {grad:9s} batch {batch:2d}: {1000 * seconds:8.2f} ms")


def _word_tokenizer(texts: list[str]):
    """A whitespace word-level tokenizer over the words of ``texts``, with a chat template, built offline."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|end|>"]
    words = sorted({w for t in texts for w in t.split()} - set(specials))
    core = Tokenizer(WordLevel(vocab={t: i for i, t in enumerate(specials + words)}, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|> {% endif %}"
    )
    return tok


def _synthetic_pairs(words: list[str], n_scenes: int, prompt_words: int):
    """Inertia pairs of random-word transcripts: two changed objects per scene, one per turn."""
    import random

    from theory_of_space.steering.inertia import (
        ChangedObject,
        FalseBeliefTurn,
        InertiaEpisode,
        ObjectState,
        pairs_from_episodes,
    )

    rng = random.Random(0)
    episodes = []
    for k in range(n_scenes):
        context = ({"role": "user", "content": " ".join(rng.choices(words, k=prompt_words))},)
        changes = (
            ChangedObject("lamp", "move", ObjectState((1, 2)), ObjectState((rng.randint(3, 9), -2))),
            ChangedObject("sofa", "rotate", ObjectState((0, 1), "north"), ObjectState((0, 1), "east")),
        )
        turns = (FalseBeliefTurn(0, context, ("lamp",)), FalseBeliefTurn(1, context, ("sofa",)))
        episodes.append(InertiaEpisode(f"scene{k}", k, changes, turns))
    return pairs_from_episodes(episodes)


def pipeline_benchmark(model: torch.nn.Module, device: torch.device, repeats: int, quick: bool) -> None:
    """Pair collection against plain forwards of the same batches, and one sweep's time split."""
    import tempfile

    from theory_of_space.steering import collect_activations
    from theory_of_space.steering.collect import _render_item
    from theory_of_space.steering.inertia_run import SweepConfig, run_inertia_sweep
    from theory_of_space.steering.tokens import encode, left_pad, position_ids

    words = [f"w{i}" for i in range(600)]
    pairs = _synthetic_pairs(words, n_scenes=8 if quick else 16, prompt_words=200)
    texts = [m["content"] for p in pairs for m in p.prompt] + [p.positive for p in pairs] + [p.negative for p in pairs]
    tok = _word_tokenizer(texts)
    items = [(p.prompt, p.positive) for p in pairs] + [(p.prompt, p.negative) for p in pairs]
    n_layers = model.config.num_hidden_layers
    layers = list(range(max(0, n_layers // 3), max(1, (2 * n_layers) // 3)))
    batch = 16
    opts = {"template": "auto", "plain_format": "{prompt}\n{completion}", "system_prompt": None}
    ids = [encode(tok, _render_item(tok, item, i, opts)) for i, item in enumerate(items)]
    ids.sort(key=len)
    batches = [left_pad(ids[i : i + batch], 0) for i in range(0, len(ids), batch)]
    n_tokens = sum(len(s) for s in ids)

    @torch.inference_mode()  # as collect_activations runs
    def plain() -> None:
        for b_ids, mask in batches:
            model(
                input_ids=b_ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids(mask).to(device),
                use_cache=False,
            )

    def collect() -> None:
        collect_activations(model, tok, items, layers, batch_size=batch)

    times = time_conditions({"plain forwards": plain, "collect_activations": collect}, device, repeats)
    print(f"\npair collection: {len(items)} items, {n_tokens} tokens, layers {layers}, batch {batch}")
    for label, seconds in times.items():
        print(f"  {label:20s} {n_tokens / seconds:10.0f} tok/s")
    print(f"  collection / plain time: {times['collect_activations'] / times['plain forwards']:.3f}")

    methods = ("caa", "odesteer") if quick else ("odesteer", "caa", "iti", "repe")
    config = SweepConfig(
        layers=layers,
        methods=methods,
        thetas=(-0.2, 0.0, 0.1, 0.3),
        max_new_tokens=16,
        n_components=2000 if quick else 8000,
        batch_size=batch,
    )
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        summary = run_inertia_sweep(model, tok, pairs, out, config)
        wall = time.perf_counter() - t0
    timing = summary["timing"]
    print(
        f"\nsweep: {len(pairs)} pairs, methods {','.join(methods)}, {len(layers)} layers x 4 thetas x 2 folds, "
        f"sketch n={config.n_components}, probe generation of 16 tokens on the 3 best points"
    )
    parts = ("collection", "fitting", "scoring", "generation")
    for key in parts:
        print(f"  {key:11s} {timing[key]:8.2f} s  ({100 * timing[key] / wall:5.1f} %)")
    print(f"  other       {wall - sum(timing[k] for k in parts):8.2f} s;  total {wall:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--new-tokens", type=int, default=128, help="greedy tokens per call (default 128)")
    parser.add_argument("--batch-sizes", default="1,10", help="comma-separated batch sizes (default 1,10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (default 5)")
    parser.add_argument("--layers", type=int, help="model depth (default 4 on CPU, 32 on GPU)")
    parser.add_argument("--quick", action="store_true", help="only unsteered, CAA and ODESteer")
    parser.add_argument("--no-micro", action="store_true", help="skip the steer() micro-benchmark")
    parser.add_argument("--pipeline", action="store_true", help="also time pair collection and one sweep")
    args = parser.parse_args()

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    model, d = build_model(device, args.layers)
    n_layers = model.config.num_hidden_layers
    layer = n_layers // 2 - 1
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; model: random Llama, d={d}, {n_layers} layers, {next(model.parameters()).dtype}")
    print(f"steered layer {layer}; {args.new_tokens} new tokens per call")
    print(f"median of {args.repeats} interleaved runs after a warm-up")
    steerers = fit_steerers(d, device, args.quick)

    results: list[Timing] = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        conditions = [("unsteered", None), *steerers.items()]
        calls = {label: generation_call(model, s, layer, batch, args.new_tokens) for label, s in conditions}
        for label, seconds in time_conditions(calls, device, args.repeats).items():
            results.append(Timing(label, batch, seconds, args.new_tokens))
            t = results[-1]
            print(f"  batch {batch:2d}  {label:30s} {t.tokens_per_s:9.1f} tok/s  {t.per_token_ms:8.3f} ms/token")

    print("\nper-token time ratios (ODESteer euler K=10):")
    ok = True
    for batch in sorted({t.batch for t in results}):
        by = {t.name: t.per_token_ms for t in results if t.batch == batch}
        ode = by["ODESteer euler K=10"]
        ratio_caa = ode / by["CAA"]
        print(f"  batch {batch:2d}: / unsteered {ode / by['unsteered']:.3f}   / CAA {ratio_caa:.3f}")
        ok &= ratio_caa <= GPU_TARGET
    if device.type == "cuda":
        print(f"GPU target ODESteer <= {GPU_TARGET} x CAA per token: {'met' if ok else 'MISSED'}")
    else:
        print("(CPU with a tiny model: the ratio is reported, not targeted)")
    if args.pipeline:
        pipeline_benchmark(model, device, args.repeats, args.quick)
    if not args.no_micro:
        micro_benchmark(device, args.repeats)


if __name__ == "__main__":
    main()
