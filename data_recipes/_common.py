"""Checks every recipe applies to a note before yielding it.

A note that fails a check becomes a ``Reject`` with a reason that never quotes its text; a file
that cannot be used at all raises ``RecipeError`` with one line naming the file (and row).
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from chartlnn import normalize as norm
from chartlnn.errors import ChartlnnError
from chartlnn.notes import Note, Reject, Span

MAX_NOTE_CHARS = 200_000
"""Longer notes are rejected: no clinical note is this long, a concatenated export is."""


class RecipeError(ChartlnnError, ValueError):
    """The input as a whole is unusable; the message names the file and, when known, the row."""


def open_text(path: Path) -> IO[str]:
    """Open a text file (``.gz`` too) so that bytes that are not UTF-8 survive as surrogates.

    Decoding with ``surrogateescape`` lets one bad row be rejected instead of the whole file.
    """
    if not path.exists():
        raise RecipeError(f"{path}: file not found")
    if path.is_dir():
        raise RecipeError(f"{path}: is a folder, expected a file")
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


READ_ERRORS = (OSError, EOFError, UnicodeError)
"""What a corrupt or mislabeled file raises mid-read (a .gz that is not gzip, a truncated file)."""


def numbered_lines(handle: IO[str], path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` from 1; a read failure becomes one RecipeError naming the line."""
    line_number = 0
    while True:
        line_number += 1
        try:
            line = handle.readline()
        except READ_ERRORS as exc:
            raise RecipeError(f"{path}: line {line_number}: cannot read the file "
                              f"({type(exc).__name__}); is it the right format?") from None
        if not line:
            return
        yield line_number, line


def decode_bytes(data: bytes) -> str | None:
    """Strict UTF-8 (a BOM is dropped); None when the bytes are not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


_SURROGATES = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def has_surrogates(text: str) -> bool:
    """Lone surrogates: bytes that were not UTF-8 (kept by ``surrogateescape``) or a JSON
    ``\\ud800`` escape; such a string cannot be written out as UTF-8."""
    return _SURROGATES.search(text) is not None


def safe_name(name: object) -> str | None:
    """``name`` when it reads as a column name (one word of letters, digits and ``_.-``, at most
    32 characters), else None: a cell of note text is never echoed in a message."""
    return name if isinstance(name, str) and _NAME.fullmatch(name) else None


def text_problem(text: object, max_chars: int = MAX_NOTE_CHARS) -> str | None:
    """Why a note's text is unusable, or None when it is fine."""
    if not isinstance(text, str):
        return "text is not a string"
    if has_surrogates(text):
        return "text is not valid UTF-8"
    if not text.strip():
        return "empty note"
    if "\x00" in text:
        return "text contains NUL bytes (binary, not a note)"
    if len(text) > max_chars:
        return f"note is {len(text)} characters, over the limit of {max_chars}"
    return None


def span_problem(spans: list[Span], text_len: int) -> str | None:
    """Why a note's gold spans are unusable (offsets outside the text), or None."""
    for span in spans:
        if span.end > text_len:
            return f"gold span {span.label!r} {span.start}:{span.end} is outside the text ({text_len} chars)"
    return None


def checked(note: Note, source: str, row: int | None, max_chars: int) -> Note | Reject:
    """The note itself, or a Reject saying what is wrong with it."""
    problem = text_problem(note.text, max_chars) or span_problem(note.spans, len(note.text))
    if problem:
        return Reject(source=source, row=row, note_id=note.id, reason=problem)
    return note


def typed_value(field: str, entries: list[str], unit: str | None, where: str) -> Any:
    """A reviewer's value (Label Studio text box, brat AnnotatorNotes) read by the field's
    normalizer, so it compares with predicted values (a bare number is taken in the schema's
    unit); a field without a normalizer keeps the text."""
    if len(set(entries)) > 1:
        raise ValueError(f"{where}: several values typed for one {field} span")
    if field not in norm.NORMALIZERS:
        return entries[0]
    value = norm.normalize(field, entries[0])
    if value is None and unit:
        value = norm.normalize(field, f"{entries[0]} {unit}")
    if value is None:
        raise ValueError(f"{where}: the value typed for its {field} span cannot be read as one")
    return value
