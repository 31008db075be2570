"""`chartlnn.prepare`: a recipe's notes → a labeled, split, tokenized dataset directory + data card.

Steps, per note: residual-PHI scan (mask or refuse) → dedupe on normalized text → labels (silver
sections and entities, gold wins) → header dropout. Then the split by patient, the tokenizer
(trained on the train split only, or reused from a model), tokens and BIO tags for both views.
Every input record ends up kept or in the rejects, with a reason; the card reconciles the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from datasets import Dataset, DatasetDict
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chartlnn import deid
from chartlnn.config import load_config
from chartlnn.errors import ChartlnnError
from chartlnn.preparing.dataset import VIEWS, features, save_prepared, span_record
from chartlnn.preparing.data_card import DataCard
from chartlnn.preparing.header_dropout import drop_ranges, header_ranges, remap_spans
from chartlnn.preparing.labeler import NoteLabeler
from chartlnn.notes import Note, Reject, Span, reviewed
from chartlnn.schema import Schema, load_schema
from chartlnn.preparing.splits import SPLITS, assign_split, dedupe_key
from chartlnn.tokenize import (TextEncoder, as_newlines, load_tokenizer, spans_to_tags,
                               token_ranges, train_tokenizer)
from data_recipes import get_recipe, recipe_options

@dataclass
class PrepareConfig:
    """How a dataset is built; the defaults are ``configs/prepare/default.yaml``."""

    KIND: ClassVar[str] = "prepare"
    vocab_size: int
    """Size of the domain tokenizer's vocabulary."""
    min_frequency: int
    """A piece must occur this often in the train split to enter the vocabulary."""
    validation_fraction: float
    test_fraction: float
    seed: int
    """Seeds the split hash; change it to draw another split."""
    phi: Literal["mask", "fail"]
    """Residual PHI: mask each hit with a typed placeholder, or refuse the whole input."""
    shift_note_types: list[str]
    """Notes of these types go to the ``shift`` split, never trained on: a style-shift test of
    document kinds the model has not seen (e.g. discharge_summary, emergency)."""
    shift_specialties: list[str]
    """Notes filed under any of these specialties (``meta["specialties"]``, which the mtsamples
    recipe fills) go to the ``shift`` split too: a style-shift test of a clinical field the model
    has not read (its drugs, findings and phrasing), over the same kinds of note and fields."""
    mix_shift_types: bool
    """Whether a mixed-in source's notes of the shift types train (true) or are rejected (false,
    so the shift split holds kinds of notes the model never saw). True asks another question:
    how well a kind learned only from the mixed-in source (synthetic discharge summaries, say)
    carries over to the main source's notes of that kind, which stay held out."""

    def __post_init__(self) -> None:
        if not 0 <= self.validation_fraction < 1 or not 0 <= self.test_fraction < 1 \
                or self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction and test_fraction must leave a train split")
        if self.vocab_size < 100:
            raise ValueError("vocab_size must be at least 100")


class PhiFound(ChartlnnError):
    """``phi=fail`` and residual PHI was found; the message lists note ids, never text."""


class NothingUsable(ChartlnnError):
    """Every input record was rejected."""


@dataclass
class _Prepared:
    note: Note
    split: str
    sections: list[Span]
    entities: list[Span]
    input_text: str
    input_sections: list[Span]
    input_entities: list[Span]
    headers: list[tuple[int, int]]
    """The character ranges header dropout deleted from ``note.text`` to make ``input_text``."""


@dataclass
class Source:
    """One recipe's notes: the recipe, its input file or folder (None for generated notes), options."""

    recipe: str
    input_path: str | Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.input_path) if self.input_path else self.recipe


