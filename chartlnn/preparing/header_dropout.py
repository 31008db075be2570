"""Header dropout: the model's input text with the section headers deleted, spans re-mapped.

Real dictations often have no headers, so the model reads notes without them and must learn a
section from its content. Deleting a range shifts every later offset; :class:`OffsetMap` carries
each kept character's old offset to its new one, so every span keeps exactly its text.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from chartlnn.notes import Span


@dataclass(frozen=True)
class OffsetMap:
    """Maps offsets of the original text onto the text with ``removed`` ranges deleted."""

    removed: tuple[tuple[int, int], ...]
    """Sorted, non-overlapping ``(start, end)`` ranges that were deleted."""

    def map_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The range in the new text, or None when it overlaps a deleted range."""
        i = bisect_right(self.removed, (start, float("inf"))) - 1
        if i >= 0 and self.removed[i][1] > start:
            return None
        j = i + 1
        if j < len(self.removed) and self.removed[j][0] < end:
            return None
        shift = sum(e - s for s, e in self.removed[: i + 1])
        return start - shift, end - shift


def drop_ranges(text: str, ranges: list[tuple[int, int]]) -> tuple[str, OffsetMap]:
    """``text`` without ``ranges`` (overlapping or touching ranges are merged first)."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, cursor = [], 0
    for start, end in merged:
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), OffsetMap(tuple((s, e) for s, e in merged))


def header_ranges(text: str, headers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each header's range widened over the spaces and tabs after it (not newlines)."""
    ranges = []
    for start, end in headers:
        while end < len(text) and text[end] in " \t":
            end += 1
        ranges.append((start, end))
    return ranges


def remap_spans(spans: list[Span], offsets: OffsetMap) -> tuple[list[Span], int]:
    """The spans moved onto the new text, and how many were dropped for overlapping a deletion."""
    kept, dropped = [], 0
    for span in spans:
        new = offsets.map_span(span.start, span.end)
        if new is None:
            dropped += 1
            continue
        kept.append(Span(new[0], new[1], span.label, span.source, dict(span.attrs)))
    return kept, dropped
