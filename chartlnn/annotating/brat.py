"""brat review files: ``NAME.ann`` with the model's spans, ``annotation.conf`` from the schema.

A span is a ``T`` line typed with its field name, which ``data_recipes.brat`` maps back to the
field (its default lower-cases the type; field names are lower case). brat's lines cannot hold a
line break, so a span across lines (most sections) is written as brat writes one: a
discontinuous annotation, one fragment per line, the fragments' texts joined by a space; the brat
recipe reads its fragments back as spans sharing a ``group``. An entity's normalized value is an
``AnnotatorNotes`` comment on its span.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from chartlnn.annotating.spans import review_spans
from chartlnn.schema import Schema
from data_recipes._common import safe_name

LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Every character ``str.splitlines`` breaks at: none may fall inside an .ann line."""


def annotation_conf(schema: Schema) -> str:
    """Every section and entity field as an entity type; the other sections present and empty."""
    lines = ["# chartlnn review: the schema's section fields, then its entity fields", "[entities]",
             *schema.sections, *schema.entities, "", "[relations]", "", "[events]", "",
             "[attributes]"]
    return "\n".join(lines) + "\n"


def ann(text: str, chart: dict[str, Any]) -> str:
    """The .ann file of a note: a ``T`` line per span, an ``AnnotatorNotes`` line per value."""
    lines = []
    for number, span in enumerate(review_spans(chart), 1):
        pieces = fragments(text, span.start, span.end)
        offsets = ";".join(f"{start} {end}" for start, end in pieces)
        shown = " ".join(text[start:end] for start, end in pieces)
        lines.append(f"T{number}\t{span.field} {offsets}\t{shown}")
        if span.value is not None:
            lines.append(f"#{number}\tAnnotatorNotes T{number}\t{LINE_BREAK.sub(' ', span.value)}")
    return "".join(line + "\n" for line in lines)


def fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut at line breaks into ``(start, end)`` pieces, empty ones left out."""
    pieces, first = [], start
    for found in LINE_BREAK.finditer(text, start, end):
        pieces.append((first, found.start()))
        first = found.end()
    pieces.append((first, end))
    return [(a, b) for a, b in pieces if a < b]


def file_stem(note_id: str, used: set[str]) -> str:
    """The note's file name without suffix: its id when that is a safe name (letters, digits,
    ``_.-``, at most 32 characters) not yet ``used`` in the folder (case ignored, for file systems
    that ignore it), else ``note-`` and 16 hex digits of its SHA-256; added to ``used``."""
    stem = safe_name(note_id)
    if stem is None or stem.lower() in used:
        stem = "note-" + hashlib.sha256(note_id.encode("utf-8")).hexdigest()[:16]
    used.add(stem.lower())
    return stem
