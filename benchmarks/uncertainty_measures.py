"""Which uncertainty measure puts the notes a model gets wrong first: the review loop's pool
(benchmarks/active_learning.py's hospital), charted by a model, its least-sure notes under each
measure against the pool's exact labels.

    .venv/bin/python benchmarks/uncertainty_measures.py MODEL_DIR [--house uk] [--pool 500]

For each measure and N = 25, 50, 100: how many of the pool's entity errors the N least-sure notes
hold (a gold mention the chart lacks, or a chart mention not in gold, by field and bounds; fields
the model does not know are left out) and how many characters of section errors (a character
whose section in the chart is not its gold section). A random N holds about N / pool of each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from active_learning import hospital_notes

SIZES = (25, 50, 100)


def measures() -> dict[str, Callable]:
    """Each measure: (section probabilities, entity probabilities) → uncertainty."""
    from chartlnn.annotating.select import LEAST_SURE_TOKENS as K
    from chartlnn.annotating.select import least_sure, uncertainty
    from chartlnn.inference.decode import Tagged

    def every_token(s, e):
        return float(1.0 - np.concatenate([s, e]).astype(np.float64).mean())

    def mnlp(s, e):  # mean negative log probability of the chosen tags (Shen et al., 2017)
        return float(-np.log(np.concatenate([s, e]).astype(np.float64)).mean())

    def shipped(s, e):
        return uncertainty(Tagged(np.zeros(len(s), np.int64), s, np.zeros(len(e), np.int64), e,
                                  0, 1.0))

    return {"mean over every token (before)": every_token, "mean -log p over every token": mnlp,
            f"{K} least-sure tokens per head (shipped)": shipped,
            f"{K} least-sure entity tokens": lambda s, e: least_sure(e) if e.size else 0.0,
            f"{K} least-sure section tokens": lambda s, e: least_sure(s) if s.size else 0.0,
            "note length (tokens)": lambda s, e: float(len(e))}


def errors(note: dict, chart: dict, sections: list[str], entities: set[str]) -> tuple[int, int]:
    """(entity errors, section error characters) of one chart against the note's gold."""
    gold = {(s["start"], s["end"], s["field"]) for s in note["spans"] if s["field"] in entities}
    found = {(m["start"], m["end"], field) for field, ms in chart["entities"].items() for m in ms}
    number = {field: i + 1 for i, field in enumerate(sections)}
    gold_sections = np.zeros(len(note["text"]), np.int64)
    chart_sections = np.zeros(len(note["text"]), np.int64)
    for span in note["spans"]:
        if span["field"] in number:
            gold_sections[span["start"]:span["end"]] = number[span["field"]]
    for field, spans in chart["sections"].items():
        for span in spans:
            chart_sections[span["start"]:span["end"]] = number[field]
    return len(gold ^ found), int((gold_sections != chart_sections).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--house", default="uk")
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--test", type=int, default=200,
                        help="as active_learning.py's: the pool is the first notes of the same draw")
    args = parser.parse_args()

    from chartlnn.inference.model import load

    model = load(args.model)
    notes = hospital_notes(args.pool + args.test, seed=77, house=args.house)[:args.pool]
    texts = [note["text"] for note in notes]
    tagged = model.tag_many(texts)
    charts = [model.decoder.decode(text, encoded, tags, None, None)
              for text, (encoded, tags) in zip(texts, tagged)]
    counts = np.array([errors(note, chart, list(model.schema.sections), set(model.schema.entities))
                       for note, chart in zip(notes, charts)])
    total_entity, total_section = counts.sum(axis=0)
    print(f"{args.model}: {len(notes)} pool notes ({args.house} house style), {total_entity} entity "
          f"errors, {total_section / 1000:.1f}k section error characters\n")
    print("| measure | " + " | ".join(f"entity errors in {n}" for n in SIZES) + " | "
          + " | ".join(f"section error chars in {n}" for n in SIZES) + " |")
    print("|---|" + "---:|" * 2 * len(SIZES))
    print("| random (expected) | " + " | ".join(f"{total_entity * n / len(notes):.0f}" for n in SIZES)
          + " | " + " | ".join(f"{total_section * n / len(notes) / 1000:.1f}k" for n in SIZES)
          + " |")
    for name, measure in measures().items():
        values = np.array([measure(tags.section_prob, tags.entity_prob) for _, tags in tagged])
        order = np.argsort(-values, kind="stable")
        held = [counts[order[:n]].sum(axis=0) for n in SIZES]
        print(f"| {name} | " + " | ".join(f"{h[0]}" for h in held) + " | "
              + " | ".join(f"{h[1] / 1000:.1f}k" for h in held) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
