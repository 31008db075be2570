"""`labelstudio`: a Label Studio JSON export of reviewed notes, read as complete gold labels.

Per task the latest submitted annotation (by ``updated_at``, else ``created_at``, else id) is the
gold; ``predictions`` are never read, since they are the model's guesses, not the reviewer's. The
reviewer saw every field, so the note is marked ``complete`` and the silver labelers add nothing
to it. A task that cannot be trusted (no annotation, all skipped, a label outside the schema, a
span whose text no longer matches the note, overlapping spans of one family) is rejected with a
reason; a file that is not such an export stops the run with one line naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chartlnn.notes import GOLD, REVIEWED, Note, Reject, Span
from chartlnn.schema import Schema, load_schema
from data_recipes._common import (MAX_NOTE_CHARS, READ_ERRORS, RecipeError, has_surrogates,
                                  open_text, text_problem, typed_value)
from data_recipes._rows import _is_int
from data_recipes.brat import load_label_map

_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def read(path: Path, *, text_field: str = "text", label_map: str | dict | None = None,
         schema: str | Path | Schema | None = None,
         max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    """One Note (or Reject) per task, rows numbered from 1 in export order.

    ``label_map`` renames Label Studio labels to schema fields (as brat's option; a label it does
    not name stays as it is); ``schema`` is the schema file the labels must belong to (default:
    the shipped one).
    """
    path = Path(path)
    mapping = load_label_map(label_map) or {}
    schema = schema if isinstance(schema, Schema) else load_schema(schema)
    for row, task in enumerate(_tasks(path), start=1):
        yield _task_note(task, source=str(path), row=row, text_field=text_field, mapping=mapping,
                         schema=schema, max_chars=max_chars)


def _tasks(path: Path) -> list[Any]:
    """The export's task list; a RecipeError naming the file when it is not one."""
    handle = open_text(path)
    try:
        with handle:
            tasks = json.load(handle)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}); "
                          "export the project from Label Studio in its JSON format") from None
    except READ_ERRORS as exc:
        raise RecipeError(f"{path}: cannot read the file ({type(exc).__name__}); "
                          "is it the right format?") from None
    except (ValueError, RecursionError):  # a number past Python's digit limit, deep nesting
        raise RecipeError(f"{path}: has a number too long or nesting too deep to read") from None
    if not isinstance(tasks, list):
        raise RecipeError(f"{path}: expected a list of tasks (Label Studio's JSON export), "
                          f"found a JSON {type(tasks).__name__}")
    return tasks


