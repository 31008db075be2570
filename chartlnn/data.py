"""The prepared dataset directory (what `prepare` writes, every later step reads) and the
Lightning DataModule that batches it for training.

Layout::

    DIR/dataset/          HF DatasetDict (train / validation / test) saved with save_to_disk
    DIR/tokenizer.json    the domain tokenizer (trained on the train split, or reused)
    DIR/schema.yaml       the schema the labels follow
    DIR/data_card.json    counts, label statistics, PHI masks, rejects (data_card.md for people)
    DIR/rejects.jsonl     one line per rejected input record: source, row, note id, reason

Each example holds the note twice: ``text`` (headers kept) and ``input_text`` (headers removed,
what the model reads), each with its spans, token ids, token offsets and BIO tags per head.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from datasets import Sequence as ListFeature
from datasets import (ClassLabel, Dataset, DatasetDict, Features, Value, disable_progress_bars,
                      load_from_disk)
from tokenizers import Tokenizer
from torch.utils.data import DataLoader, Sampler

from chartlnn.schema import Schema, load_schema
from chartlnn.splits import SPLITS
from chartlnn.tokenize import bio_labels, load_tokenizer

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
    }
    for prefix, text_column in VIEWS.items():
        columns[text_column] = Value("string")
        columns[f"{prefix}_spans"] = SPAN_FEATURE
        columns[f"{prefix}_input_ids"] = ListFeature(Value("int32"))
        columns[f"{prefix}_offsets"] = ListFeature(ListFeature(Value("int32"), length=2))
        columns[f"{prefix}_section_tags"] = ListFeature(section_tags)
        columns[f"{prefix}_entity_tags"] = ListFeature(entity_tags)
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
        raise FileNotFoundError(f"{path}: not a prepared dataset (missing {', '.join(missing)}); "
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


PAD_TAG = -100
"""Tag id of padding positions: cross-entropy ignores it."""


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of notes of similar length, so little compute goes to padding.

    Each epoch: shuffle (seeded by seed + epoch), cut into pools of ``batch_size * pool_batches``
    notes, sort each pool by length, cut into batches, shuffle the batches. Under DDP each rank
    takes every ``world_size``-th batch, all ranks the same number.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool, seed: int,
                 rank: int = 0, world_size: int = 1, pool_batches: int = 50) -> None:
        self.lengths, self.batch_size, self.shuffle, self.seed = list(lengths), batch_size, shuffle, seed
        self.rank, self.world_size, self.pool_batches = rank, world_size, pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        order = np.arange(len(self.lengths))
        if not self.shuffle:
            order = sorted(order, key=lambda i: self.lengths[i])
            return [list(order[i:i + self.batch_size]) for i in range(0, len(order), self.batch_size)]
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: self.lengths[i])
            batches += [[int(i) for i in chunk[j:j + self.batch_size]]
                        for j in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        per_rank = len(batches) // self.world_size if self.world_size > 1 else len(batches)
        yield from batches[self.rank::self.world_size][:per_rank]

    def __len__(self) -> int:
        # Pools are whole multiples of the batch size, so shuffled or not the batches number
        # ceil(notes / batch_size).
        count = -(-len(self.lengths) // self.batch_size)
        return count // self.world_size if self.world_size > 1 else count


def collate(examples: list[dict[str, Any]], view: str = "input",
            max_tokens: int | None = None) -> dict[str, torch.Tensor]:
    """Pad a batch: ``input_ids`` (B, T), ``mask`` (B, T) bool, tags (B, T) with PAD_TAG at padding,
    ``note_type`` (B,) with -1 for none. Notes over ``max_tokens`` get a random window of that size
    (training only; evaluation passes None and sees whole notes)."""
    rows = []
    for ex in examples:
        ids, sections, entities = (ex[f"{view}_input_ids"], ex[f"{view}_section_tags"],
                                   ex[f"{view}_entity_tags"])
        if max_tokens is not None and len(ids) > max_tokens:
            start = int(torch.randint(0, len(ids) - max_tokens + 1, ()))
            ids, sections, entities = (x[start:start + max_tokens] for x in (ids, sections, entities))
        rows.append((ids, sections, entities))
    length = max(1, max(len(r[0]) for r in rows))
    batch = {
        "input_ids": torch.zeros(len(rows), length, dtype=torch.long),
        "mask": torch.zeros(len(rows), length, dtype=torch.bool),
        "section_tags": torch.full((len(rows), length), PAD_TAG, dtype=torch.long),
        "entity_tags": torch.full((len(rows), length), PAD_TAG, dtype=torch.long),
        "note_type": torch.tensor([ex["note_type"] for ex in examples], dtype=torch.long),
    }
    for i, (ids, sections, entities) in enumerate(rows):
        n = len(ids)
        batch["input_ids"][i, :n] = torch.tensor(ids, dtype=torch.long)
        batch["mask"][i, :n] = True
        batch["section_tags"][i, :n] = torch.tensor(sections, dtype=torch.long)
        batch["entity_tags"][i, :n] = torch.tensor(entities, dtype=torch.long)
    return batch


class TaggingDataModule(L.LightningDataModule):
    """Train/validation loaders over a prepared dataset's headerless view (what the model reads)."""

    def __init__(self, data_dir: str | Path, batch_size: int = 16, max_train_tokens: int = 1024,
                 num_workers: int = 0, seed: int = 13, view: str = "input") -> None:
        super().__init__()
        self.data_dir, self.batch_size, self.max_train_tokens = Path(data_dir), batch_size, max_train_tokens
        self.num_workers, self.seed, self.view = num_workers, seed, view
        self.data: PreparedDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.data is None:
            self.data = load_prepared(self.data_dir)

    def _loader(self, split: str, train: bool) -> DataLoader:
        dataset = self.data.splits[split]
        lengths = [len(ids) for ids in dataset[f"{self.view}_input_ids"]]
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if train and trainer else (0, 1)
        sampler = LengthBucketSampler(lengths, self.batch_size, shuffle=train, seed=self.seed,
                                      rank=rank, world_size=world)
        return DataLoader(dataset, batch_sampler=sampler, num_workers=self.num_workers,
                          collate_fn=partial(collate, view=self.view,
                                             max_tokens=self.max_train_tokens if train else None),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)
