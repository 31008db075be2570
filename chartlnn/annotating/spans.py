"""A Chart's spans as a reviewer sees them: field, offsets, text, value as text, confidence.

Both writers (Label Studio, brat) show the same spans in the same order: sections, then
entities, each by position, each trimmed of white space at its ends (the model may tag a line
break beside a value; a gold span never starts or ends in one, and brat cannot write one there);
a span of white space only is left out (a reviewer could neither see nor remove it). A value is
written only as text that the field's normalizer reads back to the same value (``"20 mg"`` for a
dose, ``"69.9 kg"`` for a weight), so a reviewer who accepts it gives the importer exactly the
model's value; one that would not read back is left for the reviewer to type.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from chartlnn.normalize import NORMALIZERS, normalize


class ReviewSpan(NamedTuple):
    field: str
    start: int
    end: int
    text: str
    value: str | None
    confidence: float | None


def review_spans(chart: dict[str, Any]) -> list[ReviewSpan]:
    """Sections, then entities, each in text order, trimmed, blank ones left out; offsets index
    the note the chart was made of."""
    spans = []
    for family in ("sections", "entities"):
        found = []
        for field, items in chart[family].items():
            for span in items:
                text = span["text"].strip()
                if text:
                    start = span["start"] + span["text"].index(text)
                    value = (value_text(field, span["value"], span["unit"])
                             if family == "entities" else None)
                    found.append(ReviewSpan(field, start, start + len(text), text, value,
                                            span["confidence"]))
        spans += sorted(found, key=lambda one: (one.start, one.end, one.field))
    return spans


def value_text(field: str, value: Any, unit: str | None) -> str | None:
    """``value`` as a reviewer would type it, or None when there is none or no text of it reads
    back (through the field's normalizer, bare or followed by ``unit``) as the same value."""
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"amount", "unit"}:
        text = f"{_number(value['amount'])} {value['unit']}"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = _number(value)
    else:
        text = str(value)
    if field not in NORMALIZERS:
        return text
    for candidate in (text, f"{text} {unit}" if unit else None):
        if candidate is not None and normalize(field, candidate) == value:
            return candidate
    return None


def _number(value: float) -> str:
    """45.0 → "45", 69.9 → "69.9": no trailing zeros, no exponent."""
    return f"{float(value):.10f}".rstrip("0").rstrip(".")
