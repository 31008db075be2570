"""Encoder speed, scaling and size on this CPU: liquid vs cfc vs transformer, as shipped.

    .venv/bin/python benchmarks/encoder_speed.py           # a few minutes on 2 cores
    .venv/bin/python benchmarks/encoder_speed.py --quick   # fewer repeats
    .venv/bin/python benchmarks/encoder_speed.py --threads 1   # per core, as `chart`'s workers run

Each model is configs/model/<name>.yaml behind an 8000 × d_model embedding, with the character
n-gram table when the YAML has one (indexed from a made-up vocabulary where two pieces in three
continue a word), as the product builds it; the tagging heads are negligible. fp32, 2 threads
(``--threads``).
Inference runs under torch.inference_mode() on full-length notes, warmed up, the models
alternating round by round, and reports the median round. Training (forward + backward + AdamW
step, with a linear tag head and cross-entropy) and peak memory run in a fresh process per model
and measurement: peak memory is the growth of the process's maximum resident set size
(resource.getrusage ru_maxrss) across the measured work, so it counts activations, gradients and
optimizer state, not the interpreter or the weights.

With glibc's default malloc, every tensor of 32 MiB or more gets fresh pages on every call (its
mmap threshold), which slows batch 16 x 2048 for every model; running with
MALLOC_MMAP_THRESHOLD_=4294967296 in the environment shows the models without that cost.

``liquid-small (numpy)`` is the same network as `chart` runs it on a CPU: the numpy runtime with
the compiled loop (chartlnn/inference/numpy_tagger.py), tagging heads and final norm included,
timed in the same rounds; its FLOPs are counted as liquid-small's (the heads, about 3% more, are
left out).

How close each model runs to the hardware: the script measures this CPU's fp32 peak itself (the
best of repeated 1024 x 1024 matrix products at the same thread count) and divides each model's
achieved FLOP/s (FLOPs per token as ``chartlnn evaluate`` counts them, times tokens/s) by it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import resource
import statistics
import time
import timeit

import chartlnn  # noqa: F401  (before torch, which loads numpy: chartlnn picks numpy's BLAS kernels)
import torch
import yaml
from torch import nn

from chartlnn.config import shipped_config
from chartlnn.evaluation.flops import forward_flops
from chartlnn.models import build_trunk, embed_tokens
from chartlnn.kernels.scan_library import library, scan_in_use
from chartlnn.models.tagger import Tagger

CONFIGS = shipped_config("model").parent
MODELS = ("liquid-small", "cfc-small", "transformer-small")
VOCAB = 8000
DEFAULT_THREADS = 2
SHAPES = ((16, 512), (16, 2048), (2, 8192), (1, 2048))
"""(batch, note length) for inference; 8192 runs at batch 2, and 2048 also at batch 1."""
TRAIN_SHAPE = (16, 512)
MEMORY_SHAPE = (16, 2048)
N_TAGS = 32
PEAK_SIZE = 1024
"""Side of the square fp32 matrix product that measures the CPU's peak FLOP/s."""


class Embedded(nn.Module):
    """Token ids → embedding → encoder: the part of the product whose cost depends on the model."""

    def __init__(self, name: str):
        super().__init__()
        config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
        self.embed, self.char_embed, self.encoder, _ = build_trunk(VOCAB, config)
        if self.char_embed is not None:
            self.char_embed.index([("##" if i % 3 else "") + f"w{i}" for i in range(VOCAB)])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(embed_tokens(self, ids), mask)


NUMPY = "liquid-small (numpy)"