def _task_note(task: Any, *, source: str, row: int, text_field: str, mapping: dict[str, str],
               schema: Schema, max_chars: int) -> Note | Reject:
    def reject(reason: str, note_id: str | None = None) -> Reject:
        return Reject(source=source, row=row, note_id=note_id, reason=reason)

    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        return reject("task has no data object (is this the JSON-MIN export? export as JSON)")
    task_id = _str(task.get("id"))
    note_id = _str(data.get("note_id")) or (f"ls-{task_id}" if task_id else None)
    if note_id is None:
        return reject("task has neither data.note_id nor an id")
    if has_surrogates(note_id):
        return reject("note id is not valid UTF-8")
    if text_field not in data:
        return reject(f"no data.{text_field} (set it with -O text_field=...)", note_id)
    text = data[text_field]
    problem = text_problem(text, max_chars)
    if problem:
        return reject(problem, note_id)
    listed = task.get("annotations")
    annotations = [a for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
    submitted = [a for a in annotations if not a.get("was_cancelled")]
    if not submitted:
        return reject("every annotation was skipped or cancelled" if annotations
                      else "not reviewed (no annotation)", note_id)
    result = max(submitted, key=_recency).get("result")
    if not isinstance(result, list):
        return reject("the annotation's result is not a list", note_id)
    try:
        spans = _gold_spans(result, text, mapping, schema)
    except ValueError as exc:
        return reject(str(exc), note_id)
    problem = _overlap(spans, schema.sections, "section") or _overlap(spans, schema.entities, "entity")
    if problem:
        return reject(problem, note_id)
    return Note(note_id, text, _str(data.get("patient_id")), _str(data.get("note_type")), spans,
                {"row": row, **REVIEWED})


def _str(value: Any) -> str | None:
    """A scalar from the export as a stripped string; None when absent or blank."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _recency(annotation: dict[str, Any]) -> tuple[datetime, int]:
    """Sort key for "latest": the last save time (UTC when no zone is given), then the id."""
    when = _NEVER
    for key in ("updated_at", "created_at"):
        try:
            when = datetime.fromisoformat(annotation.get(key))
        except (TypeError, ValueError):
            continue
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        break
    try:
        number = int(str(annotation.get("id")))
    except ValueError:
        number = -1
    return when, number


def _gold_spans(result: list[Any], text: str, mapping: dict[str, str],
                schema: Schema) -> list[Span]:
    """Gold spans from an annotation's ``labels`` regions; an entity span carries the value the
    reviewer typed into a ``textarea`` of the same region id (sections carry no value). Raises
    ValueError naming the region (its place in the result, offsets, field), never the text."""
    typed: dict[str, list[str]] = {}
    for item in result:
        if _kind(item) == "textarea" and isinstance(item.get("value"), dict):
            entries = item["value"].get("text")
            entries = [entries] if isinstance(entries, str) else entries
            if isinstance(entries, list) and (region := _region(item)) is not None:
                typed.setdefault(region, []).extend(e.strip() for e in entries
                                                    if isinstance(e, str) and e.strip())
    spans = []
    for number, item in enumerate(result, start=1):
        if _kind(item) != "labels":
            continue
        value = item.get("value")
        where = f"region #{number}"
        if not (isinstance(value, dict) and _is_int(value.get("start")) and _is_int(value.get("end"))):
            raise ValueError(f"{where} has no integer start and end")
        start, end, labels = value["start"], value["end"], value.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{where} has no list of labels")
        if not 0 <= start < end:
            raise ValueError(f"{where} has bad offsets {start}:{end}")
        if end > len(text):
            raise ValueError(f"{where} {start}:{end} is outside the text ({len(text)} chars)")
        if not isinstance(value.get("text"), str):
            raise ValueError(f"{where} carries no text to check against the note's")
        # Whitespace may be collapsed in value.text by the Text tag; the words must be the same.
        if value["text"].split() != text[start:end].split():
            raise ValueError(f"{where} {start}:{end}: its text is not the note's text there "
                             "(the note changed since export?)")
        for label in labels:
            field = mapping.get(label, label)
            if field not in schema.sections and field not in schema.entities:
                raise ValueError(f"label {label[:40]!r} is not a section or entity field of schema "
                                 f"{schema.name!r} (map it with -O label_map=Label:field)")
            attrs = {}
            entries = typed.get(_region(item)) if field in schema.entities else None
            if entries:
                attrs["value"] = typed_value(field, entries, schema.entities[field].unit, where)
            spans.append(Span(start, end, field, GOLD, attrs))
    return spans


def _kind(item: Any) -> str | None:
    """A result item's type (``labels``, ``textarea``, ``choices``, ...); None for a non-object."""
    return item.get("type") if isinstance(item, dict) else None


def _region(item: dict[str, Any]) -> str | None:
    """The region id that links a ``textarea`` entry to its ``labels`` region, if it has one."""
    region = item.get("id")
    return str(region) if isinstance(region, (str, int)) else None


def _overlap(spans: list[Span], family: dict[str, Any], kind: str) -> str | None:
    """Why two spans of one family (sections, or entities) overlap, or None: BIO tags cannot
    hold both. A sorted list overlaps somewhere only if two neighbours do."""
    ordered = sorted((s for s in spans if s.label in family), key=lambda s: (s.start, s.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            return (f"{kind} spans {a.label} {a.start}:{a.end} and {b.label} {b.start}:{b.end} "
                    "overlap")
    return None
