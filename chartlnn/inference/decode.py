"""From a tagger's token tags to a chart: character spans on the original text, then fields.

A :class:`Chart` (the JSON document of ``chartlnn/resources/chart.schema.json``) is built from
field spans by :func:`build_chart`, whoever found them: the model (through :class:`ChartDecoder`)
or the rule-based labeler (the evaluator's third system). Entity values are normalized exactly as
the silver labels were (:mod:`chartlnn.normalize`), so a value compares equal to its gold
value when the span is right. A medication's dose, route and frequency attach to the nearest
medication named before them on the same line.

A span's confidence is the mean, over its tokens, of the probability the model gave the tag it
chose; a note type's is the probability of the chosen class. Rule-based spans have none (null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from chartlnn import __version__
from chartlnn.normalize import NORMALIZERS, normalize
from chartlnn.tokenize import token_spans

CHART_VERSION = "1"
MEDICATION_PARTS = {"medication_dose": "dose", "medication_route": "route",
                    "medication_frequency": "frequency"}


class FieldSpan(NamedTuple):
    """A span of the note assigned to a field, with the confidence of whoever found it."""

    start: int
    end: int
    field: str
    confidence: float | None = None


@dataclass
class Encoded:
    """A note as the model reads it: token ids and each token's character offsets in the text."""

    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass
class Tagged:
    """The model's output for one note: per token, the chosen tag index and its probability."""

    section: np.ndarray  # (T,) int64
    section_prob: np.ndarray  # (T,) float32
    entity: np.ndarray  # (T,) int64
    entity_prob: np.ndarray  # (T,) float32
    note_type: int
    note_type_prob: float


def build_chart(text: str, sections: Sequence[FieldSpan], entities: Sequence[FieldSpan], *,
                units: dict[str, str | None], model: dict[str, str], note_id: str | None = None,
                note_type: tuple[str, float | None] | None = None,
                phi: dict[str, int] | None = None) -> dict[str, Any]:
    """One note's Chart from its field spans (offsets into ``text``)."""
    chart_sections: dict[str, list[dict[str, Any]]] = {}
    for span in sorted(sections):
        chart_sections.setdefault(span.field, []).append(
            {"start": span.start, "end": span.end, "text": text[span.start:span.end],
             "confidence": _rounded(span.confidence)})
    chart_entities: dict[str, list[dict[str, Any]]] = {}
    medications: list[dict[str, Any]] = []
    for span in sorted(entities):
        value = field_value(span.field, text[span.start:span.end])
        chart_entities.setdefault(span.field, []).append(
            {"start": span.start, "end": span.end, "text": text[span.start:span.end], "value": value,
             "unit": units.get(span.field), "confidence": _rounded(span.confidence)})
        if span.field == "medication":
            medications.append({"name": value, "dose": None, "route": None, "frequency": None,
                                "start": span.start, "end": span.end,
                                "confidence": _rounded(span.confidence)})
        elif span.field in MEDICATION_PARTS:
            owner = _owner(medications, text, span.start)
            part = MEDICATION_PARTS[span.field]
            if owner is not None and owner[part] is None and value is not None:
                owner[part] = value
                owner["end"] = span.end
    chart = {"chart_version": CHART_VERSION, "note_id": note_id, "model": model,
             "note_type": ({"value": note_type[0], "confidence": _rounded(note_type[1])}
                           if note_type else None),
             "sections": chart_sections, "entities": chart_entities, "medications": medications}
    if phi is not None:
        chart["phi"] = phi
    return chart


def whole_words(text: str, spans: Sequence[FieldSpan]) -> list[FieldSpan]:
    """Spans widened to the letters and digits around them ("ortab" of "Lortab" → "Lortab",
    "-year-old" of "29-year-old" → "29-year-old"): a mention never starts or ends inside a word.
    The tokenizer cuts words at digit/letter changes, so a tag can; a span never grows into its
    neighbour."""
    ordered = sorted(spans)
    widened = []
    for i, span in enumerate(ordered):
        floor = widened[-1].end if widened else 0
        ceiling = ordered[i + 1].start if i + 1 < len(ordered) else len(text)
        start, end = span.start, span.end
        while (start > floor and text[start - 1].isalnum()
               and (text[start].isalnum() or text[start] == "-")):
            start -= 1
        while end < ceiling and text[end].isalnum() and text[end - 1].isalnum():
            end += 1
        widened.append(span._replace(start=start, end=end))
    return widened


def field_value(field: str, text: str) -> Any:
    """The normalized value of a mention: the field's normalizer, or the text itself (stripped)
    for a field of a custom schema that has none."""
    return normalize(field, text) if field in NORMALIZERS else text.strip()


def _rounded(confidence: float | None) -> float | None:
    return None if confidence is None else round(float(confidence), 4)


def _owner(medications: list[dict[str, Any]], text: str, start: int) -> dict[str, Any] | None:
    """The last medication named before ``start`` on the same line, if any."""
    if not medications or "\n" in text[medications[-1]["end"]:start]:
        return None
    return medications[-1]


@dataclass(frozen=True)
class ChartDecoder:
    """Turns a model's tags into Charts; holds only label names and model facts, so it pickles
    cheaply into worker processes."""

    section_tags: list[str]
    entity_tags: list[str]
    note_types: list[str]
    units: dict[str, str | None]
    model: dict[str, str] = field(default_factory=dict)

    def spans(self, encoded: Encoded, tagged: Tagged) -> tuple[list[FieldSpan], list[FieldSpan]]:
        """Section and entity spans with confidences, on the text the offsets index."""
        families = []
        for names, tags, probs in ((self.section_tags, tagged.section, tagged.section_prob),
                                   (self.entity_tags, tagged.entity, tagged.entity_prob)):
            spans = [FieldSpan(encoded.offsets[first][0], encoded.offsets[stop - 1][1], label,
                               float(probs[first:stop].mean()))
                     for first, stop, label in token_spans([names[t] for t in tags])]
            families.append(spans)
        return families[0], families[1]

    def decode(self, text: str, encoded: Encoded, tagged: Tagged, note_id: str | None = None,
               phi: dict[str, int] | None = None) -> dict[str, Any]:
        """The Chart of one note (entity spans widened to whole words, see :func:`whole_words`)."""
        sections, entities = self.spans(encoded, tagged) if encoded.ids else ([], [])
        entities = whole_words(text, entities)
        note_type = ((self.note_types[tagged.note_type], tagged.note_type_prob)
                     if encoded.ids else None)
        return build_chart(text, sections, entities, units=self.units, model=self.model,
                           note_id=note_id, note_type=note_type, phi=phi)


def model_info(name: str, encoder: str, schema: str) -> dict[str, str]:
    """The ``model`` block of a chart."""
    return {"name": name, "encoder": encoder, "schema": schema, "chartlnn_version": __version__}
