"""Does domain pretraining help when labeled notes are few? Pretrain the encoder on every train
note's text (labels unused), then fine-tune on N labeled notes, against the same fine-tuning from
scratch; score both on the test split, headerless.

    .venv/bin/python benchmarks/pretrain_few_labels.py --data runs/mtsamples --labeled 50 \
        --pretrain-minutes 8 --finetune-minutes 3 --out runs/pretrain
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch
from datasets import DatasetDict

from chartlnn.config import load_config
from chartlnn.preparing.dataset import load_prepared, save_prepared
from chartlnn.preparing.data_card import render_markdown
from chartlnn.training.datamodule import score_split
from chartlnn.inference.model import load
from chartlnn.training.train import TrainConfig, pretrain, train


def few_labeled(data: Path, n: int, out: Path, seed: int = 0) -> Path:
    """A copy of the prepared dataset whose train split keeps only ``n`` notes."""
    prepared = load_prepared(data)
    splits = DatasetDict({**prepared.splits,
                          "train": prepared.splits["train"].shuffle(seed=seed).select(range(n))})
    card = {**prepared.card, "note": f"train split cut to {n} notes for a few-label experiment"}
    save_prepared(out, splits, prepared.tokenizer, prepared.schema, card, render_markdown(card))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--labeled", type=int, default=50)
    parser.add_argument("--model", default="liquid-small")
    parser.add_argument("--pretrain-minutes", type=float, default=8.0)
    parser.add_argument("--finetune-minutes", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("runs/pretrain"))
    args = parser.parse_args()

    def budget(minutes: float) -> TrainConfig:
        return load_config(TrainConfig, None,
                           {"max_minutes": minutes, "pretrain_minutes": 0, "max_epochs": 1000,
                            "lr": 0.003, "head_lr_scale": 1.0,  # both arms at one rate
                            "accelerator": "cpu", "devices": 1, "early_stopping_patience": 1000})

    small = few_labeled(args.data, args.labeled, args.out / f"data-{args.labeled}")
    pre = pretrain(args.data, args.out / "pretrained", model=args.model,
                   config=budget(args.pretrain_minutes), overwrite=True)
    test = load_prepared(args.data).splits["test"]
    results = {}
    for name, init in (("from scratch", None), ("from pretrained", args.out / "pretrained")):
        out = args.out / name.replace(" ", "-")
        train(small, out, model=args.model, init=init, config=budget(args.finetune_minutes),
              overwrite=True)
        results[name] = score_split(load(out), test, "input")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"{args.model}: pretrained {args.pretrain_minutes} min on {args.data}'s train notes "
          f"(validation masked-token loss {pre['val/mlm_loss']:.3f}); fine-tuned "
          f"{args.finetune_minutes} min on {args.labeled} labeled notes; test split, headerless")
    print("| start | section token F1 | entity F1 | field F1 |")
    print("|---|---:|---:|---:|")
    for name, scores in results.items():
        print(f"| {name} | {scores['section_token_f1']:.3f} | {scores['entity_f1']:.3f} "
              f"| {scores['field_f1']:.3f} |")


if __name__ == "__main__":
    main()
