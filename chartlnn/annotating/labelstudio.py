"""Label Studio review tasks: a task with the model's spans as predictions, and the labeling config.

The task format is Label Studio's JSON import with pre-annotations (``data`` + ``predictions``):
each span is a ``labels`` region on the text (character offsets, as Python indexes them) with its
confidence as ``score``, and an entity's normalized value is a ``textarea`` result with the same
region id (the config's per-region text area), so a reviewer sees and corrects it beside the
span. A prediction the reviewer accepts becomes an annotation with the same results, which
``data_recipes.labelstudio`` reads back as gold.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from chartlnn.annotating.spans import review_spans
from chartlnn.notes import Note
from chartlnn.schema import Schema

LABELS, TEXT, VALUE = "label", "text", "value"
"""The config's tag names, which every result names (``from_name`` / ``to_name``)."""


def labeling_config(schema: Schema) -> str:
    """The XML labeling config: one label per section and entity field (the schema's description
    as its hint), the note with its line breaks kept, and a text area per region for values."""
    view = ET.Element("View")
    ET.SubElement(view, "Style").text = ".htx-text { white-space: pre-wrap; }"
    labels = ET.SubElement(view, "Labels", name=LABELS, toName=TEXT)
    for name, field in (*schema.sections.items(), *schema.entities.items()):
        ET.SubElement(labels, "Label", value=name, **({"hint": field.description}
                                                      if field.description else {}))
    ET.SubElement(view, "Text", name=TEXT, value=f"${TEXT}")
    ET.SubElement(view, "TextArea", name=VALUE, toName=TEXT, perRegion="true", editable="true",
                  placeholder="normalized value")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def task(note: Note, chart: dict[str, Any], uncertainty: float) -> dict[str, Any]:
    """One task: the note (id, text; patient id and note type when the input gave them) and the
    model's spans as one prediction scored with the note's confidence, 1 − uncertainty."""
    data = {"text": note.text, "note_id": note.id}
    if note.patient_id is not None:
        data["patient_id"] = note.patient_id
    if note.note_type is not None:
        data["note_type"] = note.note_type
    result = []
    for number, span in enumerate(review_spans(chart), 1):
        region = f"r{number}"
        labeled = {"id": region, "from_name": LABELS, "to_name": TEXT, "type": "labels",
                   "value": {"start": span.start, "end": span.end, "text": span.text,
                             "labels": [span.field]}}
        if span.confidence is not None:
            labeled["score"] = span.confidence
        result.append(labeled)
        if span.value is not None:
            result.append({"id": region, "from_name": VALUE, "to_name": TEXT, "type": "textarea",
                           "value": {"start": span.start, "end": span.end, "text": [span.value]}})
    return {"data": data,
            "predictions": [{"model_version": chart["model"]["name"],
                             "score": round(1.0 - uncertainty, 4), "result": result}]}
