"""`mtsamples`: the public MTSamples corpus (Kaggle "Medical Transcriptions" CSV, .csv or .csv.gz).

Quirks handled here:
- the original line breaks became commas (``...effectiveness.,MEDICATIONS: , Her only...``);
  they are turned back into newlines character for character, so offsets do not move;
- the same transcription is listed under several specialties: the first row is kept with the
  set of specialties, each later copy is rejected as a duplicate (counted, never silent);
- the note type comes from the specialties and the sample's title.

``gold=FILE`` adds hand-made labels from a span file (:mod:`data_recipes.gold_spans`, e.g.
``benchmarks/gold/mtsamples-test.jsonl``); ``only_gold=true`` keeps only the notes it labels (every
other row is rejected as "no gold labels", counted like any reject).
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from chartlnn.notes import Note, Reject
from data_recipes._common import MAX_NOTE_CHARS, READ_ERRORS, RecipeError, checked, open_text
from data_recipes.gold_spans import read_gold, with_gold

csv.field_size_limit(sys.maxsize)

REQUIRED_COLUMNS = ("transcription", "medical_specialty")

# A comma that was a line break: glued to the next word ("pain.,MEDICATIONS"), right after a
# header's colon, before a numbered item, or a blank line written as ", ," / ": ," — but never a
# thousands separator ("1,000").
_LINE_BREAK_COMMA = re.compile(r",(?=[^\s\d])|,(?=\s,)|(?<=\D),(?=\d+\.\s)|(?<=[:,]\s),|(?<=[.:]),(?=\d)|(?<=:),")

# Specialty → note type, strongest evidence first.
_SPECIALTY_TYPES = [
    ("Letters", "letter"),
    ("Discharge Summary", "discharge_summary"),
    ("Emergency Room Reports", "emergency"),
    ("Radiology", "radiology"),
    ("Surgery", "operative_procedure"),
    ("Consult - History and Phy.", "hp_consult"),
    ("SOAP / Chart / Progress Notes", "progress_soap"),
    ("Office Notes", "progress_soap"),
]
# Words in the sample's title (not the note text) for notes filed under an organ specialty.
_TITLE_TYPES = [
    (re.compile(r"\bletter\b", re.I), "letter"),
    (re.compile(r"\bdischarge summary\b", re.I), "discharge_summary"),
    (re.compile(r"\b(?:ER|emergency)\b", re.I), "emergency"),
    (re.compile(r"\b(?:MRI|CT|x-ray|xray|ultrasound|echocardiogram|doppler|mammogram|scan|"
                r"angiogram|radiograph)\b", re.I), "radiology"),
    (re.compile(r"\b(?:consult|consultation|H&P|history and physical|evaluation)\b", re.I),
     "hp_consult"),
    (re.compile(r"\b(?:progress|SOAP|follow-?up|office visit|recheck)\b", re.I), "progress_soap"),
    (re.compile(r"\b(?:-ectomy|-otomy|-plasty|repair|excision|biopsy|procedure|operative|"
                r"surgery|injection|catheterization|endoscopy|colonoscopy|bronchoscopy|"
                r"\w+(?:ectomy|otomy|ostomy|plasty|scopy))\b", re.I), "operative_procedure"),
]


def restore_line_breaks(text: str) -> str:
    """Turn the commas that stood for line breaks back into newlines (same length)."""
    return _LINE_BREAK_COMMA.sub("\n", text)


def note_type_for(specialties: set[str], title: str) -> str:
    """The schema note type for a sample filed under ``specialties`` with this title."""
    for specialty, note_type in _SPECIALTY_TYPES:
        if specialty in specialties:
            return note_type
    for pattern, note_type in _TITLE_TYPES:
        if pattern.search(title):
            return note_type
    return "other"


def read(path: Path, *, max_chars: int = MAX_NOTE_CHARS, gold: str | None = None,
         only_gold: bool = False) -> Iterator[Note | Reject]:
    """Yield one Note per distinct transcription and a Reject for every other row.

    Rows are numbered from 2 (the header is row 1). Notes come in the file's order, each with
    ``meta["specialties"]`` (all specialties it is filed under), its title and its row.
    """
    path = Path(path)
    if only_gold and not gold:
        raise RecipeError("only_gold=true needs gold=FILE")
    labels = read_gold(gold) if gold else {}
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            rows = list(reader)
        except (csv.Error, *READ_ERRORS) as exc:
            raise RecipeError(f"{path}: not a readable MTSamples CSV ({type(exc).__name__})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RecipeError(f"{path}: missing column(s) {', '.join(missing)}; is this the MTSamples CSV?")

    first_row_of: dict[str, int] = {}
    specialties: dict[int, set[str]] = {}
    for i, row in enumerate(rows):
        text = (row.get("transcription") or "").strip()
        if text and text not in first_row_of:
            first_row_of[text] = i
            specialties[i] = set()
        if text:
            specialties[first_row_of[text]].add((row.get("medical_specialty") or "").strip())

    for i, row in enumerate(rows):
        row_number = i + 2
        note_id = (row.get("note_id") or "").strip() or f"row-{row_number}"
        text = (row.get("transcription") or "").strip()
        if text and first_row_of[text] != i:
            first = rows[first_row_of[text]]
            yield Reject(source=str(path), row=row_number, note_id=note_id,
                         reason=f"duplicate transcription of note {first.get('note_id') or 'row-' + str(first_row_of[text] + 2)}")
            continue
        title = (row.get("sample_name") or "").strip()
        note = Note(
            id=note_id,
            text=restore_line_breaks(text),
            note_type=note_type_for(specialties.get(i, set()), title) if text else None,
            meta={"specialties": sorted(specialties.get(i, set())), "title": title, "row": row_number},
        )
        if only_gold and note_id not in labels:
            yield Reject(source=str(path), row=row_number, note_id=note_id, reason="no gold labels")
            continue
        result = checked(note, str(path), row_number, max_chars)
        if isinstance(result, Note) and note_id in labels:
            result = with_gold(result, labels[note_id], str(path), row_number)
        yield result
