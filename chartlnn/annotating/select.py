"""Which notes a reviewer sees: the uncertainty measure and the three selections.

**Uncertainty** of a note = the mean, over its two tagging heads (sections and entities), of
1 − the mean probability of the chosen tag at the head's ``LEAST_SURE_TOKENS`` least-sure tokens.
Why this one: a note is worth a reviewer's time when it holds a mention or a boundary the model
is unsure of, and those are a handful of tokens among hundreds it is sure of (most are "O" or
deep inside a section); a mean over every token drowns them. Picking a few least-sure tokens per
head keeps one doubtful mention from being outvoted, is defined for a note with no spans (a
mention the model was unsure enough to miss still counts), and does not grow with a note's
length. Measured (``benchmarks/uncertainty_measures.py``: 500 notes of a house style new to the
parent model, fine-tuned on 50 of them): the 100 least-sure notes hold 148 of the pool's 428
entity errors, against 96 under the mean over every token and 86 for a random 100; that mean
finds more of the section errors (25.0k of 36.0k characters against 14.9k; random 7.2k), which
sit in a few notes wholly misread, and which any reviewed notes of the style teach quickly.
It uses what ``ChartModel.tag`` returns per token (the chosen tag's probability; margins and
entropy would need every tag's probability).
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
LEAST_SURE_TOKENS = 5
UNCERTAINTY = (f"mean over the section and entity heads of 1 - the mean probability of the chosen "
               f"tag at the head's {LEAST_SURE_TOKENS} least-sure tokens")
"""The measure, as the manifest records it."""

T = TypeVar("T")


class Charted(NamedTuple):
    """A note with its Chart and uncertainty; ``index`` is its place among the input records."""

    index: int
    note: Note
    chart: dict[str, Any]
    uncertainty: float


def uncertainty(tagged: Tagged) -> float:
    """The stated measure (module docstring); 0.0 for a note with no tokens."""
    heads = [least_sure(probs) for probs in (tagged.section_prob, tagged.entity_prob) if probs.size]
    return float(np.mean(heads)) if heads else 0.0


def least_sure(probs: np.ndarray, k: int = LEAST_SURE_TOKENS) -> float:
    """One head's part of the measure: 1 − the mean chosen-tag probability at its ``k``
    least-sure tokens (all of them when there are no more than ``k``)."""
    probs = probs.astype(np.float64)
    least = probs if probs.size <= k else np.partition(probs, k - 1)[:k]
    return float(1.0 - least.mean())


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