def prepare(recipe: str, input_path: str | Path | None, out: str | Path, *,
            options: dict[str, Any] | None = None, config: PrepareConfig | None = None,
            schema: Schema | None = None, tokenizer_from: str | Path | None = None,
            mix: list[Source] | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Build the dataset directory ``out`` from a recipe's notes; return the data card.

    ``tokenizer_from`` is a model or dataset directory whose ``tokenizer.json`` (and schema) to
    reuse, so a trained model can be fine-tuned on the new notes. ``mix`` adds other sources'
    notes to the train split only (e.g. synthetic notes rich in rare fields), so validation and
    test stay the main source's notes.
    """
    config = config or load_config(PrepareConfig)
    out = Path(out)
    tokenizer, schema_from = None, None
    if tokenizer_from is not None:
        tokenizer = load_tokenizer(tokenizer_from)
        model_schema = Path(tokenizer_from) / "schema.yaml"
        if schema is None and model_schema.exists():
            schema, schema_from = load_schema(model_schema), str(tokenizer_from)
    schema = schema or load_schema()
    card = DataCard(recipe=recipe, input_path=str(input_path) if input_path else None,
                    schema=schema, config=config, schema_from=schema_from)
    labeler = NoteLabeler(schema)
    sources = [Source(recipe, input_path, options or {}), *(mix or [])]

    prepared: list[_Prepared] = []
    seen: dict[str, str] = {}
    seen_ids: set[str] = set()
    phi_notes: list[str] = []
    with _progress(show_progress) as progress:
        task = progress.add_task("labeling notes", total=None)
        for index, src in enumerate(sources):
            mixed_in = index > 0  # the extra sources teach; they are never validated or tested on
            source = src.name  # where a reject's row is counted
            for record in get_recipe(src.recipe)(src.input_path, **_with_schema(src, schema)):
                progress.advance(task)
                card.count_record()
                if isinstance(record, Reject):
                    card.reject(record)
                    continue
                if (mixed_in and not config.mix_shift_types
                        and record.note_type in config.shift_note_types):
                    card.reject(Reject(source=source, row=record.meta.get("row"), note_id=record.id,
                                       reason="note type held out for the shift split "
                                              "(a mixed-in source only trains)"))
                    continue
                # every line break a newline, offsets kept: the header patterns read lines by them
                record = replace(record, text=as_newlines(record.text))
                note, phi_counts, gold_dropped = _mask_phi(record)
                if phi_counts and config.phi == "fail":
                    phi_notes.append(note.id)
                    continue
                if note.id in seen_ids:
                    card.reject(Reject(source=source, row=note.meta.get("row"), note_id=note.id,
                                       reason="duplicate note id (the first note with it is kept)"))
                    continue
                key = dedupe_key(note.text)
                if key in seen:
                    card.reject(Reject(source=source, row=note.meta.get("row"), note_id=note.id,
                                       reason=f"duplicate of note {seen[key]} (same normalized text)"))
                    continue
                seen[key] = note.id
                seen_ids.add(note.id)
                card.count_phi(phi_counts, gold_dropped)
                if mixed_in:
                    card.count_mixed(source)
                prepared.append(_label(note, labeler, key, config, card,
                                       split="train" if mixed_in else None))
    if phi_notes:
        raise PhiFound(f"residual PHI found in {len(phi_notes)} note(s): {', '.join(phi_notes[:50])}"
                       f"{' …' if len(phi_notes) > 50 else ''} (rerun with --phi mask to mask it)")
    if not prepared:
        raise NothingUsable(f"{input_path or recipe}: no usable notes ({card.rejected_total} rejected: "
                            f"{card.top_reject_reason() or 'empty input'})")

    if tokenizer is None:
        train_texts = [p.note.text for p in prepared if p.split == "train"] or \
                      [p.note.text for p in prepared]
        tokenizer = train_tokenizer(train_texts, config.vocab_size, config.min_frequency)
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    encode = TextEncoder(tokenizer)
    for item in prepared:
        rows[item.split].append(_example(item, encode, card))
        card.count_example(item.split, item.note, item.sections, item.entities,
                           len(rows[item.split][-1]["input_input_ids"]))
    feats = features(schema)
    splits = DatasetDict({name: Dataset.from_dict({c: [r[c] for r in rows[name]] for c in feats},
                                                  features=feats) for name in SPLITS})
    save_prepared(out, splits, tokenizer, schema, card.to_dict(), card.to_markdown())
    _write_rejects(out / "rejects.jsonl", card.rejects)
    return card.to_dict()


def _with_schema(src: Source, schema: Schema) -> dict[str, Any]:
    """The source's options, plus the run's schema for a recipe that checks labels against one
    (unless the user named a schema for it), so a hospital's own fields are not rejected."""
    if "schema" in recipe_options(src.recipe) and src.options.get("schema") is None:
        return {**src.options, "schema": schema}
    return src.options


def _progress(show: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=not show, transient=True)


def _mask_phi(note: Note) -> tuple[Note, dict[str, int], int]:
    """The note with residual PHI masked and gold spans moved; counts by kind; gold spans lost."""
    hits = deid.scan(note.text)
    if not hits:
        return note, {}, 0
    masked = deid.mask(note.text, hits)
    spans, lost = [], 0
    for span in note.spans:
        moved = _moved(masked, span.start, span.end)
        if moved is None:
            lost += 1
            continue
        spans.append(Span(moved[0], moved[1], span.label, span.source, dict(span.attrs)))
    headers = [moved for r in note.meta.get("header_spans", [])
               if (moved := masked.map_span(*r)) is not None]
    meta = {**note.meta, "header_spans": headers} if "header_spans" in note.meta else note.meta
    return (Note(note.id, masked.text, note.patient_id, note.note_type, spans, meta),
            dict(masked.counts), lost)


def _moved(masked: deid.MaskResult, start: int, end: int) -> tuple[int, int] | None:
    """A gold span's range in the masked text: exact when it holds no PHI; widened over the
    placeholder when it holds a whole hit (a section with a date in it); None when a hit cuts
    through one of its edges."""
    first, last = masked.map_span(start, start), masked.map_span(end, end)
    if first is None or last is None:
        return None
    return first[0], last[0]


def _label(note: Note, labeler: NoteLabeler, key: str, config: PrepareConfig,
           card: DataCard, split: str | None = None) -> _Prepared:
    labeled = labeler.label(note)
    card.count_unknown_gold(labeled.unknown_gold)
    headers = header_ranges(note.text, labeled.header_ranges)
    input_text, offsets = drop_ranges(note.text, headers)
    input_sections, lost_sections = remap_spans(labeled.sections, offsets)
    input_entities, lost_entities = remap_spans(labeled.entities, offsets)
    card.count_dropout(len(labeled.header_ranges), lost_sections + lost_entities)
    if split is None and (note.note_type in config.shift_note_types
                          or set(note.meta.get("specialties", ())) & set(config.shift_specialties)):
        split = "shift"
    if split is None:
        split = assign_split(note.patient_id or key, config.seed, config.validation_fraction,
                             config.test_fraction)
        if split == "test" and reviewed(note):
            split = "gold"
    return _Prepared(note, split, labeled.sections, labeled.entities, input_text,
                     input_sections, input_entities, headers)


def _example(item: _Prepared, encode: TextEncoder, card: DataCard) -> dict[str, Any]:
    note = item.note
    example: dict[str, Any] = {"id": note.id, "patient_id": note.patient_id,
                               "note_type": card.note_type_index(note.note_type),
                               "reviewed": reviewed(note)}
    views = {"full": (note.text, item.sections, item.entities),
             "input": (item.input_text, item.input_sections, item.input_entities)}
    for prefix, (text, sections, entities) in views.items():
        ids, offsets = encode(text)
        card.count_alignment(offsets, [*sections, *entities])
        example[VIEWS[prefix]] = text
        example[f"{prefix}_spans"] = [span_record(s) for s in [*sections, *entities]]
        example[f"{prefix}_input_ids"] = ids
        example[f"{prefix}_offsets"] = [list(o) for o in offsets]
        example[f"{prefix}_section_tags"] = spans_to_tags(offsets, sections)
        example[f"{prefix}_entity_tags"] = spans_to_tags(offsets, entities)
        if prefix == "full":
            example["header_tokens"] = [list(r) for r in token_ranges(offsets, item.headers)]
    return example


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for reject in rejects:
            handle.write(json.dumps(reject.to_dict()) + "\n")
