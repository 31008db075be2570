"""Which notes a reviewer sees: the uncertainty measure and the three selections.

**Uncertainty** of a note = 1 − the mean, over every token of the note and both tagging heads
(sections and entities), of the probability the model gave the tag it chose (least confidence,
averaged per token). Why this one: it is what ``ChartModel.tag`` returns per token (the chosen
tag's probability; margins and entropy would need every tag's probability, which the model does
not hand out), it is the quantity a span's confidence averages, taken over the whole note, and
unlike the lowest span confidence it also sees the tokens the model left untagged (an entity it
was unsure enough to miss) and is defined for a note with no spans at all. Averaging per token
keeps long notes from ranking first for their length alone.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

import numpy as np

from chartlnn.inference.decode import Tagged
from chartlnn.notes import Note

SELECTIONS = ("uncertainty", "random", "all")
UNCERTAINTY = ("1 - mean probability of the chosen tag over the note's tokens, section and "
               "entity heads together")
"""The measure, as the manifest records it."""

T = TypeVar("T")


class Charted(NamedTuple):
    """A note with its Chart and uncertainty; ``index`` is its place among the input records."""

    index: int
    note: Note
    chart: dict[str, Any]
    uncertainty: float


def uncertainty(tagged: Tagged) -> float:
    """1 − mean chosen-tag probability over the note's tokens and both heads; 0.0 for no tokens."""
    probs = np.concatenate([tagged.section_prob, tagged.entity_prob]).astype(np.float64)
    return float(1.0 - probs.mean()) if probs.size else 0.0


def most_uncertain(charted: Iterable[Charted], n: int | None) -> list[Charted]:
    """The ``n`` most uncertain (all when None), most uncertain first, ties in input order;
    holds at most ``n`` charts at a time, however long the input."""
    if n is None:
        return sorted(charted, key=_most_uncertain_first)
    return heapq.nsmallest(n, charted, key=_most_uncertain_first)


def _most_uncertain_first(one: Charted) -> tuple[float, int]:
    return -one.uncertainty, one.index


def random_sample(items: Iterable[T], n: int | None, seed: int) -> list[T]:
    """A uniform sample of ``n`` items (all when None) in input order: reservoir sampling, so it
    holds ``n`` items at a time and the same input and seed give the same sample."""
    rng = random.Random(seed)
    sample: list[tuple[int, T]] = []
    for number, item in enumerate(items):
        if n is None or len(sample) < n:
            sample.append((number, item))
        elif (slot := rng.randrange(number + 1)) < n:
            sample[slot] = (number, item)
    return [item for _, item in sorted(sample, key=lambda pair: pair[0])]
