"""`jsonl`: a hospital export as JSON Lines (or .jsonl.gz): one note object per line.

Keys are configurable like the CSV recipe's columns; ``spans`` may be a list of
``{start, end, field}`` objects. A line that is not a JSON object is rejected, not fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from chartlnn.notes import Note, Reject
from data_recipes._common import MAX_NOTE_CHARS, numbered_lines, open_text
from data_recipes._rows import row_to_note


def read(path: Path, *, id_column: str = "id", text_column: str = "text",
         patient_column: str = "patient_id", note_type_column: str = "note_type",
         spans_column: str = "spans", max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    """Yield one Note (or Reject) per non-blank line; lines are numbered from 1."""
    path = Path(path)
    with open_text(path) as handle:
        for line_number, line in numbered_lines(handle, path):
            if not line.strip():
                continue
            source = str(path)
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                yield Reject(source=source, row=line_number, reason="line is not valid JSON")
                continue
            except (ValueError, RecursionError):  # a number past Python's digit limit, deep nesting
                yield Reject(source=source, row=line_number,
                             reason="line has a number too long or nesting too deep to read")
                continue
            if not isinstance(row, dict):
                yield Reject(source=source, row=line_number, reason="line is not a JSON object")
                continue
            if text_column not in row:
                yield Reject(source=source, row=line_number,
                             reason=f"no {text_column!r} key (set it with -O text_column=...)")
                continue
            yield row_to_note(row, source=source, row_number=line_number, id_column=id_column,
                              text_column=text_column, patient_column=patient_column,
                              note_type_column=note_type_column, spans_column=spans_column,
                              max_chars=max_chars)
