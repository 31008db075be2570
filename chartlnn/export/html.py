"""A note with its chart drawn on it, as one self-contained HTML page a clinician checks by eye.

Sections are long and never overlap each other, so each is drawn as a soft background over its
text with a tag where it starts; entities (short, never overlapping each other) are drawn inside
them with spaCy's displaCy ``ent`` renderer, which works on exact character offsets and keeps
every character of the note, its line breaks included. Beside the note, a table of the chart's
values as normalized. Everything from the note and the chart is HTML-escaped, and the page's
Content-Security-Policy forbids scripts and fetches, so a note cannot run code or leak data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from spacy import displacy

LOW_CONFIDENCE = 0.5
"""Values the model gave less than this are marked for a second look."""

SECTIONS = {  # field: (tag, soft background)
    "chief_complaint": ("CC", "#fde2e4"),
    "history_of_present_illness": ("HPI", "#dde9fb"),
    "past_medical_history": ("PMH", "#e9e1fb"),
    "past_surgical_history": ("PSH", "#f5e1f7"),
    "medications": ("Medications", "#dcf3e4"),
    "allergies": ("Allergies", "#fde8cf"),
    "social_history": ("Social", "#eef4d2"),
    "family_history": ("Family", "#f4ecd0"),
    "review_of_systems": ("ROS", "#d9f1f4"),
    "vital_signs": ("Vitals", "#fff3b8"),
    "physical_exam": ("Exam", "#e3eedc"),
    "results": ("Results", "#e6e6ee"),
    "assessment": ("Assessment", "#fbdcec"),
    "plan": ("Plan", "#d6ecfa"),
    "procedure": ("Procedure", "#efe3d6"),
    "hospital_course": ("Course", "#e2e7ef"),
}
ENTITIES = {  # field: (label in the note, name in the table, colour)
    "age": ("Age", "Age", "#b39ddb"),
    "sex": ("Sex", "Sex", "#ffe082"),
    "bp_systolic": ("BP sys", "BP systolic", "#ef9a9a"),
    "bp_diastolic": ("BP dia", "BP diastolic", "#f8bbd0"),
    "heart_rate": ("HR", "Heart rate", "#a5d6a7"),
    "resp_rate": ("RR", "Resp. rate", "#80cbc4"),
    "temperature": ("Temp", "Temperature", "#ffcc80"),
    "spo2": ("SpO2", "SpO2", "#90caf9"),
    "weight": ("Weight", "Weight", "#e6ee9c"),
    "height": ("Height", "Height", "#d7ccc8"),
    "medication": ("Med", "Medication", "#4fc3f7"),
    "medication_dose": ("Dose", "Dose", "#9fa8da"),
    "medication_route": ("Route", "Route", "#e1bee7"),
    "medication_frequency": ("Freq", "Frequency", "#bcaaa4"),
    "allergen": ("Allergen", "Allergen", "#ff8a80"),
}
UNKNOWN_SECTION, UNKNOWN_ENTITY = "#eeeeee", "#cfcfcf"
UNITS = {"Cel": "°C"}
"""Schema units shown another way; the rest are shown as written."""

ENT_TEMPLATE = ('<mark class="entity{low}" style="background: {bg}" title="{tip}">{text}'
                '<span class="ent-label">{label}</span></mark>')
"""displaCy's entity template, without the whitespace its own adds (the note is pre-wrapped)."""

