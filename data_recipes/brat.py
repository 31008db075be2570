"""`brat`: brat standoff annotations, ``NAME.txt`` + ``NAME.ann`` pairs in a folder.

Text-bound annotations (``T`` lines) become gold spans; ``label_map`` maps annotation types to
schema fields (a YAML/JSON file or a ``Type:field,Type:field`` string; by default a type maps to
its lower-cased name). Types that map to nothing are skipped and counted in ``meta``.
A discontinuous annotation (``start end;start end``) gives one span per fragment, sharing a group.
``A``/``M`` attribute lines named Negation/Negated mark the span ``negated``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from chartlnn.notes import GOLD, Note, Reject, Span
from data_recipes._common import MAX_NOTE_CHARS, RecipeError, checked, decode_bytes
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


def parse_ann(ann: str, label_map: dict[str, str] | None) -> tuple[list[Span], int]:
    """Spans from a .ann file's text, and how many annotations had no field to map to.

    Raises ValueError naming the line number for a malformed ``T`` line.
    """
    spans: dict[str, list[Span]] = {}
    negated: set[str] = set()
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
        elif line.startswith(("A", "M")):
            fields = line.split("\t")[1].split() if "\t" in line else []
            if len(fields) >= 2 and fields[0].lower() in NEGATION_ATTRIBUTES:
                negated.add(fields[1])
    for ann_id in negated & spans.keys():
        for span in spans[ann_id]:
            span.attrs["negated"] = True
    return [s for group in spans.values() for s in group], unmapped


def read(path: Path, *, label_map: str | dict | None = None,
         max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    folder = Path(path)
    mapping = load_label_map(label_map)
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
            spans, unmapped = parse_ann(ann, mapping)
        except ValueError as exc:
            yield Reject(source=str(ann_file), note_id=nid, reason=str(exc))
            continue
        note = Note(id=nid, text=text, spans=spans, meta={"unmapped_annotations": unmapped})
        yield checked(note, str(ann_file), None, max_chars)
