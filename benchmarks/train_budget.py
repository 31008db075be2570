"""Train models for the same wall-clock budget on one prepared dataset and score them on its test
split, headerless (the real task) and with headers. Prints a side-by-side table.

    .venv/bin/python benchmarks/train_budget.py --data runs/mtsamples --minutes 15 \
        --models liquid-small transformer-small --out runs/budget
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from chartlnn.config import load_config
from chartlnn.preparing.dataset import load_prepared
from chartlnn.training.datamodule import score_split
from chartlnn.inference.model import load
from chartlnn.training.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--models", nargs="+", default=["liquid-small", "transformer-small"])
    parser.add_argument("--out", type=Path, default=Path("runs/budget"))
    parser.add_argument("--init", type=Path, help="start every model from this directory")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    config = load_config(TrainConfig, None,
                         {"max_minutes": args.minutes, "pretrain_minutes": 0, "max_epochs": 1000,
                          "lr": 0.003, "head_lr_scale": 1.0,  # the rates of a trunk from nothing
                          "accelerator": "cpu", "devices": 1, "early_stopping_patience": 1000})
    test = load_prepared(args.data).splits["test"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"budget {args.minutes} min per model; test notes {len(test)}")
    rows = []
    for name in args.models:
        out = args.out / name
        start = time.perf_counter()
        train(args.data, out, model=name, config=config, overwrite=True, init=args.init)
        minutes = (time.perf_counter() - start) / 60
        model = load(out)
        params = sum(p.numel() for p in model.tagger.parameters())
        headerless, headers = score_split(model, test, "input"), score_split(model, test, "full")
        rows.append((name, params, minutes, headerless, headers))
    print("| model | params | train min | headerless section token F1 | headerless entity F1 "
          "| headerless field F1 | with headers section token F1 | with headers entity F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, params, minutes, hl, wh in rows:
        print(f"| {name} | {params:,} | {minutes:.1f} | {hl['section_token_f1']:.3f} | {hl['entity_f1']:.3f} "
              f"| {hl['field_f1']:.3f} | {wh['section_token_f1']:.3f} | {wh['entity_f1']:.3f} |")


if __name__ == "__main__":
    main()
