"""Turning one row of a hospital export (CSV or JSONL) into a Note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chartlnn.notes import GOLD, Note, Reject, Span
from data_recipes._common import RecipeError, checked


def parse_gold_spans(value: Any) -> list[Span]:
    """Gold spans from a list of ``{start, end, field}`` objects (or its JSON text).

    ``label`` is accepted for ``field``; ``value`` and ``attrs`` are kept as attributes.
    Raises ValueError with a message that names the bad entry, never the note text.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("spans column is not valid JSON") from None
    if not isinstance(value, list):
        raise ValueError("spans must be a list of {start, end, field} objects")
    spans = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"span #{i} is not an object")
        label = item.get("field", item.get("label"))
        start, end = item.get("start"), item.get("end")
        if not isinstance(label, str) or not isinstance(start, int) or not isinstance(end, int):
            raise ValueError(f"span #{i} needs integer start, end and a field name")
        if not 0 <= start < end:
            raise ValueError(f"span #{i} has bad offsets {start}:{end}")
        attrs = dict(item.get("attrs") or {})
        if "value" in item:
            attrs["value"] = item["value"]
        spans.append(Span(start, end, label, source=GOLD, attrs=attrs))
    return spans


def row_to_note(row: dict[str, Any], *, source: str, row_number: int, id_column: str,
                text_column: str, patient_column: str | None, note_type_column: str | None,
                spans_column: str | None, max_chars: int) -> Note | Reject:
    """A Note from one export row, or a Reject naming the row and what is wrong with it."""
    note_id = row.get(id_column)
    if note_id is None or str(note_id).strip() == "":
        return Reject(source=source, row=row_number, reason=f"no value in id column {id_column!r}")
    note_id = str(note_id).strip()
    try:
        spans = parse_gold_spans(row.get(spans_column)) if spans_column else []
    except ValueError as exc:
        return Reject(source=source, row=row_number, note_id=note_id, reason=str(exc))
    patient = row.get(patient_column) if patient_column else None
    note_type = row.get(note_type_column) if note_type_column else None
    note = Note(
        id=note_id,
        text=row.get(text_column),
        patient_id=str(patient).strip() or None if patient is not None else None,
        note_type=str(note_type).strip() or None if note_type is not None else None,
        spans=spans,
    )
    return checked(note, source, row_number, max_chars)


def table_columns(path: Path, header: list[str], id_column: str, text_column: str,
                  optional: tuple[str, ...]) -> dict[str, str | None]:
    """The optional columns present in a table's ``header`` (name → name, or None when absent);
    a RecipeError naming the file when the id or text column is missing."""
    missing = [c for c in (id_column, text_column) if c not in header]
    if missing:
        raise RecipeError(f"{path}: missing column(s) {', '.join(missing)}; "
                          f"found {', '.join(header) or 'none'} (set them with -O id_column=...)")
    return {c: (c if c in header else None) for c in optional}
