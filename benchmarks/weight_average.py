"""A model whose weights are the mean of several trained models' (a "model soup", Wortsman et
al. 2022): one network's cost, in the hope of an ensemble's accuracy.

    python benchmarks/weight_average.py OUT MODEL_DIR MODEL_DIR [MODEL_DIR ...]
    chartlnn evaluate --data DATA --model OUT --baseline MODEL_DIR ...

Averaging works where the models lie in one basin of the loss, as fine-tunes of one pretrained
parent with a short fine-tune often do. The models must share their config's model and labels
and their tokenizer (the same vocabulary rows); OUT gets the first one's config, schema and
tokenizer and the mean of every float tensor (integer tensors, the n-gram index, must be equal).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from chartlnn.inference.model import MODEL_FILES

SHARED = ("model", "labels", "vocab_size")
"""config.yaml keys the averaged models must agree on."""


def average(models: list[Path], out: Path) -> None:
    first = models[0]
    for model in models:
        missing = [name for name in MODEL_FILES if not (model / name).is_file()]
        if missing:
            sys.exit(f"{model}: not a model directory (missing {', '.join(missing)})")
    configs = [yaml.safe_load((m / "config.yaml").read_text(encoding="utf-8")) for m in models]
    tokenizers = [(m / "tokenizer.json").read_bytes() for m in models]
    for model, config, tokenizer in zip(models[1:], configs[1:], tokenizers[1:]):
        if any(config.get(key) != configs[0].get(key) for key in SHARED) \
                or tokenizer != tokenizers[0]:
            sys.exit(f"{model}: not the same network as {first} (model, labels or tokenizer)")
    tensors = [load_file(m / "model.safetensors") for m in models]
    mean = {}
    for name, value in tensors[0].items():
        if value.is_floating_point():
            mean[name] = (sum(t[name].double() for t in tensors) / len(tensors)).to(value.dtype)
        elif all(torch.equal(t[name], value) for t in tensors[1:]):
            mean[name] = value
        else:
            sys.exit(f"{name}: an integer tensor that differs between the models")
    out.mkdir(parents=True, exist_ok=True)
    save_file(mean, out / "model.safetensors")
    for name in ("schema.yaml", "tokenizer.json"):
        shutil.copyfile(first / name, out / name)
    config = dict(configs[0], averaged_from=[str(m) for m in models])
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give at least two model directories")
    average(args.models, args.out)
    print(f"wrote {args.out}: the mean of {len(args.models)} models' weights")


if __name__ == "__main__":
    main()