CSS = """
body { margin: 0; background: #f4f5f7; color: #1c2024; font: 15px/1.5 system-ui, sans-serif; }
header { padding: 14px 24px 0; } h1 { font-size: 20px; margin: 0; }
main { display: grid; grid-template-columns: minmax(0, 1fr) 460px; gap: 20px; padding: 14px 24px 24px;
       align-items: start; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
.note { background: #fff; border: 1px solid #d5d9de; border-radius: 8px; padding: 18px 22px;
        white-space: pre-wrap; overflow-wrap: anywhere; line-height: 2.3; font-size: 15.5px; }
.note .entities { display: inline; line-height: inherit !important; }
.sec { display: inline; padding: 4px 0; border-radius: 3px; -webkit-box-decoration-break: clone;
       box-decoration-break: clone; }
.sec-tag { display: inline-block; font: 700 10.5px/1 system-ui, sans-serif; text-transform: uppercase;
           letter-spacing: .04em; padding: 3px 5px; margin-right: 5px; border-radius: 3px;
           border: 1px solid rgba(0,0,0,.35); background: #fff; vertical-align: 2px; }
mark.entity { color: inherit; padding: 2px 3px; margin: 0 1px; border-radius: 4px;
              border-bottom: 2px solid rgba(0,0,0,.3); -webkit-box-decoration-break: clone;
              box-decoration-break: clone; }
.ent-label { font: 700 9.5px/1 system-ui, sans-serif; margin-left: 4px; padding: 1px 3px;
             border-radius: 3px; background: rgba(255,255,255,.7); vertical-align: 2px; }
.low { outline: 2px dashed #c62828; }
.low .ent-label::after, .sec-tag.low::after { content: " ?"; color: #c62828; }
aside h2 { font-size: 15px; margin: 16px 0 6px; } aside h2:first-child { margin-top: 0; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #d5d9de;
        font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e6e9ed; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; } td:first-child { white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
table.facts td:first-child { width: 30%; font-weight: 600; background: #eef0f3; }
.written { color: #5a636e; } .none { color: #8a939c; font-style: italic; }
tr.low td { background: #fff1f0; } .warn { color: #c62828; font-weight: 600; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          border: 1px solid rgba(0,0,0,.3); vertical-align: -1px; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'"

Span = tuple[int, int, str, dict[str, Any]]  # start, end, field, the chart's span or mention


def render_html(text: str, chart: dict[str, Any], *, title: str | None = None) -> str:
    """A standalone HTML page: the note with section and entity spans highlighted, plus a table of
    the chart's fields.

    Offsets are code-point indices into ``text``, end-exclusive, as in every chart. Raises
    ValueError, naming the note id but never its text, when a span falls outside ``text`` or
    two spans of one kind overlap: the chart was made from another text, or was edited by hand.
    """
    note_id = chart.get("note_id")
    sections = _spans(text, note_id, "section", chart.get("sections") or {})
    entities = _spans(text, note_id, "entity", chart.get("entities") or {})
    medications = chart.get("medications") or []
    for i, med in enumerate(medications):
        _check_bounds(text, note_id, f"medication #{i + 1}", med)
    heading = escape(title if title is not None else f"Chart of note {note_id}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{heading}</title><style>{CSS}</style></head>\n<body><header><h1>{heading}</h1></header>"
            f'<main><div class="note">{_note(text, sections, entities)}</div>'
            f"<aside>{_summary(text, chart, sections, entities, medications)}</aside></main></body></html>\n")


def _check_bounds(text: str, note_id: Any, what: str, span: dict[str, Any]) -> None:
    start, end = span["start"], span["end"]
    if not 0 <= start < end <= len(text):
        raise ValueError(f"chart of note {note_id!r}: {what} span [{start}, {end}) lies outside the "
                         f"note's {len(text)} characters; was the chart made from another text?")


def _spans(text: str, note_id: Any, kind: str, fields: dict[str, list[dict[str, Any]]]) -> list[Span]:
    """The chart's spans of one kind in note order, checked to lie in ``text`` and not to overlap."""
    spans = sorted((s["start"], s["end"], field, s) for field, found in fields.items() for s in found)
    for start, end, field, span in spans:
        _check_bounds(text, note_id, f"{kind} {field!r}", span)
    for (_, end, field, _), (start, end2, other, _) in zip(spans, spans[1:]):
        if start < end:
            raise ValueError(f"chart of note {note_id!r}: {kind} spans {field!r} and {other!r} overlap "
                             f"(at [{start}, {min(end, end2)})); one tag sequence cannot produce that, "
                             "so the chart was edited by hand")
    return spans


def _low(confidence: float | None) -> bool:
    return confidence is not None and confidence < LOW_CONFIDENCE


def _note(text: str, sections: list[Span], entities: list[Span]) -> str:
    """The note as pieces (each section, and the text between them), entities drawn by displaCy."""
    pieces: list[tuple[int, int, Span | None]] = []
    position = 0
    for section in sections:
        if section[0] > position:
            pieces.append((position, section[0], None))
        pieces.append((section[0], section[1], section))
        position = section[1]
    if position < len(text):
        pieces.append((position, len(text), None))
    return "".join(_piece(text, start, end, section, entities) for start, end, section in pieces)


def _piece(text: str, start: int, end: int, section: Span | None, entities: list[Span]) -> str:
    """``text[start:end]`` with its entities marked by displaCy, on its section's band if any."""
    ents, colors = [], {}
    for e_start, e_end, field, mention in entities:
        if e_start < end and e_end > start:  # an entity across a section border is drawn in both
            label, _, color = ENTITIES.get(field, (field, field, UNKNOWN_ENTITY))
            colors[escape(label)] = color
            confidence = mention["confidence"]
            tip = f"{label}: {_value(mention['value'], mention['unit'])} · {_confidence(confidence)}"
            ents.append({"start": max(e_start, start) - start, "end": min(e_end, end) - start,
                         "label": escape(label),
                         "params": {"tip": escape(tip), "low": " low" if _low(confidence) else ""}})
    marked = displacy.render({"text": text[start:end], "ents": ents}, style="ent", manual=True,
                             page=False, jupyter=False,
                             options={"colors": colors, "template": ENT_TEMPLATE})
    if section is None:
        return marked
    tag, color = SECTIONS.get(section[2], (section[2], UNKNOWN_SECTION))
    low = " low" if _low(section[3]["confidence"]) else ""
    return (f'<div class="sec" style="background: {color}"><span class="sec-tag{low}" '
            f'title="{escape(section[2])} · {_confidence(section[3]["confidence"])}">{escape(tag)}</span>'
            f"{marked}</div>")


def _number(value: float, unit: str | None) -> str:
    return f"{value:.1f}" if unit == "Cel" else f"{value:g}"


