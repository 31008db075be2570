"""From a tagger's token tags to a chart: character spans on the original text, then fields.

Section tags become section texts; entity tags become values normalized exactly as the silver
labels were (:mod:`chartlnn.labeling.normalize`); a medication's dose, route and frequency attach
to the nearest medication name before them on the same line.
"""

from __future__ import annotations

from typing import Any, Sequence

from chartlnn.labeling.normalize import normalize
from chartlnn.tokenize import tags_to_spans

MEDICATION_PARTS = {"medication_dose": "dose", "medication_route": "route",
                    "medication_frequency": "frequency"}


def decode_chart(text: str, offsets: Sequence[tuple[int, int]], section_tags: Sequence[str],
                 entity_tags: Sequence[str], note_type: str | None) -> dict[str, Any]:
    """A chart for one note: note type, section texts, entity values with their spans."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for start, end, field in tags_to_spans(offsets, section_tags):
        sections.setdefault(field, []).append({"text": text[start:end], "start": start, "end": end})
    entities: dict[str, list[dict[str, Any]]] = {}
    medications: list[dict[str, Any]] = []
    for start, end, field in tags_to_spans(offsets, entity_tags):
        mention = {"text": text[start:end], "start": start, "end": end,
                   "value": normalize(field, text[start:end])}
        if field == "medication":
            medications.append({**mention, "dose": None, "route": None, "frequency": None})
        elif field in MEDICATION_PARTS:
            owner = _owner(medications, text, start)
            if owner is not None and owner[MEDICATION_PARTS[field]] is None:
                owner[MEDICATION_PARTS[field]] = mention["value"]
            else:
                entities.setdefault(field, []).append(mention)
        else:
            entities.setdefault(field, []).append(mention)
    if medications:
        entities["medication"] = medications
    return {"note_type": note_type, "sections": sections, "entities": entities}


def _owner(medications: list[dict[str, Any]], text: str, start: int) -> dict[str, Any] | None:
    """The last medication named before ``start`` on the same line, if any."""
    if not medications or "\n" in text[medications[-1]["end"]:start]:
        return None
    return medications[-1]
