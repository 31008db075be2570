"""`parquet`: a hospital export as Parquet: one note per row, read in batches (never all at once).

Columns are configurable like the CSV recipe's; a text column stored as binary is decoded as
UTF-8, and bytes that are not UTF-8 reject that row only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chartlnn.notes import Note, Reject
from data_recipes._common import MAX_NOTE_CHARS, RecipeError
from data_recipes._rows import row_to_note, table_columns

BATCH_ROWS = 1_024
"""Rows decoded at a time: memory stays flat however large the file."""


def read(path: Path, *, id_column: str = "id", text_column: str = "text",
         patient_column: str = "patient_id", note_type_column: str = "note_type",
         spans_column: str = "spans", max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    """Yield one Note (or Reject) per row; rows are numbered from 1.

    The optional columns are used only when present in the file's schema.
    """
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: file not found")
    if path.is_dir():
        raise RecipeError(f"{path}: is a folder, expected a Parquet file")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise RecipeError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    with parquet:
        header = parquet.schema_arrow.names
        optional = table_columns(path, header, id_column, text_column,
                                 (patient_column, note_type_column, spans_column))
        columns = [id_column, text_column, *(c for c in optional.values() if c)]
        row_number = 0
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns)
        while True:
            try:
                rows = next(batches).to_pylist()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise RecipeError(f"{path}: row {row_number + 1}: cannot read the file "
                                  f"({type(exc).__name__})") from None
            for row in rows:
                row_number += 1
                if isinstance(row[text_column], bytes):
                    row[text_column] = row[text_column].decode("utf-8", "surrogateescape")
                yield row_to_note(row, source=str(path), row_number=row_number,
                                  id_column=id_column, text_column=text_column,
                                  patient_column=optional[patient_column],
                                  note_type_column=optional[note_type_column],
                                  spans_column=optional[spans_column], max_chars=max_chars)
