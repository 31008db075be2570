"""Field-level metrics on token tags: what training selects checkpoints by.

Entity fields are scored on spans (exact token bounds and field: precision, recall, F1); section
fields on tokens (a token counts when gold and prediction give it the same field), since a long
section that is right but for one boundary token is mostly right. ``field_f1`` is the macro
average over the fields present in the gold data: the number checkpoints are chosen by.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence


def bio_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Token-index spans ``(first, last + 1, field)`` from BIO tags; a stray I- opens a span."""
    spans, start, label = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if prefix == "I" and name == label:
            continue
        if label is not None:
            spans.add((start, i, label))
            start, label = None, None
        if prefix in ("B", "I"):
            start, label = i, name
    return spans


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn,
            "tp": tp, "fp": fp, "fn": fn}


def _per_field(tp: Counter, fp: Counter, fn: Counter) -> dict[str, dict]:
    return {f: _prf(tp[f], fp[f], fn[f]) for f in sorted(set(tp) | set(fp) | set(fn))}


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
    return _prf(*pooled)["f1"]


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


def batch_tag_names(batch: dict, out: dict, section_tags: Sequence[str],
                    entity_tags: Sequence[str]) -> list[list[list[str]]]:
    """Gold and predicted tag names of a batch's real tokens, as the four columns ``field_f1``
    takes: section gold, section predicted, entity gold, entity predicted (one list per note)."""
    lengths = batch["mask"].sum(1).tolist()
    columns = []
    for family, names in (("section", section_tags), ("entity", entity_tags)):
        for rows in (batch[f"{family}_tags"].tolist(), out[family].argmax(-1).tolist()):
            columns.append([[names[t] for t in row[:n]] for row, n in zip(rows, lengths)])
    return columns


def score_split(model, split, view: str = "input", batch_size: int = 8) -> dict[str, float]:
    """``field_f1`` of a loaded model (:func:`chartlnn.load`) on a prepared split, reading each
    note whole: ``view="input"`` is the headerless text (the real task), ``"full"`` keeps headers."""
    import torch

    from chartlnn.data import LengthBucketSampler, collate

    labels = model.config["labels"]
    lengths = [len(ids) for ids in split[f"{view}_input_ids"]]
    columns: list[list] = [[], [], [], []]
    with torch.inference_mode():
        for indices in LengthBucketSampler(lengths, batch_size, shuffle=False, seed=0):
            batch = collate([split[i] for i in indices], view=view)
            out = model.tagger(batch["input_ids"], batch["mask"])
            for column, names in zip(columns, batch_tag_names(batch, out, labels["section_tags"],
                                                              labels["entity_tags"])):
                column.extend(names)
    return field_f1(*columns)
