"""Where a chart's time goes: milliseconds per note for each stage of `chart`'s worker, on one
thread, in each runtime a model runs in.

    .venv/bin/python benchmarks/chart_stages.py MODEL_DIR [--notes 1000] [--runtimes auto,torch]

Stages, as :func:`chartlnn.charting.worker.chart_notes` runs them on MTSamples notes (the first
``--notes`` distinct ones, in batches of 8 notes of similar length, at most 16,384 tokens):
the residual-PHI scan and mask, tokenizing, the forward pass (``model.forward``: the network),
tagging's rest (softmax, BIO-valid decoding of the entity tags), decoding into a Chart and
validating it against the Chart JSON Schema. Each runtime charts the notes ``--repeats`` times
after a warm-up, the runtimes alternating; the best repeat counts (other work only ever slows
one down). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

import chartlnn  # noqa: F401  (first: it picks numpy's BLAS kernels before anything loads numpy)
from chartlnn.charting.worker import MAX_BATCH_TOKENS, guard_phi
from chartlnn.inference.model import length_batches, load
from chartlnn.schema import validate_chart
from chart_speed import MTSAMPLES, mtsamples_notes  # a script beside this one
STAGES = ("PHI guard", "tokenize", "forward pass", "tag (softmax, BIO)", "decode", "validate")


def stage_seconds(model, texts: list[str], batch_size: int) -> dict[str, float]:
    """Seconds per stage for charting ``texts`` once."""
    seconds: dict[str, float] = defaultdict(float)
    forward = model.forward

    def timed_forward(ids, mask):
        start = time.perf_counter()
        out = forward(ids, mask)
        seconds["forward pass"] += time.perf_counter() - start
        return out

    model.forward = timed_forward
    try:
        start = time.perf_counter()
        guarded = [guard_phi(text, "mask")[0] for text in texts]
        seconds["PHI guard"] = time.perf_counter() - start
        start = time.perf_counter()
        encoded = [model.encode(text) for text in guarded]
        seconds["tokenize"] = time.perf_counter() - start
        tagged = [None] * len(texts)
        start = time.perf_counter()
        for batch in length_batches([len(e.ids) for e in encoded], MAX_BATCH_TOKENS, batch_size):
            for i, tags in zip(batch, model.tag([encoded[i] for i in batch])):
                tagged[i] = tags
        seconds["tag (softmax, BIO)"] = time.perf_counter() - start - seconds["forward pass"]
        start = time.perf_counter()
        charts = [model.decoder.decode(text, e, t, str(i), None)
                  for i, (text, e, t) in enumerate(zip(guarded, encoded, tagged))]
        seconds["decode"] = time.perf_counter() - start
        start = time.perf_counter()
        for chart in charts:
            validate_chart(chart)
        seconds["validate"] = time.perf_counter() - start
    finally:
        model.forward = forward
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--runtimes", default="auto,torch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    texts = mtsamples_notes(MTSAMPLES)[:args.notes]
    models = {}
    for runtime in args.runtimes.split(","):
        model = load(args.model, runtime=runtime)
        model.use_threads(1)
        models[f"{runtime} ({model.runtime})"] = model
    print(f"{len(texts)} MTSamples notes, one thread, batches of {args.batch_size}; load average "
          f"at start {os.getloadavg()[0]:.2f}")
    best: dict[str, dict[str, float]] = {}
    for repeat in range(args.repeats + 1):  # the first warms up (the compiled validator, caches)
        for name, model in models.items():
            seconds = stage_seconds(model, texts if repeat else texts[:20], args.batch_size)
            if not repeat:
                continue
            if name not in best or sum(seconds.values()) < sum(best[name].values()):
                best[name] = seconds
    print("\n| stage, ms per note | " + " | ".join(models) + " |")
    print("|---|" + "---:|" * len(models))
    for stage in STAGES:
        print(f"| {stage} | " + " | ".join(f"{1e3 * best[name][stage] / len(texts):.2f}"
                                           for name in models) + " |")
    print("| **total** | " + " | ".join(f"**{1e3 * sum(best[name].values()) / len(texts):.2f}**"
                                        for name in models) + " |")
    print("| notes/s on one core | " + " | ".join(f"{len(texts) / sum(best[name].values()):.1f}"
                                                   for name in models) + " |")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