def _numpy_runtime(name: str, threads: int):
    """The model as the numpy runtime runs it, from a Tagger of the same config (random weights),
    taking the torch batches this script makes; None where the compiled loop does not build."""
    if library() is None:
        return None
    from threadpoolctl import threadpool_limits

    from chartlnn.inference.numpy_tagger import NumpyTagger

    threadpool_limits(threads, user_api="blas")
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    tagger = Tagger(VOCAB, N_TAGS, N_TAGS, 4, config)
    if tagger.char_embed is not None:
        tagger.char_embed.index([("##" if i % 3 else "") + f"w{i}" for i in range(VOCAB)])
    weights = {key: value.numpy() for key, value in tagger.state_dict().items()}
    forward = NumpyTagger(weights, config, library(), threads=threads)
    return lambda ids, mask: forward(ids.numpy(), mask.numpy())


def _batch(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(0, VOCAB, (batch, length))
    return ids, torch.ones(batch, length, dtype=torch.bool)


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _train(name: str, steps: int, threads: int) -> tuple[float, float]:
    """In a fresh process: training tokens/s (median step) and peak memory growth in MiB."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Embedded(name).train()
    head = nn.Linear(model.embed.embedding_dim, N_TAGS)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-3)
    ids, mask = _batch(*TRAIN_SHAPE)
    tags = torch.randint(0, N_TAGS, TRAIN_SHAPE)
    before = _max_rss_mib()
    times = []
    for _ in range(steps + 1):  # the first step warms up (and allocates the optimizer state)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(head(model(ids, mask)).flatten(0, 1), tags.flatten())
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return ids.numel() / statistics.median(times[1:]), _max_rss_mib() - before


def _infer_memory(name: str, threads: int) -> float:
    """In a fresh process: peak memory growth (MiB) of one inference pass at MEMORY_SHAPE."""
    torch.set_num_threads(threads)
    model = Embedded(name).eval()
    ids, mask = _batch(*MEMORY_SHAPE)
    before = _max_rss_mib()
    with torch.inference_mode():
        model(ids, mask)
    return _max_rss_mib() - before


def _matmul_peak(repeats: int) -> float:
    """This CPU's fp32 FLOP/s at the current thread count: the best of ``repeats`` products."""
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    a @ b  # warm-up
    best = min(timeit.repeat(lambda: a @ b, number=1, repeat=repeats))
    return 2 * PEAK_SIZE ** 3 / best


def _inference_rates(models: dict[str, nn.Module], rounds: int) -> dict[tuple[str, tuple[int, int]], float]:
    """Median tokens/s per (model name, shape); the models alternate within every round."""
    batches = {shape: _batch(*shape) for shape in SHAPES}
    times: dict[tuple[str, tuple[int, int]], list[float]] = {}
    with torch.inference_mode():
        for round_ in range(rounds + 1):  # round 0 warms up
            for shape, (ids, mask) in batches.items():
                for name, model in models.items():
                    start = time.perf_counter()
                    model(ids, mask)
                    if round_:
                        times.setdefault((name, shape), []).append(time.perf_counter() - start)
    return {key: math.prod(key[1]) / statistics.median(t) for key, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 inference rounds and 2 training steps")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads for torch and BLAS, the peak measured at the same count")
    args = parser.parse_args()
    rounds, steps = (3, 2) if args.quick else (9, 6)
    threads = args.threads
    torch.set_num_threads(threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {threads} threads, fp32; load average at start "
          f"{os.getloadavg()[0]:.2f}")
    started = time.perf_counter()

    # The fresh processes go first: a child starts from its parent's ru_maxrss, so the parent must
    # not have grown yet.
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        train = {name: pool.apply(_train, (name, steps, threads)) for name in MODELS}
        memory = {name: pool.apply(_infer_memory, (name, threads)) for name in MODELS}
    torch.manual_seed(0)
    models = {name: Embedded(name).eval() for name in MODELS}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    encoder_params = {name: sum(p.numel() for p in m.encoder.parameters())
                      for name, m in models.items()}
    flops_per_token = {name: forward_flops(m, 2048)["total"] / 2048 for name, m in models.items()}
    numpy_runtime = _numpy_runtime("liquid-small", threads)
    if numpy_runtime is not None:
        models[NUMPY] = numpy_runtime
        params[NUMPY], encoder_params[NUMPY] = params["liquid-small"], encoder_params["liquid-small"]
        flops_per_token[NUMPY] = flops_per_token["liquid-small"]
    rates = _inference_rates(models, rounds)
    peak = _matmul_peak(5 * rounds)

    print(f"\n{scan_in_use()}; inference tokens/s (median of {rounds} rounds; batch x note length):")
    header = f"{'model':<21} {'params':>10} {'encoder':>9} " + " ".join(
        f"{f'{b}x{t}':>9}" for b, t in SHAPES) + f" {'8192/512':>9}"
    print(header)
    for name in models:
        cost_ratio = rates[(name, (16, 512))] / rates[(name, (2, 8192))]  # per-token cost, 8192 over 512
        print(f"{name:<21} {params[name]:>10,} {encoder_params[name]:>9,} "
              + " ".join(f"{rates[(name, shape)]:>9,.0f}" for shape in SHAPES) + f" {cost_ratio:>8.2f}x")
    print("(params: embedding + encoder; 8192/512: per-token cost at 8192 tokens over that at 512)")

    print(f"\nFLOP/s against this CPU's measured fp32 peak ({peak / 1e9:.1f} GFLOP/s, "
          f"{PEAK_SIZE} x {PEAK_SIZE} matrix product, {threads} threads):")
    print(f"{'model':<21} {'MFLOP/token':>11} " + " ".join(f"{f'{b}x{t}':>9}" for b, t in SHAPES))
    for name in models:
        fractions = (flops_per_token[name] * rates[(name, shape)] / peak for shape in SHAPES)
        print(f"{name:<21} {flops_per_token[name] / 1e6:>11.2f} "
              + " ".join(f"{100 * f:>8.0f}%" for f in fractions))
    print("(FLOPs per token as `chartlnn evaluate` counts them: matrix products and the recurrence)")

    b, t = TRAIN_SHAPE
    print(f"\ntraining, batch {b} x {t} (median of {steps} steps after one warm-up step), and peak memory "
          f"growth (ru_maxrss, fresh process per model):")
    print(f"{'model':<21} {'train tok/s':>11} {'train MiB':>10} {'infer MiB':>10}")
    for name in MODELS:
        rate, mib = train[name]
        print(f"{name:<21} {rate:>11,.0f} {mib:>10,.0f} {memory[name]:>10,.0f}")
    b, t = MEMORY_SHAPE
    print(f"(train MiB: over warm-up + measured steps, optimizer state included; "
          f"infer MiB: one pass at {b} x {t})")

    liquid, baseline = "liquid-small", "transformer-small"
    speedup = {shape: rates[(liquid, shape)] / rates[(baseline, shape)] for shape in SHAPES}
    print(f"\n{liquid} against {baseline} (targets in brackets):")
    print(f"  tokens/s at 16 x 2048: {speedup[(16, 2048)]:.1f}x   [>= 5x]")
    print(f"  tokens/s at 1 x 2048:  {speedup[(1, 2048)]:.1f}x")
    if NUMPY in models:
        print(f"  {NUMPY}, tokens/s at 16 x 2048: "
              f"{rates[(NUMPY, (16, 2048))] / rates[(baseline, (16, 2048))]:.1f}x")
    cost_ratio = rates[(liquid, (16, 512))] / rates[(liquid, (2, 8192))]
    print(f"  per-token cost 8192 over 512: {cost_ratio:.2f}x   [<= 1.3x]")
    print(f"  parameters: {params[baseline] / params[liquid]:.1f}x fewer   [>= 3x]")
    print(f"  training tokens/s: {train[liquid][0] / train[baseline][0]:.1f}x")
    print(f"\nwall time {time.perf_counter() - started:.0f} s; load average at end "
          f"{os.getloadavg()[0]:.2f} (other processes on this machine skew every figure)")


if __name__ == "__main__":
    main()
