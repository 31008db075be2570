"""What structured decoding gives, on one trained model: the same network's tags decoded ten
ways and scored like `chartlnn evaluate` does, headerless and with headers.

    python benchmarks/decoding_levers.py MODEL_DIR DATA_DIR [DATA_DIR ...]

1. per-token argmax, spans cut at every B- tag (the decoder before structured decoding);
2. + entity tags decoded as the most probable valid BIO sequence (``valid_bio``);
3. + every word tagged as one, its pieces' log-probabilities summed (``word_bio``);
4. + sections as runs of one field, short gaps filled and islands absorbed (``section_runs``);
5. + each line voting for one section field before the runs are cut (``whole_lines``);
6. + entity mentions trimmed of separators, hyphenated names joined (``tidy_mentions``);
7. + a section split where the tagger began one at a line start (``section_breaks``): two sections
   of one field in a row, their headers dropped, stay two spans;
8. + drug names inside an allergies section, with no dose, route or frequency after them on their
   line, made allergens (``listed_allergens``);
9. + a section split where the tagger began one inside a line, after a sentence or an inline
   header (``run_in_start``): notes written as one paragraph.

Each DATA_DIR is a prepared dataset whose gold split (when it has one, as `evaluate` chooses) or
test split is scored (e.g. MTSamples silver labels, and the gold set prepared with
``-O gold=benchmarks/gold/mtsamples-test.jsonl -O only_gold=true``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

from chartlnn.evaluation.systems import System, score_view, summarize_view
from chartlnn.inference import decode, model as model_module
from chartlnn.inference.model import load
from chartlnn.preparing.dataset import load_prepared
from chartlnn.tokenize import token_spans

METRICS = (("section_token", "section token"), ("section_span", "section span"),
           ("entity_value", "entity value"), ("entity_span_strict", "entity span"))


def _argmax_spans(self, text, encoded, tagged):
    """The decoder's spans before structured decoding: BIO runs of the argmax tags."""
    families = []
    for names, tags, probs in ((self.section_tags, tagged.section, tagged.section_prob),
                               (self.entity_tags, tagged.entity, tagged.entity_prob)):
        families.append([decode.FieldSpan(encoded.offsets[a][0], encoded.offsets[b - 1][1], label,
                                          float(probs[a:b].mean()))
                         for a, b, label in token_spans([names[t] for t in tags])])
    return families[0], families[1]


UNTIDY = mock.patch.object(decode, "tidy_mentions", lambda text, spans: list(spans))
UNBROKEN = mock.patch.object(decode, "section_breaks", lambda tags, newline, run_in: set())
LINE_STARTS_ONLY = mock.patch.object(decode, "run_in_start", lambda text, offsets, token: False)
AS_TAGGED = mock.patch.object(decode, "listed_allergens", lambda text, sections, entities: list(entities))
NUMBERS_CUT = mock.patch.object(decode, "_decimal_point", lambda text, at: False)
UNPAIRED = mock.patch.object(decode, "paired_pressures", lambda text, entities: list(entities))

WHOLE_NUMBERS_LATER = [NUMBERS_CUT, UNPAIRED]
"""The tenth row's steps, left out of the rows before it."""

VARIANTS = {
    "argmax": [mock.patch.object(model_module, "word_bio",
                                 lambda log_probs, continues: log_probs.argmax(-1)),
               mock.patch.object(decode.ChartDecoder, "spans", _argmax_spans), UNTIDY, AS_TAGGED,
               *WHOLE_NUMBERS_LATER],
    "+ valid BIO entities": [
        mock.patch.object(model_module, "word_bio",
                          lambda log_probs, continues: decode.valid_bio(log_probs, log_probs.argmax(-1))),
        mock.patch.object(decode.ChartDecoder, "spans", _argmax_spans), UNTIDY, AS_TAGGED,
        *WHOLE_NUMBERS_LATER],
    "+ whole-word entities": [mock.patch.object(decode.ChartDecoder, "spans", _argmax_spans), UNTIDY,
                              AS_TAGGED, *WHOLE_NUMBERS_LATER],
    "+ section runs": [mock.patch.object(decode, "whole_lines",
                                         lambda fields, newline, breaks=frozenset(): list(fields)),
                       UNTIDY, UNBROKEN, AS_TAGGED, *WHOLE_NUMBERS_LATER],
    "+ whole lines": [UNTIDY, UNBROKEN, AS_TAGGED, *WHOLE_NUMBERS_LATER],
    "+ tidied mentions": [UNBROKEN, AS_TAGGED, *WHOLE_NUMBERS_LATER],
    "+ sections split at line starts": [LINE_STARTS_ONLY, AS_TAGGED, *WHOLE_NUMBERS_LATER],
    "+ listed drugs made allergens": [LINE_STARTS_ONLY, *WHOLE_NUMBERS_LATER],
    "+ sections split inside a line": WHOLE_NUMBERS_LATER,
    "+ whole numbers, paired pressures": [],
}


def print_tables(data_dirs: Sequence[Path], column: str,
                 rows: dict[str, Callable[[], AbstractContextManager[System]]],
                 metrics: Sequence[tuple[str, str]] = METRICS, split: str | None = None) -> None:
    """For each prepared dataset, ``split`` or else its gold split (when it has one, as `evaluate`
    chooses) or its test split, scored headerless and with headers by each row's system (entered
    for its rows only), one markdown table per dataset."""
    for data in data_dirs:
        prepared = load_prepared(data)
        split_name = split or ("gold" if len(prepared.splits.get("gold", [])) else "test")
        if not len(prepared.splits.get(split_name, [])):
            sys.exit(f"{data}: no notes in its {split_name} split")
        notes = prepared.splits[split_name]
        print(f"\n{data}, {split_name} split ({len(notes)} notes)\n")
        print(f"| {column} | view | " + " | ".join(name for _, name in metrics) + " |")
        print("|---|---|" + "---:|" * len(metrics))
        for row, system_in in rows.items():
            with system_in() as system:
                for view, view_name in (("input", "headerless"), ("full", "with headers")):
                    summary = summarize_view(score_view(system, notes, prepared.schema, view), 1, 0)
                    cells = [f"{100 * summary.metrics[m]['micro']['f1']:.1f}" for m, _ in metrics]
                    print(f"| {row} | {view_name} | " + " | ".join(cells) + " |")


@contextmanager
def patched(patches: Sequence[Any], system: System) -> Iterator[System]:
    """``system``, with ``patches`` in force while it is used (a row of :func:`print_tables`)."""
    with ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield system


def model_and_data(doc: str) -> tuple[Path, list[Path]]:
    """The command line of a script that scores one model on prepared datasets."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    args = parser.parse_args()
    print(f"model: {args.model}; F1 in points (micro)")
    return args.model, args.data


def main() -> None:
    model_dir, data_dirs = model_and_data(__doc__)
    chart_model = load(model_dir)
    print_tables(data_dirs, "decoding", {
        variant: partial(patched, patches,
                         System(variant, str(model_dir), chart_model.chart_many, chart_model))
        for variant, patches in VARIANTS.items()})


if __name__ == "__main__":
    main()
