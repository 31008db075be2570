"""Batches of a prepared dataset for training: length buckets, padding, the Lightning DataModule,
and the tag-level scores of a batch (what validation reports and checkpoints are chosen by)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from chartlnn.preparing.dataset import DatasetError, PreparedDataset, load_prepared
from chartlnn.tag_scores import field_f1
from chartlnn.training.augment import (Augment, CaseSwap, LineJoin, MentionMask, MentionSwap,
                                       SectionSwap)

PAD_TAG = -100
"""Tag id of padding positions: cross-entropy ignores it."""

COLLATE_COLUMNS = tuple(f"{view}_{column}" for view in ("input", "full")
                        for column in ("input_ids", "section_tags", "entity_tags")
                        ) + ("header_tokens", "note_type", "reviewed")
"""The columns :func:`collate` reads. Loaders read only these: a row with every column (texts,
offsets, spans of both views) costs about 3.5x as much to read, at every step."""


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


def without_some_headers(ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                         headers: Sequence[Sequence[int]]) -> tuple[list[int], list[int], list[int]]:
    """A full-view note with some of its headers deleted: each header (a token range, tagged O in
    both heads) stays with a probability drawn once for the note, uniform from 0 to 1. Deleting
    every header gives exactly the input view."""
    keep_header = float(torch.rand(()))
    keep = [True] * len(ids)
    for first, stop in headers:
        if float(torch.rand(())) >= keep_header:
            keep[first:stop] = [False] * (stop - first)
    return tuple([x for x, kept in zip(column, keep) if kept] for column in (ids, sections, entities))


def collate(examples: list[dict[str, Any]], view: str = "input", max_tokens: int | None = None,
            headers_kept_rate: float = 0.0, headers_partial_rate: float = 0.0,
            augment: Sequence[Augment] = ()) -> dict[str, torch.Tensor]:
    """Pad a batch: ``input_ids`` (B, T), ``mask`` (B, T) bool, tags (B, T) with PAD_TAG at padding,
    ``note_type`` (B,) with -1 for none, ``reviewed`` (B,) bool. Notes over ``max_tokens`` get a random window of that size
    (training only; evaluation passes None and sees whole notes). With ``headers_kept_rate``, each
    note is read with its headers (the "full" view) with that probability, drawn afresh every
    time it is batched, so the model sees both views of every note over the epochs; of those,
    ``headers_partial_rate`` keep only some headers (:func:`without_some_headers`). ``augment``
    (training only, :mod:`chartlnn.training.augment`) rewrites each note first, in order."""
    rows = []
    for ex in examples:
        read = "full" if headers_kept_rate and float(torch.rand(())) < headers_kept_rate else view
        ids, sections, entities = (ex[f"{read}_input_ids"], ex[f"{read}_section_tags"],
                                   ex[f"{read}_entity_tags"])
        if read == "full" and headers_partial_rate and float(torch.rand(())) < headers_partial_rate:
            ids, sections, entities = without_some_headers(ids, sections, entities, ex["header_tokens"])
        for rewrite in augment:
            ids, sections, entities = rewrite(ids, sections, entities, read)
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
        "reviewed": torch.tensor([bool(ex.get("reviewed")) for ex in examples], dtype=torch.bool),
    }
    for i, (ids, sections, entities) in enumerate(rows):
        n = len(ids)
        batch["input_ids"][i, :n] = torch.tensor(ids, dtype=torch.long)
        batch["mask"][i, :n] = True
        batch["section_tags"][i, :n] = torch.tensor(sections, dtype=torch.long)
        batch["entity_tags"][i, :n] = torch.tensor(entities, dtype=torch.long)
    return batch


class TaggingDataModule(L.LightningDataModule):
    """Train/validation loaders over a prepared dataset: training reads notes headerless or, at
    ``headers_kept_rate``, with their headers (``headers_partial_rate`` of those with only some),
    recombined from other notes' sections at ``section_swap``, with drug and allergen names
    swapped at ``mention_swap``, routes and frequencies rewritten at ``sig_swap``, entity
    mentions masked at ``mention_mask``, whole notes read in one case at ``case_swap`` and as one
    paragraph at ``line_join``; validation reads them headerless and as they are (the real
    task)."""

    def __init__(self, data_dir: str | Path, batch_size: int = 16, max_train_tokens: int = 1024,
                 num_workers: int = 0, seed: int = 13, view: str = "input",
                 headers_kept_rate: float = 0.0, headers_partial_rate: float = 0.0,
                 mention_swap: float = 0.0, section_swap: float = 0.0,
                 mention_mask: float = 0.0, sig_swap: float = 0.0, case_swap: float = 0.0,
                 line_join: float = 0.0) -> None:
        super().__init__()
        self.data_dir, self.batch_size, self.max_train_tokens = Path(data_dir), batch_size, max_train_tokens
        self.num_workers, self.seed, self.view = num_workers, seed, view
        self.headers_kept_rate, self.headers_partial_rate = headers_kept_rate, headers_partial_rate
        self.rates = {"mention_swap": mention_swap, "section_swap": section_swap,
                      "mention_mask": mention_mask, "sig_swap": sig_swap, "case_swap": case_swap,
                      "line_join": line_join}
        self.data: PreparedDataset | None = None
        self.augment: list[Augment] = []

    def setup(self, stage: str | None = None) -> None:
        if self.data is None:
            self.data = load_prepared(self.data_dir)
            train = self.data.splits["train"]
            if self.headers_partial_rate and "header_tokens" not in train.column_names:
                raise DatasetError(f"{self.data_dir}: prepared before notes carried their header "
                                   "positions; prepare it again to train with headers_partial_rate")
            section_tags = train.features["input_section_tags"].feature.names
            entity_tags = train.features["input_entity_tags"].feature.names
            views = (self.view, "full") if self.headers_kept_rate else (self.view,)
            rewrites = (SectionSwap.for_split(train, section_tags, views, self.rates["section_swap"]),
                        MentionSwap.for_dataset(self.data.tokenizer, section_tags, entity_tags,
                                                self.rates["mention_swap"]),
                        MentionSwap.for_sigs(self.data.tokenizer, section_tags, entity_tags,
                                             self.rates["sig_swap"]),
                        MentionMask.for_dataset(self.data.tokenizer, entity_tags,
                                                self.rates["mention_mask"]),
                        CaseSwap.for_dataset(self.data.tokenizer, section_tags, entity_tags,
                                             self.rates["case_swap"]),
                        LineJoin.for_dataset(self.data.tokenizer, section_tags, entity_tags,
                                             self.rates["line_join"]))
            self.augment = [rewrite for rewrite in rewrites if rewrite is not None]

    def _loader(self, split: str, train: bool) -> DataLoader:
        dataset = self.data.splits[split]
        dataset = dataset.select_columns([c for c in COLLATE_COLUMNS if c in dataset.column_names])
        lengths = [len(ids) for ids in dataset[f"{self.view}_input_ids"]]
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if train and trainer else (0, 1)
        sampler = LengthBucketSampler(lengths, self.batch_size, shuffle=train, seed=self.seed,
                                      rank=rank, world_size=world)
        # Training reads windows, both views and the rewrites; validation reads notes as they are
        # (collate's defaults).
        reading = (dict(max_tokens=self.max_train_tokens, headers_kept_rate=self.headers_kept_rate,
                        headers_partial_rate=self.headers_partial_rate, augment=self.augment)
                   if train else {})
        return DataLoader(dataset, batch_sampler=sampler, num_workers=self.num_workers,
                          collate_fn=partial(collate, view=self.view, **reading),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)


def batch_tag_names(batch: dict, out: dict, section_tags: Sequence[str],
                    entity_tags: Sequence[str]) -> list[list[list[str]]]:
    """Gold and predicted tag names of a batch's real tokens, as the four columns ``field_f1``
    takes: section gold, section predicted, entity gold, entity predicted (one list per note)."""
    lengths = batch["mask"].sum(1).tolist()
    columns = []
    for family, names in (("section", section_tags), ("entity", entity_tags)):
        for rows in (batch[f"{family}_tags"].tolist(), out[family].argmax(-1).tolist()):
            columns.append([[names[t] for t in row[:n]] for row, n in zip(rows, lengths)])
    return columns


def score_split(model, split, view: str = "input", batch_size: int = 8) -> dict[str, float]:
    """``field_f1`` of a loaded model (:func:`chartlnn.load`) on a prepared split, reading each
    note whole: ``view="input"`` is the headerless text (the real task), ``"full"`` keeps headers."""
    labels = model.config["labels"]
    lengths = [len(ids) for ids in split[f"{view}_input_ids"]]
    columns: list[list] = [[], [], [], []]
    with torch.inference_mode():
        for indices in LengthBucketSampler(lengths, batch_size, shuffle=False, seed=0):
            batch = collate([split[i] for i in indices], view=view)
            out = model.tagger(batch["input_ids"], batch["mask"])
            for column, names in zip(columns, batch_tag_names(batch, out, labels["section_tags"],
                                                              labels["entity_tags"])):
                column.extend(names)
    return field_f1(*columns)
