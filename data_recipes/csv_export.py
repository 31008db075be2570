"""`csv`: a hospital export as CSV (or .csv.gz): one note per row.

Columns are configurable; the id and text columns are required, patient id, note type and gold
spans (a JSON list of ``{start, end, field}``) are optional.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from chartlnn.notes import Note, Reject
from data_recipes._common import MAX_NOTE_CHARS, READ_ERRORS, RecipeError, open_text
from data_recipes._rows import row_to_note, table_columns

csv.field_size_limit(sys.maxsize)


def read(path: Path, *, id_column: str = "id", text_column: str = "text",
         patient_column: str = "patient_id", note_type_column: str = "note_type",
         spans_column: str = "spans", max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    """Yield one Note (or Reject) per data row; rows are numbered from 2 (the header is row 1).

    The optional columns are used only when present in the header.
    """
    path = Path(path)
    with open_text(path) as handle:
        # strict: a quote that is not closed where a field ends is an error, not a field that
        # silently swallows the following rows (which would turn note text into note ids)
        reader = csv.DictReader(handle, strict=True)
        try:
            header = reader.fieldnames or []
        except (csv.Error, *READ_ERRORS) as exc:
            raise RecipeError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None
        optional = table_columns(path, header, id_column, text_column,
                                 (patient_column, note_type_column, spans_column))
        row_number = 1
        while True:
            row_number += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # its message names the quote or delimiter, never a cell
                raise RecipeError(f"{path}: row {row_number}: not well-formed CSV ({exc}); is a "
                                  "quote left open? nothing after this row was read") from None
            except READ_ERRORS as exc:
                raise RecipeError(f"{path}: row {row_number}: cannot read the file "
                                  f"({type(exc).__name__})") from None
            yield row_to_note(row, source=str(path), row_number=row_number, id_column=id_column,
                              text_column=text_column, patient_column=optional[patient_column],
                              note_type_column=optional[note_type_column],
                              spans_column=optional[spans_column], max_chars=max_chars)