def _value(value: Any, unit: str | None) -> str:
    """A normalized value as a person reads it: "37.0 °C", "97%", "10 mg"; "not read" for None."""
    if value is None:
        return "not read"
    if isinstance(value, dict):
        return f"{_number(value['amount'], None)} {value['unit']}"
    shown = _number(value, unit) if isinstance(value, (int, float)) else str(value)
    if not unit:
        return shown
    return shown + ("" if unit == "%" else " ") + UNITS.get(unit, unit)


def _confidence(confidence: float | None) -> str:
    return "—" if confidence is None else f"{confidence:.2f}"


def _row(cells: list[str], confidence: float | None) -> str:
    """One table row ending in the confidence, marked in words (not only colour) when low."""
    mark = ' <span class="warn">⚠ low</span>' if _low(confidence) else ""
    body = ("".join(f"<td>{cell}</td>" for cell in cells)
            + f'<td class="num">{_confidence(confidence)}{mark}</td>')
    return f'<tr class="low">{body}</tr>' if mark else f"<tr>{body}</tr>"


def _table(head: list[str], rows: list[str]) -> str:
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _shown(value: Any, unit: str | None) -> str:
    return escape(_value(value, unit)) if value is not None else '<span class="none">not read</span>'


def _value_rows(text: str, entities: list[Span], medications: list[dict[str, Any]]) -> list[str]:
    """A row per entity mention, in schema order; blood pressures paired as "132/84 mmHg" when every
    systolic has its diastolic; mentions inside a medication are left to the medications table."""
    linked = [(m["start"], m["end"]) for m in medications]
    mentions: dict[str, list[dict[str, Any]]] = {}
    for start, end, field, mention in entities:
        if not any(m_start <= start and end <= m_end for m_start, m_end in linked):
            mentions.setdefault(field, []).append(mention)
    rows = []
    systolic, diastolic = mentions.get("bp_systolic", []), mentions.get("bp_diastolic", [])
    if systolic and len(systolic) == len(diastolic):
        del mentions["bp_systolic"], mentions["bp_diastolic"]
        for high, low in zip(systolic, diastolic):
            value = f"{_shown(high['value'], None)}/{_shown(low['value'], low['unit'])}"
            confidences = [c for c in (high["confidence"], low["confidence"]) if c is not None]
            confidence = min(confidences) if confidences else None
            written = (text[high["start"]:low["end"]] if low["start"] - high["end"] <= 3
                       else f'{text[high["start"]:high["end"]]} … {text[low["start"]:low["end"]]}')
            rows.append(_row(["Blood pressure", value, f'<span class="written">{escape(written)}</span>'],
                             confidence))
    order = list(ENTITIES) + sorted(set(mentions) - set(ENTITIES))
    for field in (f for f in order if f in mentions):
        name = escape(ENTITIES[field][1] if field in ENTITIES else field)
        for m in mentions[field]:
            rows.append(_row([name, _shown(m["value"], m["unit"]),
                              f'<span class="written">{escape(text[m["start"]:m["end"]])}</span>'],
                             m["confidence"]))
    return rows


def _summary(text: str, chart: dict[str, Any], sections: list[Span], entities: list[Span],
             medications: list[dict[str, Any]]) -> str:
    """The chart's fields as tables: the note and model, the values, the medications, the sections."""
    note_type, model = chart.get("note_type"), chart.get("model") or {}
    facts = [("Note id", escape(str(chart.get("note_id")))),
             ("Model", "—" if not model else
              escape(f"{model['name']} · {model['encoder']} · chartlnn {model['chartlnn_version']}"))]
    if chart.get("phi"):
        facts.append(("PHI hits", escape(", ".join(f"{kind} {n}" for kind, n in chart["phi"].items()))))
    kind = ("—", None) if note_type is None else (escape(note_type["value"]), note_type["confidence"])
    parts = ['<h2>Chart</h2><table class="facts">'
             + "".join(f"<tr><td>{name}</td><td colspan=2>{value}</td></tr>" for name, value in facts)
             + _row(["Note type", kind[0]], kind[1]) + "</table>"]
    values = _value_rows(text, entities, medications)
    if values:
        parts.append("<h2>Values</h2>" + _table(["Field", "Value", "As written", "Conf."], values))
    if medications:
        parts.append("<h2>Medications</h2>" + _table(["Name", "Dose", "Route", "Frequency", "Conf."], [
            _row([_shown(m["name"], None), _shown(m["dose"], None), _shown(m["route"], None),
                  _shown(m["frequency"], None)], m["confidence"]) for m in medications]))
    if sections:
        swatch = '<span class="swatch" style="background: {}"></span>'
        parts.append("<h2>Sections</h2>" + _table(["Section", "Characters", "Conf."], [
            _row([swatch.format(SECTIONS.get(field, ("", UNKNOWN_SECTION))[1])
                  + escape(field.replace("_", " ")), f"{start}–{end}"], span["confidence"])
            for start, end, field, span in sections]))
    return "".join(parts)
