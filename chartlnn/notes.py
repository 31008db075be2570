"""The records that flow from recipes to the prepared dataset.

Offsets are Python string indices (code points) into ``Note.text``, end-exclusive, so
``text[span.start:span.end]`` is always the span's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where a span came from. Gold beats silver when they overlap (see labeling.merge).
GOLD = "gold"
SILVER_HEADER = "silver:header"
SILVER_PATTERN = "silver:pattern"


@dataclass
class Span:
    """A labeled character range of a note.

    ``label`` is a schema field name (a section field such as ``medications`` or an entity
    label such as ``bp_systolic``). ``attrs`` carries what the label alone cannot: the
    normalized ``value`` and ``unit``, ``negated`` (ConText), and ``group`` linking the parts of
    one medication (name, dose, route, frequency).
    """

    start: int
    end: int
    label: str
    source: str = SILVER_PATTERN
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"span {self.label!r} has bad offsets {self.start}:{self.end}")

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label,
                "source": self.source, "attrs": dict(self.attrs)}


@dataclass
class Note:
    """One clinical note as a recipe yields it.

    ``spans`` holds gold spans shipped with the source (brat, JSONL/CSV exports, the synthetic
    generator); silver spans are added later by the labelers. ``note_type`` is a schema
    document class when the source knows it, else None.
    """

    id: str
    text: str
    patient_id: str | None = None
    note_type: str | None = None
    spans: list[Span] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


REVIEWED = {"complete": True}
"""The meta a recipe gives a note a person annotated in full (``{**meta, **REVIEWED}``)."""


def reviewed(note: Note) -> bool:
    """Whether a person annotated every field of the note (a Label Studio annotation, a gold file
    that marks its notes complete): its unlabeled text is confirmed to hold no field, so silver
    labels are left out, its loss weighs more, and held-out ones form the ``gold`` split."""
    return bool(note.meta.get("complete"))


@dataclass(frozen=True)
class Reject:
    """A note (or input row) that could not be used, with a reason that never quotes its text."""

    source: str
    reason: str
    row: int | None = None
    note_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "row": self.row, "note_id": self.note_id,
                "reason": self.reason}
