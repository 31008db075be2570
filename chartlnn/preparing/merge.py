"""Combining gold and silver spans of one label family (sections, or entities).

Rule: gold beats silver — a silver span that overlaps any gold span of the same family is
dropped. Gold spans are all kept as given. Silver spans never overlap each other (each labeler
resolves its own overlaps: longer first, then earlier).
"""

from __future__ import annotations

from chartlnn.notes import Span


def overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def merge_gold_silver(gold: list[Span], silver: list[Span]) -> list[Span]:
    """Gold spans plus the silver spans that touch none of them, sorted by offset."""
    kept = [s for s in silver if not any(overlaps(s, g) for g in gold)]
    return sorted([*gold, *kept], key=lambda s: (s.start, s.end))
