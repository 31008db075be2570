"""The prepared dataset directory: what `prepare` writes and every later step reads.

Layout::

    DIR/dataset/          HF DatasetDict (train / validation / test) saved with save_to_disk
    DIR/tokenizer.json    the domain tokenizer (trained on the train split, or reused)
    DIR/schema.yaml       the schema the labels follow
    DIR/data_card.json    counts, label statistics, PHI masks, rejects (data_card.md for people)
    DIR/rejects.jsonl     one line per rejected input record: source, row, note id, reason

Each example holds the note twice: ``text`` (headers kept) and ``input_text`` (headers removed,
what the model reads), each with its spans, token ids, token offsets and BIO tags per head, and
``header_tokens``: the token-index ranges ``[first, stop)`` of the headers in the full view, the
ones the input view lacks (so training can also read a note with only some of its headers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from datasets import Sequence as ListFeature
from datasets import (ClassLabel, Dataset, DatasetDict, Features, Value, disable_progress_bars,
                      load_from_disk)
from tokenizers import Tokenizer

from chartlnn.errors import ChartlnnError
from chartlnn.schema import Schema, load_schema
from chartlnn.preparing.splits import SPLITS
from chartlnn.tokenize import bio_labels, load_tokenizer

class DatasetError(ChartlnnError, FileNotFoundError):
    """A directory that is not a prepared dataset; the message names it and what is missing."""


SPAN_FEATURE = [{
    "start": Value("int32"), "end": Value("int32"), "label": Value("string"),
    "source": Value("string"), "attrs": Value("string"),
}]
VIEWS = {"full": "text", "input": "input_text"}
"""The two views of a note: prefix of its token columns → its text column."""


def features(schema: Schema) -> Features:
    """The dataset's columns, with tag and note-type names carried as ClassLabels."""
    section_tags = ClassLabel(names=bio_labels(schema.section_names))
    entity_tags = ClassLabel(names=bio_labels(schema.entity_names))
    columns: dict[str, Any] = {
        "id": Value("string"),
        "patient_id": Value("string"),
        "note_type": ClassLabel(names=schema.documents["note_type"].classes),
        "reviewed": Value("bool"),
    }
    for prefix, text_column in VIEWS.items():
        columns[text_column] = Value("string")
        columns[f"{prefix}_spans"] = SPAN_FEATURE
        columns[f"{prefix}_input_ids"] = ListFeature(Value("int32"))
        columns[f"{prefix}_offsets"] = ListFeature(ListFeature(Value("int32"), length=2))
        columns[f"{prefix}_section_tags"] = ListFeature(section_tags)
        columns[f"{prefix}_entity_tags"] = ListFeature(entity_tags)
    columns["header_tokens"] = ListFeature(ListFeature(Value("int32"), length=2))
    return Features(columns)


def span_record(span) -> dict[str, Any]:
    """A Span as stored in the dataset (attrs as JSON, since their values vary in type)."""
    return {"start": span.start, "end": span.end, "label": span.label, "source": span.source,
            "attrs": json.dumps(span.attrs, sort_keys=True)}


@dataclass
class PreparedDataset:
    """A prepared dataset directory, loaded."""

    path: Path
    splits: DatasetDict
    tokenizer: Tokenizer
    schema: Schema
    card: dict[str, Any]


def save_prepared(out: Path, splits: DatasetDict, tokenizer: Tokenizer, schema: Schema,
                  card: dict[str, Any], card_markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    disable_progress_bars()  # our own progress display is the one users see
    # datasets cannot load an empty split back from disk, so only non-empty ones are saved and
    # load_prepared recreates the others, empty, with the same features.
    DatasetDict({k: v for k, v in splits.items() if len(v)}).save_to_disk(str(out / "dataset"))
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "schema.yaml").write_text(schema.to_yaml(), encoding="utf-8")
    (out / "data_card.json").write_text(json.dumps(card, indent=2, sort_keys=False), encoding="utf-8")
    (out / "data_card.md").write_text(card_markdown, encoding="utf-8")


def load_prepared(path: str | Path) -> PreparedDataset:
    """Load a directory written by `prepare`; a clear error when it is not one."""
    path = Path(path)
    missing = [name for name in ("dataset", "tokenizer.json", "schema.yaml", "data_card.json")
               if not (path / name).exists()]
    if missing:
        raise DatasetError(f"{path}: not a prepared dataset (missing {', '.join(missing)}); "
                                "create one with `chartlnn prepare`")
    schema = load_schema(path / "schema.yaml")
    splits = load_from_disk(str(path / "dataset"))
    feats = features(schema)
    splits = DatasetDict({name: splits[name] if name in splits else
                          Dataset.from_dict({column: [] for column in feats}, features=feats)
                          for name in SPLITS})
    return PreparedDataset(
        path=path,
        splits=splits,
        tokenizer=load_tokenizer(path / "tokenizer.json"),
        schema=schema,
        card=json.loads((path / "data_card.json").read_text(encoding="utf-8")),
    )
