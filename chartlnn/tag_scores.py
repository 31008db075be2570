"""Field scores on BIO tag sequences: what training selects checkpoints by.

Entity fields are scored on spans (exact token bounds and field: precision, recall, F1); section
fields on tokens (a token counts when gold and prediction give it the same field), since a long
section that is right but for one boundary token is mostly right. ``field_f1`` is the macro
average over the fields present in the gold data. The evaluator reuses these counts on Charts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from chartlnn.tokenize import token_spans


def bio_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Token-index spans ``(first, last + 1, field)`` from BIO tags; a stray I- opens a span."""
    return set(token_spans(tags))


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 and the counts they come from."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn,
            "tp": tp, "fp": fp, "fn": fn}


def _per_field(tp: Counter, fp: Counter, fn: Counter) -> dict[str, dict]:
    return {f: prf(tp[f], fp[f], fn[f]) for f in sorted(set(tp) | set(fp) | set(fn))}


def span_scores(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict[str, dict]:
    """Per-field exact-span precision/recall/F1 over notes (one tag sequence per note)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for gold_tags, pred_tags in zip(gold, pred):
        g, p = bio_spans(gold_tags), bio_spans(pred_tags)
        tp.update(span[2] for span in g & p)
        fp.update(span[2] for span in p - g)
        fn.update(span[2] for span in g - p)
    return _per_field(tp, fp, fn)


def token_scores(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict[str, dict]:
    """Per-field token-overlap precision/recall/F1 (B- and I- both count as the field)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for gold_tags, pred_tags in zip(gold, pred):
        for g, p in zip(gold_tags, pred_tags):
            g, p = g.partition("-")[2], p.partition("-")[2]
            if g and g == p:
                tp[g] += 1
                continue
            if p:
                fp[p] += 1
            if g:
                fn[g] += 1
    return _per_field(tp, fp, fn)


def micro_f1(scores: dict[str, dict]) -> float:
    """F1 over all fields' pooled counts."""
    pooled = [sum(s[k] for s in scores.values()) for k in ("tp", "fp", "fn")]
    return prf(*pooled)["f1"]


def field_f1(section_gold, section_pred, entity_gold, entity_pred) -> dict[str, float]:
    """The validation summary: per-field F1s, micro F1 per family, and their macro ``field_f1``
    over the fields that occur in the gold tags."""
    sections = token_scores(section_gold, section_pred)
    entities = span_scores(entity_gold, entity_pred)
    present = {f"section/{k}": v for k, v in sections.items() if v["support"]}
    present |= {f"entity/{k}": v for k, v in entities.items() if v["support"]}
    summary = {name: s["f1"] for name, s in present.items()}
    summary["section_token_f1"] = micro_f1(sections)
    summary["entity_f1"] = micro_f1(entities)
    summary["field_f1"] = sum(s["f1"] for s in present.values()) / len(present) if present else 0.0
    return summary
