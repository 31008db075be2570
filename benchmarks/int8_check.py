"""`load(..., int8=True)` (the model `chart --int8` runs: linear layers with dynamically quantized
int8 weights) against fp32: accuracy and speed on a prepared dataset's test split, headerless,
one thread, in this process.

    .venv/bin/python benchmarks/int8_check.py runs/final/liquid runs/final/data   # ~2 minutes

Prints entity value and section token micro F1 (the lever is acceptable only within 0.3 points)
and charts/s (best of 3 passes over the split: tokenizing, tagging, decoding, validation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def measure(model, split, schema, name: str) -> None:
    from chartlnn.evaluation.metrics import summarize
    from chartlnn.evaluation.systems import System, score_view

    scored = score_view(System(name, None, model.chart_many, model), split, schema, "input")
    entity = summarize([n.counts["entity_value"] for n in scored.notes])["micro"]["f1"]
    section = summarize([n.counts["section_token"] for n in scored.notes])["micro"]["f1"]
    texts, ids = list(split["input_text"]), list(split["id"])
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        model.chart_many(texts, ids)
        rates.append(len(texts) / (time.perf_counter() - started))
    print(f"{name}: entity value F1 {100 * entity:.2f}, section token F1 {100 * section:.2f}; "
          f"{max(rates):.1f} charts/s (best of {', '.join(f'{r:.1f}' for r in rates)})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    args = parser.parse_args()

    import torch

    from chartlnn.inference.model import load
    from chartlnn.preparing.dataset import load_prepared

    torch.set_num_threads(1)
    data = load_prepared(args.data)
    split = data.splits["test"]
    measure(load(args.model), split, data.schema, "fp32")
    measure(load(args.model, int8=True), split, data.schema, "int8 (dynamic, linear layers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
