"""One dial, two answer keys: entity decoding with the training loss's tag weights divided out or
leaned on further, scored on silver and on gold labels.

    python benchmarks/entity_prior.py MODEL_DIR DATA_DIR [DATA_DIR ...] [--alphas=-1,-0.5,0,0.5,1]
        [--split validation]

Training weighs each entity tag's loss by w = (tokens tagged O / tokens with the tag) **
``entity_tag_balance`` (:func:`chartlnn.training.train.entity_tag_weights`, over the model's
training split), so the network's tag probabilities lean toward rare tags by about w: it finds
more mentions than an unweighted loss would. Here each token's entity tag log-probabilities lose
``alpha * log w`` before the whole-word, BIO-valid decoding `chart` runs: alpha 0 is the network's
own probabilities, 1 divides the lean out (an unweighted loss's posterior, in theory), -1 doubles
it; `chart` ships -0.5 (``chartlnn.inference.model.MENTION_LEAN``). Each DATA_DIR's gold split
(or its test split; ``--split`` names another) is scored as `chartlnn evaluate` scores it,
headerless and with headers. Silver labels are the rules' output: they reward stopping where the
rules' lexicon stops. Gold labels reward the mentions the rules miss.

``--train-data`` names the dataset the model trained on when its config.yaml records no
``entity_tag_weights`` and its ``data`` path is not where it was.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import yaml

from chartlnn.evaluation.systems import System
from chartlnn.inference.model import load
from chartlnn.preparing.dataset import load_prepared
from chartlnn.training.train import entity_tag_weights
from decoding_levers import patched, print_tables  # a script beside this one

METRICS = (("entity_value", "entity value"), ("entity_span_strict", "entity span"))


def log_tag_weights(model_dir: Path, train_data: Path | None) -> np.ndarray:
    """log w per entity tag, in the model's tag order, as its training computed w: recorded in its
    config.yaml, or for a model trained before they were, computed again from its training data."""
    config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    if config.get("entity_tag_weights"):
        return np.log(np.asarray(config["entity_tag_weights"]))
    balance = config["train"]["entity_tag_balance"]
    split = load_prepared(train_data or config["data"]).splits["train"]
    names = split.features["input_entity_tags"].feature.names
    if names != config["labels"]["entity_tags"]:
        sys.exit(f"{model_dir}: its entity tags are not those of the training data it names")
    weights = entity_tag_weights(split, balance)
    return np.log(np.asarray(weights)) if weights else np.zeros(len(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--alphas", default="-1,-0.5,0,0.5,1")
    parser.add_argument("--train-data", type=Path)
    parser.add_argument("--split", help="the split to score (default: gold, else test)")
    args = parser.parse_args()
    log_weights = log_tag_weights(args.model, args.train_data)
    print(f"model: {args.model}; entity tag weights {np.exp(log_weights).min():.2f} to "
          f"{np.exp(log_weights).max():.2f}; F1 in points (micro)")
    chart_model = load(args.model)
    system = System(args.model.name, str(args.model), chart_model.chart_many, chart_model)
    rows = {}
    for alpha in (float(a) for a in args.alphas.split(",")):
        lean = (-alpha * log_weights).astype(np.float32)
        rows[f"{alpha:g}"] = partial(patched, [mock.patch.object(chart_model, "entity_lean", lean)],
                                     system)
    print_tables(args.data, "alpha", rows, METRICS, args.split)


if __name__ == "__main__":
    main()
