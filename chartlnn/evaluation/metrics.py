"""Field-level metrics on Charts, what the evaluator reports (tag-level scores used in training
are :mod:`chartlnn.tag_scores`).

``score_chart``: a Chart against the gold labels, per note, on every metric of
``CHART_METRICS``; ``summarize`` pools notes, ``bootstrap_f1`` puts 95% intervals on the pooled F1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from chartlnn.tag_scores import prf, span_scores, token_scores


# Every metric is kept as per-note counts (tp, fp, fn per field), so the whole split's scores are
# sums and a bootstrap over notes is a resampling of rows.

CHART_METRICS = ("entity_value", "entity_span_strict", "entity_span_partial", "section_token",
                 "section_span")
"""entity_value: normalized values, exact (a multiset per note and field; mentions whose text has
no readable value are left out on both sides). entity_span_strict: same field and character
bounds. entity_span_partial: same field and any overlap (each gold span matched at most once).
section_token: tokens given the same section field. section_span: same field and exact bounds."""


def _numbers_as_floats(value):
    """120 and 120.0 are the same reading: sources differ in whether they write whole numbers
    as integers (the normalizer does for mmHg and /min, JSON exports often do not)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {key: _numbers_as_floats(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_as_floats(item) for item in value]
    return value


def _value_key(value) -> str:
    return json.dumps(_numbers_as_floats(value), sort_keys=True)


def _counts(tp: Counter, fp: Counter, fn: Counter) -> dict[str, list[int]]:
    return {f: [tp[f], fp[f], fn[f]] for f in sorted(set(tp) | set(fp) | set(fn))}


def value_bag(mentions: Iterable[tuple[str, object]]) -> Counter:
    """One note's ``(field, value)`` pairs as the multiset values are compared in: numbers as
    floats, dicts by their sorted keys; mentions with no readable value left out."""
    return Counter((f, _value_key(v)) for f, v in mentions if v is not None)


def value_counts(gold: Iterable[tuple[str, object]], pred: Iterable[tuple[str, object]]
                 ) -> dict[str, list[int]]:
    """Per-field [tp, fp, fn] of normalized ``(field, value)`` pairs of one note (multisets)."""
    gold_bag, pred_bag = value_bag(gold), value_bag(pred)
    both = gold_bag & pred_bag
    tp, fp, fn = Counter(), Counter(), Counter()
    for bag, counter in ((both, tp), (pred_bag - both, fp), (gold_bag - both, fn)):
        for (field, _), n in bag.items():
            counter[field] += n
    return _counts(tp, fp, fn)


def char_span_counts(gold: Iterable[tuple[int, int, str]], pred: Iterable[tuple[int, int, str]],
                     partial: bool = False) -> dict[str, list[int]]:
    """Per-field [tp, fp, fn] of character spans ``(start, end, field)`` of one note: exact bounds,
    or with ``partial`` any overlap, each gold span matching at most one prediction."""
    gold, pred = sorted(set(gold)), sorted(set(pred))
    tp, fp, fn = Counter(), Counter(), Counter()
    unmatched = list(gold)
    for start, end, field in pred:
        match = next((g for g in unmatched if g[2] == field and (
            (g[0], g[1]) == (start, end) if not partial else g[0] < end and start < g[1])), None)
        if match is None:
            fp[field] += 1
        else:
            tp[field] += 1
            unmatched.remove(match)
    fn.update(field for _, _, field in unmatched)
    return _counts(tp, fp, fn)


def tag_counts(gold: Sequence[str], pred: Sequence[str], tokens: bool) -> dict[str, list[int]]:
    """Per-field [tp, fp, fn] of one note's BIO tags: per token, or per exact span."""
    scores = (token_scores if tokens else span_scores)([gold], [pred])
    return {f: [s["tp"], s["fp"], s["fn"]] for f, s in scores.items()}


def summarize(per_note: Sequence[dict[str, list[int]]]) -> dict:
    """Per-field precision/recall/F1, micro (pooled counts) and macro (mean F1 over the fields with
    gold support) over notes' counts."""
    totals: dict[str, list[int]] = {}
    for counts in per_note:
        for field, (tp, fp, fn) in counts.items():
            total = totals.setdefault(field, [0, 0, 0])
            total[0] += tp
            total[1] += fp
            total[2] += fn
    per_field = {f: prf(*c) for f, c in sorted(totals.items())}
    supported = [s["f1"] for s in per_field.values() if s["support"]]
    return {"per_field": per_field,
            "micro": prf(*(sum(c[i] for c in totals.values()) for i in range(3))),
            "macro_f1": sum(supported) / len(supported) if supported else 0.0}


def bootstrap_f1(per_note: Sequence[dict[str, list[int]]], resamples: int = 1000, seed: int = 0,
                 baseline: Sequence[dict[str, list[int]]] | None = None) -> dict[str, float]:
    """95% percentile interval of the micro F1 over notes resampled with replacement; with
    ``baseline`` (the same notes scored for another system) also the interval of the difference,
    on the same resamples — the paired test behind "within 1 point"."""
    rng = np.random.default_rng(seed)

    def pooled(rows):
        return np.array([[sum(c[i] for c in counts.values()) for i in range(3)] for counts in rows],
                        dtype=np.float64)  # (notes, 3)

    def f1(sums):  # (R, 3) -> (R,)
        tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
        return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=2 * tp + fp + fn > 0)

    ours = pooled(per_note)
    draws = rng.integers(0, len(ours), size=(resamples, len(ours)))  # (R, notes)
    scores = f1(ours[draws].sum(1))
    result = {"f1": float(f1(ours.sum(0, keepdims=True))[0]),
              "ci95": [float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))]}
    if baseline is not None:
        difference = scores - f1(pooled(baseline)[draws].sum(1))
        result["difference_ci95"] = [float(np.percentile(difference, 2.5)),
                                     float(np.percentile(difference, 97.5))]
    return result


