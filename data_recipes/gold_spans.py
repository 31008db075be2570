"""Hand-made gold labels kept apart from the notes: a span file keyed by note id.

Each line is one note: ``{"note_id", "text_sha1", "chars", "spans": [{"start", "end", "field",
"value"?, "group"?, "negated"?}, ...]}`` (the format of ``benchmarks/gold/GOLD.md``). The file
holds no note text, so it can live in a repository beside public notes; the hash ties it to the
exact text it was made on. A note with gold from such a file is *complete*: every field was
annotated, so the silver labelers add nothing to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from chartlnn.notes import GOLD, REVIEWED, Note, Reject, Span
from data_recipes._common import RecipeError, numbered_lines, open_text


@dataclass(frozen=True)
class GoldNote:
    text_sha1: str
    chars: int
    spans: tuple[Span, ...]


def read_gold(path: str | Path) -> dict[str, GoldNote]:
    """The gold notes of a span file by note id; a line that cannot be used is one RecipeError
    naming the file and line (a gold file is curated by hand: better stopped than half-read)."""
    path = Path(path)
    gold: dict[str, GoldNote] = {}
    with open_text(path) as handle:
        for number, line in numbered_lines(handle, path):
            if not line.strip():
                continue
            where = f"{path}: line {number}"
            try:
                record = json.loads(line)
                note_id, spans = str(record["note_id"]), record["spans"]
                gold_note = GoldNote(str(record["text_sha1"]), int(record["chars"]), tuple(
                    Span(int(s["start"]), int(s["end"]), str(s["field"]), GOLD,
                         {k: s[k] for k in ("value", "group", "negated") if k in s})
                    for s in spans))
            except (ValueError, KeyError, TypeError, RecursionError):
                raise RecipeError(f"{where}: not a gold span record (note_id, text_sha1, chars, "
                                  "spans with start, end, field)") from None
            if any(span.end > gold_note.chars for span in gold_note.spans):
                raise RecipeError(f"{where}: a span of note {note_id} ends past its {gold_note.chars} characters")
            if note_id in gold:
                raise RecipeError(f"{where}: note {note_id} has gold labels twice")
            gold[note_id] = gold_note
    return gold


def with_gold(note: Note, gold: GoldNote, source: str, row: int | None) -> Note | Reject:
    """The note carrying its gold spans (marked complete), or a Reject when its text is not the
    text the labels were made on."""
    if len(note.text) != gold.chars or hashlib.sha1(note.text.encode("utf-8")).hexdigest() != gold.text_sha1:
        return Reject(source=source, row=row, note_id=note.id,
                      reason="text differs from the text its gold labels were made on")
    return Note(note.id, note.text, note.patient_id, note.note_type, [*note.spans, *gold.spans],
                {**note.meta, **REVIEWED})
