"""The learning curve of trained models: validation F1 (headerless, per-token argmax, as training
selects checkpoints) against training minutes, read from each model directory's training log.

    .venv/bin/python benchmarks/learning_curve.py MODEL_DIR [MODEL_DIR ...] [--every 5]

Minutes come from the ``val/train_minutes`` the trainer logs at each validation; logs written
before it existed show epochs only. A model trained from an encoder pretrained for it
(``pretrain_minutes``, or ``--init`` a ``chartlnn pretrain`` directory) counts from the start of
that pretraining: its minutes are offset by the pretraining's budget. Figures are only comparable
between runs made on the same machine with the same threads and load.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml

COLUMNS = (("val/field_f1", "field F1"), ("val/section_token_f1", "section token F1"),
           ("val/entity_f1", "entity F1"))


def validation_rows(model_dir: Path) -> list[dict[str, str]]:
    """The rows of ``logs/metrics.csv`` that carry validation scores, in order."""
    path = model_dir / "logs" / "metrics.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row.get("val/field_f1")]


def pretraining_minutes(model_dir: Path) -> float:
    """The budget of the masked-token pretraining the model started from (0 when it did not)."""
    config_path = model_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    parent = Path((config.get("parent") or {}).get("path", ""))
    parent_config = parent / "config.yaml" if parent.parts else None
    if parent_config is None or not parent_config.exists():
        return 0.0
    parent_config = yaml.safe_load(parent_config.read_text())
    return float(parent_config["train"]["max_minutes"] or 0) if parent_config.get("pretrained") else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--every", type=int, default=5, help="print every Nth validation (and the last)")
    args = parser.parse_args()
    for model_dir in args.models:
        rows = validation_rows(model_dir)
        offset = pretraining_minutes(model_dir)
        after = f", after {offset:g} minutes of masked-token pretraining" if offset else ""
        print(f"\n{model_dir}: {len(rows)} validations{after}\n")
        if not rows:
            continue
        print("| epoch | minutes | " + " | ".join(label for _, label in COLUMNS) + " |")
        print("|---:|---:|" + "---:|" * len(COLUMNS))
        shown = [r for i, r in enumerate(rows) if i % args.every == 0 or i == len(rows) - 1]
        for row in shown:
            minutes = row.get("val/train_minutes") or ""
            minutes = f"{offset + float(minutes):.1f}" if minutes else "-"
            scores = " | ".join(f"{100 * float(row[key]):.1f}" for key, _ in COLUMNS)
            print(f"| {row['epoch']} | {minutes} | {scores} |")
        best = max(rows, key=lambda r: float(r["val/field_f1"]))
        print(f"\nbest field F1 {100 * float(best['val/field_f1']):.1f} at epoch {best['epoch']}")


if __name__ == "__main__":
    main()