@dataclass
class NoteScore:
    """One note's counts for every chart metric, plus what only makes sense per note."""

    counts: dict[str, dict[str, list[int]]]
    """Metric name (CHART_METRICS) → field → [tp, fp, fn]."""
    exact_match: bool
    """Every entity field's values are exactly the gold ones (no value missed or invented)."""
    section_confusion: Counter
    """(gold field, predicted field) → tokens, "none" for tokens outside any section."""


def gold_entities(text: str, spans: Iterable[dict], fields: Iterable[str]
                  ) -> list[tuple[int, int, str, object]]:
    """Gold mentions ``(start, end, field, value)`` of the entity ``fields`` from a prepared
    example's spans: the stored normalized value, or the text normalized when the source gave none."""
    from chartlnn.inference.decode import field_value

    fields = set(fields)
    out = []
    for span in (s for s in spans if s["label"] in fields):
        attrs = json.loads(span["attrs"]) if isinstance(span["attrs"], str) else span["attrs"]
        value = attrs["value"] if "value" in attrs else field_value(span["label"],
                                                                    text[span["start"]:span["end"]])
        out.append((span["start"], span["end"], span["label"], value))
    return out


def score_chart(chart: dict, gold_entity_mentions: Sequence[tuple[int, int, str, object]],
                gold_section_tags: Sequence[str], offsets: Sequence[tuple[int, int]]) -> NoteScore:
    """Score one note's Chart against its gold labels. ``offsets`` are the note's token offsets
    (the dataset's tokenizer), which turn the chart's section spans into comparable tags."""
    from chartlnn.notes import Span
    from chartlnn.tokenize import spans_to_tags

    pred_mentions = [(m["start"], m["end"], field, m["value"])
                     for field, mentions in chart["entities"].items() for m in mentions]
    pred_tags = spans_to_tags(offsets, [Span(s["start"], s["end"], field)
                                        for field, spans in chart["sections"].items() for s in spans])
    values = value_counts([(f, v) for _, _, f, v in gold_entity_mentions],
                          [(f, v) for _, _, f, v in pred_mentions])
    gold_spans = [m[:3] for m in gold_entity_mentions]
    pred_spans = [m[:3] for m in pred_mentions]
    counts = {
        "entity_value": values,
        "entity_span_strict": char_span_counts(gold_spans, pred_spans),
        "entity_span_partial": char_span_counts(gold_spans, pred_spans, partial=True),
        "section_token": tag_counts(gold_section_tags, pred_tags, tokens=True),
        "section_span": tag_counts(gold_section_tags, pred_tags, tokens=False),
    }
    confusion = Counter((g.partition("-")[2] or "none", p.partition("-")[2] or "none")
                        for g, p in zip(gold_section_tags, pred_tags))
    exact = all(fp == 0 and fn == 0 for _, fp, fn in values.values())
    return NoteScore(counts, exact, confusion)
