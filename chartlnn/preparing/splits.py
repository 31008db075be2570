"""Deduplication keys and the train/validation/test assignment.

The split of a note is a pure function of its group (patient id, else the note's own text key)
and the seed: scikit-learn's seeded MurmurHash3 of the group, read as a number in [0, 1), is
compared with the split fractions. So adding notes never moves an existing note between splits
(a shuffled splitter such as GroupShuffleSplit would), and all notes of one patient land in the
same split.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from sklearn.utils import murmurhash3_32

SPLITS = ("train", "validation", "test", "shift", "gold")
"""``shift`` holds notes set aside by kind or specialty (``shift_note_types``,
``shift_specialties``), never by the hash; ``gold`` holds the fully reviewed notes the hash puts
in test: held out, scored against human labels only (`evaluate` uses it when it exists)."""

_NOT_WORD = re.compile(r"[\W_]+")


def dedupe_key(text: str) -> str:
    """Notes that differ only in case, spacing or punctuation share this key."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha1(_NOT_WORD.sub(" ", folded).strip().encode()).hexdigest()


def assign_split(group: str, seed: int, validation_fraction: float, test_fraction: float) -> str:
    """``train``, ``validation`` or ``test`` for a group, stable across runs and dataset sizes."""
    position = murmurhash3_32(group, seed=seed, positive=True) / 2**32
    if position < test_fraction:
        return "test"
    if position < test_fraction + validation_fraction:
        return "validation"
    return "train"
