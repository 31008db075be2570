"""Turning one row of a hospital export (CSV or JSONL) into a Note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chartlnn.notes import GOLD, Note, Reject, Span
from data_recipes._common import RecipeError, checked, has_surrogates, safe_name


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
        if not isinstance(label, str) or not _is_int(start) or not _is_int(end):
            raise ValueError(f"span #{i} needs integer start, end and a field name")
        if not 0 <= start < end:
            raise ValueError(f"span #{i} has bad offsets {start}:{end}")
        if not isinstance(item.get("attrs") or {}, dict):
            raise ValueError(f"span #{i} attrs must be an object")
        attrs = dict(item.get("attrs") or {})
        if "value" in item:
            attrs["value"] = item["value"]
        spans.append(Span(start, end, label, source=GOLD, attrs=attrs))
    return spans


def _is_int(value: Any) -> bool:
    """An integer offset (JSON ``true`` is a bool, and bools are ints in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def row_to_note(row: dict[str, Any], *, source: str, row_number: int, id_column: str,
                text_column: str, patient_column: str | None, note_type_column: str | None,
                spans_column: str | None, max_chars: int) -> Note | Reject:
    """A Note from one export row, or a Reject naming the row and what is wrong with it."""
    note_id = row.get(id_column)
    if note_id is None or str(note_id).strip() == "":
        return Reject(source=source, row=row_number, reason=f"no value in id column {id_column!r}")
    note_id = str(note_id).strip()
    if has_surrogates(note_id):
        return Reject(source=source, row=row_number, reason=f"id column {id_column!r} is not valid UTF-8")
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
        meta={"row": row_number},
    )
    return checked(note, source, row_number, max_chars)


def table_columns(path: Path, header: list[str], id_column: str, text_column: str,
                  optional: tuple[str, ...]) -> dict[str, str | None]:
    """The optional columns present in a table's ``header`` (name → name, or None when absent);
    a RecipeError naming the file when the id or text column is missing."""
    missing = [c for c in (id_column, text_column) if c not in header]
    if missing:
        raise RecipeError(f"{path}: missing column(s) {', '.join(missing)}; "
                          f"{_found(header)} (set them with -O id_column=...)")
    return {c: (c if c in header else None) for c in optional}


def _found(header: list[str]) -> str:
    """What the first row holds, said without quoting data: its column names when it looks like a
    header row, else only how many cells it has (a file without a header row has a note there)."""
    if header and all(safe_name(name) == name for name in header):
        return f"found columns {', '.join(header)}"
    return f"its first row has {len(header)} cell(s) and does not look like a header row"
