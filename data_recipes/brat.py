"""`brat`: brat standoff annotations, ``NAME.txt`` + ``NAME.ann`` pairs in a folder.

Text-bound annotations (``T`` lines) become gold spans; ``label_map`` maps annotation types to
schema fields (a YAML/JSON file or a ``Type:field,Type:field`` string; by default a type maps to
its lower-cased name). Types that map to nothing are skipped and counted in ``meta``.
A discontinuous annotation (``start end;start end``) gives one span per fragment, sharing a
group — unless only white space lies between its fragments: brat cannot draw a span across a line
break, so `chartlnn annotate --format brat` writes a multi-line section as one fragment per line,
and those join back into the one span they were. ``A``/``M`` attribute lines named
Negation/Negated mark the span ``negated``; an ``AnnotatorNotes`` line on an entity span is the
reviewer's value for it (read by the field's normalizer, as the Label Studio text box is).
``reviewed=true`` says every field of every note was annotated (a review round): no silver labels
are added to them, their loss weighs more, and held-out ones form the ``gold`` split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from chartlnn.notes import GOLD, REVIEWED, Note, Reject, Span
from chartlnn.schema import Schema, load_schema
from data_recipes._common import MAX_NOTE_CHARS, RecipeError, checked, decode_bytes, typed_value
from data_recipes.text_dir import note_files, note_id

NEGATION_ATTRIBUTES = {"negation", "negated"}


def load_label_map(label_map: str | dict | None) -> dict[str, str] | None:
    """The type → field map from a dict, a YAML/JSON file path, or ``"Type:field,..."``."""
    if label_map is None or isinstance(label_map, dict):
        return label_map
    path = Path(label_map)
    if path.suffix in {".yaml", ".yml", ".json"}:
        if not path.exists():
            raise RecipeError(f"{path}: label map file not found")
        loaded = (json.loads if path.suffix == ".json" else yaml.safe_load)(path.read_text())
        if not isinstance(loaded, dict):
            raise RecipeError(f"{path}: label map must be a mapping of annotation type to field")
        return {str(k): str(v) for k, v in loaded.items()}
    pairs = [p.split(":", 1) for p in label_map.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise RecipeError(f"label_map {label_map!r}: expected Type:field pairs separated by commas")
    return {k.strip(): v.strip() for k, v in pairs}


def parse_ann(ann: str, label_map: dict[str, str] | None, text: str | None = None,
              schema: Schema | None = None) -> tuple[list[Span], int]:
    """Spans from a .ann file's text, and how many annotations had no field to map to. With the
    note's ``text``, fragments with only white space between them join; with a ``schema``, an
    entity span's AnnotatorNotes become its value.

    Raises ValueError naming the line number for a malformed ``T`` line or an unreadable value.
    """
    spans: dict[str, list[Span]] = {}
    negated: set[str] = set()
    values: dict[str, tuple[int, str]] = {}
    unmapped = 0
    for line_number, line in enumerate(ann.splitlines(), start=1):
        if line.startswith("T"):
            parts = line.split("\t")
            if len(parts) < 2:
                raise ValueError(f".ann line {line_number}: expected 'T<id>\\tType start end'")
            ann_id = parts[0]
            ann_type, _, offsets = parts[1].partition(" ")
            label = label_map.get(ann_type) if label_map is not None else ann_type.lower()
            if not label:
                unmapped += 1
                continue
            group = len(spans)
            for fragment in offsets.split(";"):
                try:
                    start, end = (int(x) for x in fragment.split())
                except ValueError:
                    raise ValueError(f".ann line {line_number}: offsets are not 'start end'") from None
                if not 0 <= start < end:
                    raise ValueError(f".ann line {line_number}: bad offsets {start}:{end}")
                spans.setdefault(ann_id, []).append(
                    Span(start, end, label, source=GOLD, attrs={"brat_id": ann_id, "group": group}))
        elif line.startswith("#") and line.count("\t") >= 2:
            kind, _, target = line.split("\t")[1].partition(" ")
            if kind == "AnnotatorNotes":
                values[target.strip()] = (line_number, line.split("\t", 2)[2].strip())
        elif line.startswith(("A", "M")):
            fields = line.split("\t")[1].split() if "\t" in line else []
            if len(fields) >= 2 and fields[0].lower() in NEGATION_ATTRIBUTES:
                negated.add(fields[1])
    for ann_id in negated & spans.keys():
        for span in spans[ann_id]:
            span.attrs["negated"] = True
    if text is not None:
        spans = {ann_id: _joined(group, text) for ann_id, group in spans.items()}
    if schema is not None:
        for ann_id, (line_number, typed) in values.items():
            group = spans.get(ann_id, [])
            if typed and len(group) == 1 and group[0].label in schema.entities:
                field = group[0].label
                group[0].attrs["value"] = typed_value(field, [typed], schema.entities[field].unit,
                                                      f".ann line {line_number}")
    return [s for group in spans.values() for s in group], unmapped


def _joined(fragments: list[Span], text: str) -> list[Span]:
    """One span for fragments that only white space separates (a span cut at line breaks)."""
    ordered = sorted(fragments, key=lambda s: s.start)
    if len(ordered) < 2 or any(text[a.end:b.start].strip() for a, b in zip(ordered, ordered[1:])):
        return fragments
    first = ordered[0]
    return [Span(first.start, ordered[-1].end, first.label, first.source, first.attrs)]


def read(path: Path, *, label_map: str | dict | None = None, reviewed: bool = False,
         schema: str | Path | Schema | None = None,
         max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    folder = Path(path)
    mapping = load_label_map(label_map)
    if not isinstance(schema, Schema):
        schema = load_schema(schema)
    for txt in note_files(folder):
        nid = note_id(folder, txt)
        ann_file = txt.with_suffix(".ann")
        text = decode_bytes(txt.read_bytes())
        if text is None:
            yield Reject(source=str(txt), note_id=nid, reason="text is not valid UTF-8")
            continue
        if not ann_file.exists():
            yield Reject(source=str(txt), note_id=nid, reason="no .ann file beside the .txt")
            continue
        ann = decode_bytes(ann_file.read_bytes())
        if ann is None:
            yield Reject(source=str(ann_file), note_id=nid, reason=".ann file is not valid UTF-8")
            continue
        try:
            spans, unmapped = parse_ann(ann, mapping, text, schema)
        except ValueError as exc:
            yield Reject(source=str(ann_file), note_id=nid, reason=str(exc))
            continue
        meta = {"unmapped_annotations": unmapped, **(REVIEWED if reviewed else {})}
        note = Note(id=nid, text=text, spans=spans, meta=meta)
        yield checked(note, str(ann_file), None, max_chars)
