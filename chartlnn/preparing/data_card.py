"""The data card: what a prepared dataset holds, in numbers a data team can check.

Counts reconcile: records in = notes kept + records rejected. Nothing here quotes note text;
rejects carry source, row, note id and reason only.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import numpy as np

from chartlnn import __version__
from chartlnn.notes import Note, Reject, Span
from chartlnn.schema import Schema
from chartlnn.preparing.splits import SPLITS

PERCENTILES = (50, 90, 99, 100)


class DataCard:
    """Accumulates counts while `prepare` runs; renders them as JSON and Markdown."""

    def __init__(self, recipe: str, input_path: str | None, schema: Schema, config: Any,
                 schema_from: str | None = None) -> None:
        self.recipe, self.input_path, self.schema, self.config = recipe, input_path, schema, config
        self.schema_from = schema_from
        """The model or dataset directory the schema came with (``--tokenizer``), if it did."""
        self.records_in = 0
        self.mixed_in = Counter()
        self.rejects: list[Reject] = []
        self.phi = Counter()
        self.phi_notes = 0
        self.gold_lost_to_phi = 0
        self.unknown_gold = Counter()
        self.unknown_note_types = Counter()
        self.headers_removed = 0
        self.notes_without_headers = 0
        self.spans_lost_to_dropout = 0
        self.spans_total = 0
        self.spans_off_token_boundaries = 0
        self.notes = Counter()
        self.note_types: dict[str, Counter] = defaultdict(Counter)
        self.label_notes: dict[str, Counter] = defaultdict(Counter)
        self.label_spans: dict[str, Counter] = defaultdict(Counter)
        self.negated = Counter()
        self.chars: list[int] = []
        self.tokens: list[int] = []

    def count_record(self) -> None:
        self.records_in += 1

    def count_mixed(self, source: str) -> None:
        """A note of an extra source, added to the train split."""
        self.mixed_in[source] += 1

    def reject(self, reject: Reject) -> None:
        self.rejects.append(reject)

    @property
    def rejected_total(self) -> int:
        return len(self.rejects)

    def reject_reasons(self) -> Counter:
        """Rejects by reason, numbers folded (``note is N characters…``) so like groups with like."""
        return Counter(re.sub(r"\d+", "N", r.reason) for r in self.rejects)

    def top_reject_reason(self) -> str | None:
        reasons = self.reject_reasons().most_common(1)
        return reasons[0][0] if reasons else None

    def count_phi(self, counts: dict[str, int], gold_lost: int) -> None:
        if counts:
            self.phi_notes += 1
            self.phi.update(counts)
        self.gold_lost_to_phi += gold_lost

    def count_unknown_gold(self, labels: Counter) -> None:
        self.unknown_gold.update(labels)

    def count_dropout(self, headers: int, spans_lost: int) -> None:
        self.headers_removed += headers
        self.notes_without_headers += headers == 0
        self.spans_lost_to_dropout += spans_lost

    def note_type_index(self, note_type: str | None) -> int:
        """The class index of a note type; -1 (no label) for None or a type the schema lacks."""
        classes = self.schema.documents["note_type"].classes
        if note_type in classes:
            return classes.index(note_type)
        if note_type is not None:
            self.unknown_note_types[note_type] += 1
        return -1

    def count_alignment(self, offsets: list[tuple[int, int]], spans: list[Span]) -> None:
        """Count spans whose edges fall inside a token (their tags widen them)."""
        starts = {s for s, _ in offsets}
        ends = {e for _, e in offsets}
        self.spans_total += len(spans)
        self.spans_off_token_boundaries += sum(
            1 for s in spans if s.start not in starts or s.end not in ends)

    def count_example(self, split: str, note: Note, sections: list[Span], entities: list[Span],
                      input_tokens: int) -> None:
        self.notes[split] += 1
        self.note_types[split][note.note_type or "(none)"] += 1
        for span in [*sections, *entities]:
            self.label_spans[span.label][span.source] += 1
            if span.attrs.get("negated"):
                self.negated[span.label] += 1
        for label in {s.label for s in [*sections, *entities]}:
            self.label_notes[label][split] += 1
        self.chars.append(len(note.text))
        self.tokens.append(input_tokens)

    def to_dict(self) -> dict[str, Any]:
        kept = sum(self.notes.values())
        fields = [*self.schema.section_names, *self.schema.entity_names]
        return {
            "chartlnn_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recipe": self.recipe,
            "input": self.input_path,
            "schema": {"name": self.schema.name, "version": self.schema.version,
                       "from": self.schema_from},
            "config": asdict(self.config),
            "counts": {"records_in": self.records_in, "notes_kept": kept,
                       "records_rejected": self.rejected_total,
                       "reconciles": self.records_in == kept + self.rejected_total},
            "splits": {s: self.notes[s] for s in SPLITS},
            "mixed_into_train": dict(self.mixed_in),
            "note_types": {s: dict(self.note_types[s].most_common()) for s in SPLITS},
            "unknown_note_types": dict(self.unknown_note_types),
            "labels": {f: {"notes": {s: self.label_notes[f][s] for s in SPLITS},
                           "notes_total": sum(self.label_notes[f].values()),
                           "spans_by_source": dict(self.label_spans[f]),
                           "negated": self.negated[f]}
                       for f in fields},
            "length": {"chars": _percentiles(self.chars),
                       "input_tokens": _percentiles(self.tokens)},
            "phi": {"mode": self.config.phi, "notes_with_phi": self.phi_notes,
                    "masked_by_kind": dict(self.phi), "gold_spans_lost": self.gold_lost_to_phi},
            "header_dropout": {"headers_removed": self.headers_removed,
                               "notes_without_headers": self.notes_without_headers,
                               "spans_lost": self.spans_lost_to_dropout},
            "alignment": {"spans": self.spans_total,
                          "spans_off_token_boundaries": self.spans_off_token_boundaries},
            "unknown_gold_labels": dict(self.unknown_gold),
            "rejects": {"total": self.rejected_total,
                        "by_reason": dict(self.reject_reasons().most_common())},
        }

    def to_markdown(self) -> str:
        return render_markdown(self.to_dict())


def _percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    return {f"p{p}": int(np.percentile(values, p)) for p in PERCENTILES}


def render_markdown(card: dict[str, Any]) -> str:
    """The card as a page a person reads first (also what `chartlnn inspect` prints)."""
    counts, splits = card["counts"], card["splits"]
    lines = [
        f"# Data card — {card['recipe']}",
        "",
        f"Input `{card['input']}` · schema `{card['schema']['name']}` v{card['schema']['version']}"
        + (f" (from `{card['schema']['from']}`)" if card["schema"].get("from") else "")
        + f" · chartlnn {card['chartlnn_version']} · {card['created']}",
        "",
        f"**{counts['records_in']} records in = {counts['notes_kept']} notes kept + "
        f"{counts['records_rejected']} rejected** "
        f"({'reconciles' if counts['reconciles'] else 'DOES NOT RECONCILE'}).",
        "",
        "| split | notes |", "|---|---:|",
        *(f"| {s} | {n} |" for s, n in splits.items()),
        "",
        *(f"Mixed into train: {', '.join(f'{n} notes from `{s}`' for s, n in mixed.items())}.\n"
          for mixed in [card.get("mixed_into_train")] if mixed),
        "## Labels (notes with the field, and spans by source)",
        "",
        "| field | train | validation | test | shift | gold | spans by source | negated |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, stats in card["labels"].items():
        sources = ", ".join(f"{k} {v}" for k, v in sorted(stats["spans_by_source"].items())) or "—"
        n = stats["notes"]
        lines.append(f"| {name} | {n['train']} | {n['validation']} | {n['test']} | {n.get('shift', 0)} "
                     f"| {n.get('gold', 0)} "
                     f"| {sources} "
                     f"| {stats['negated']} |")
    types = Counter()
    for per_split in card["note_types"].values():
        types.update(per_split)
    lines += ["", "## Note types", "", ", ".join(f"{k} {v}" for k, v in types.most_common()) or "—"]
    chars, tokens = card["length"]["chars"], card["length"]["input_tokens"]
    lines += ["", "## Length", "",
              "| | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|",
              f"| characters | {chars.get('p50', 0)} | {chars.get('p90', 0)} | {chars.get('p99', 0)} "
              f"| {chars.get('p100', 0)} |",
              f"| model input tokens | {tokens.get('p50', 0)} | {tokens.get('p90', 0)} "
              f"| {tokens.get('p99', 0)} | {tokens.get('p100', 0)} |"]
    phi, drop, align = card["phi"], card["header_dropout"], card["alignment"]
    masked = ", ".join(f"{k} {v}" for k, v in sorted(phi["masked_by_kind"].items())) or "none"
    lines += ["", "## Residual PHI", "",
              f"Mode `{phi['mode']}`: {phi['notes_with_phi']} notes with residual PHI; masked: "
              f"{masked}; gold spans lost to masks: {phi['gold_spans_lost']}.",
              "", "## Header dropout and alignment", "",
              f"{drop['headers_removed']} headers removed; {drop['notes_without_headers']} notes had "
              f"none; spans lost: {drop['spans_lost']}. {align['spans_off_token_boundaries']} of "
              f"{align['spans']} spans do not start and end on token boundaries."]
    if card["unknown_gold_labels"]:
        lines += ["", "Gold labels not in the schema (dropped): " + ", ".join(
            f"{k} {v}" for k, v in card["unknown_gold_labels"].items())]
    lines += ["", "## Rejects", ""]
    lines += [f"- {n} × {reason}" for reason, n in card["rejects"]["by_reason"].items()] or ["none"]
    return "\n".join(lines) + "\n"
