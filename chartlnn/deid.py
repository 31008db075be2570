"""Residual-PHI guard: find identifiers that survived de-identification and mask them.

Notes should arrive de-identified, but one leaked phone number or date in a saved dataset is one
too many, so ``prepare`` scans every note before anything is written. By default it masks each
hit with a typed placeholder (``[PHONE]``, ``[DATE]``, ...) and counts them; with ``--phi fail``
it refuses and lists the note ids.

Contract:

- ``scan(text)`` returns sorted, non-overlapping ``PhiHit``s (on overlap the longer hit wins,
  then the kind listed first in ``PHI_KINDS``). Offsets are Python string indices, end-exclusive,
  like ``chartlnn.notes``.
- ``mask(text, hits)`` replaces each hit by ``[KIND]``; ``MaskResult.map_span`` carries a
  character range of the original text onto the masked text exactly, or returns None when the
  range overlaps a hit (the caller drops that span and counts it).
- Nothing here ever puts note text into an exception or a repr: a hit is its kind and offsets.

The patterns lean towards precision on clinical language: blood pressures (124/78), ranges
(1-2 cm, 5-10 mg), strengths (5/5), visual acuity (20/20), arterial blood gases (7.38/67/86),
bare years and month/day without a year are not PHI, and template placeholders such as
``MM/DD/YYYY`` contain no digits to match.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

PHI_KINDS = ("SSN", "PHONE", "EMAIL", "URL", "MRN", "DATE", "ADDRESS")
_RANK = {kind: i for i, kind in enumerate(PHI_KINDS)}


@dataclass(frozen=True)
class PhiHit:
    """One residual identifier: ``text[start:end]`` is of ``kind`` (one of ``PHI_KINDS``)."""

    start: int
    end: int
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in _RANK:
            raise ValueError(f"unknown PHI kind {self.kind!r}; expected one of {PHI_KINDS}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"PHI hit {self.kind} has bad offsets {self.start}:{self.end}")


# Numbers glued to these characters are parts of something else (decimals, ratios, ranges, ids).
_NOT_BEFORE = r"(?<![\w./-])"
_NOT_AFTER = r"(?![\w/-]|\.\d)"
# Slashed triples followed by a unit are measurements (PA pressures, grip strength), not dates.
_NOT_UNIT = r"(?!\s*(?:mm|cm|kg|lb|pound|mg|%))"

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?")
_YEAR4 = r"(?:18|19|20)\d\d"
_APARTMENT = r"(?:Apt|Apartment|Suite|Ste|Unit)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"


def _street_suffixes() -> str:
    """Street suffixes in title and upper case; only abbreviations take a dot."""
    words = ["Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Court", "Way", "Place",
             "Terrace", "Highway"]
    abbreviations = ["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Pl", "Hwy"]
    alternatives = [f"(?:{word}|{word.upper()})\\b" for word in words]
    for word in abbreviations:
        # "St. Jude" is a saint and "Dr. Smith" a doctor: neither ends a street before a name.
        guard = r"(?!\.?[ \t]+(?!" + _APARTMENT + r")[A-Z])" if word in ("St", "Dr") else ""
        alternatives.append(f"(?:{word}|{word.upper()})\\b{guard}\\.?")
    return "(?:" + "|".join(alternatives) + ")"


# Each pattern's hit is its group "phi" when it has one (the label stays readable), else the match.
# Its needle is a short regex that every match contains: a note without it skips the pattern,
# which is most notes for most patterns, and saves most of the scan's time (needles that start
# with a character class run in re's fast search loop; the patterns' lookbehinds do not).
_PATTERNS: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    ("SSN", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"),
     re.compile(r"\d{3}-\d{2}-\d{4}")),
    ("SSN", re.compile(r"\b(?:SSN|SS\s?#|social\s+security(?:\s+(?:number|no\.?|#))?)"
                       r"\s*[:#]?\s*(?P<phi>\d{3}[- ]?\d{2}[- ]?\d{4})(?!\d)", re.IGNORECASE),
     re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")),
    ("PHONE", re.compile(r"(?<![\w.+/-])(?:\+?1[-. ]?)?\(\d{3}\)\s?\d{3}[-. ]\d{4}" + _NOT_AFTER),
     re.compile(r"\(\d{3}\)")),
    ("PHONE", re.compile(r"(?<![\w.+/-])(?:\+?1[-.])?\d{3}(?P<sep>[-.])\d{3}(?P=sep)\d{4}"
                         + _NOT_AFTER),
     re.compile(r"\d{3}[-.]\d{3}[-.]\d{4}")),
    ("PHONE", re.compile(r"(?<![\w.+/-])\+1[-. ]?\d{3}(?P<sep>[-. ])\d{3}(?P=sep)\d{4}"
                         + _NOT_AFTER),
     re.compile(r"\+1")),
    ("EMAIL", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                         r"\.[A-Za-z]{2,}\b"),
     re.compile("@")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"'(),\[\]]*[^\s<>\"'(),\[\].;:!?]",
                       re.IGNORECASE),
     re.compile(r"://|[wW][wW][wW]\.")),
    ("MRN", re.compile(r"\b(?:MRN|MR\s?#|medical\s+record|record\s?#"
                       r"|acct|account)(?:\s*(?:#|no\b\.?|number))?\s*[:#.]?\s*"
                       r"(?P<phi>\d{6,10})(?!\d)", re.IGNORECASE),
     re.compile(r"\d{6}")),
    ("MRN", re.compile(r"(?<![\d.,])\d{8,}(?!\d|[.,]\d)"),
     re.compile(r"\d{8}")),
    ("DATE", re.compile(_NOT_BEFORE + r"(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>" + _YEAR4
                        + r"|\d\d)" + _NOT_AFTER + _NOT_UNIT),
     re.compile(r"\d/\d{1,2}/\d\d")),
    ("DATE", re.compile(_NOT_BEFORE + r"(?P<a>\d{1,2})-(?P<b>\d{1,2})-(?P<year>" + _YEAR4 + ")"
                        + _NOT_AFTER + _NOT_UNIT),
     re.compile(r"\d-\d{1,2}-\d{4}")),
    ("DATE", re.compile(_NOT_BEFORE + r"(?P<year>" + _YEAR4 + r")(?P<sep>[-/])(?P<a>\d{1,2})"
                        r"(?P=sep)(?P<b>\d{1,2})" + _NOT_AFTER),
     re.compile(r"\d{4}[-/]\d")),
    ("DATE", re.compile(r"\b" + _MONTH + r"\s*" + _DAY + r",?\s+" + _YEAR4 + r"(?!\d)",
                        re.IGNORECASE),
     re.compile(_YEAR4)),
    ("DATE", re.compile(r"\b" + _DAY + r"(?:[ -]|\s+of\s+)" + _MONTH + r"[ ,-]\s*" + _YEAR4
                        + r"(?!\d)", re.IGNORECASE),
     re.compile(_YEAR4)),
    ("ADDRESS", re.compile(r"(?<![\w./-])(?<!\d,)\d{1,6}[A-Z]?\s+"
                           r"(?:(?:[NSEW]|North|South|East|West)\.?\s+)?"
                           r"(?:[A-Z][A-Za-z'-]*\s+){0,2}[A-Z][A-Za-z'-]*\s+" + _street_suffixes()
                           + r"(?:,?\s+" + _APARTMENT + r"\.?\s*#?\w+)?"),
     re.compile(r"\d[A-Z]?\s+[A-Z]")),
]


def _plausible(match: re.Match[str]) -> bool:
    """Reject dates whose numbers cannot be a month and a day (20/20/20, 31/14/21, March 40).

    Numeric dates read month first; day first (15/01/2020) only with a four-digit year, where a
    slashed triple is no longer likely to be a measurement.
    """
    groups = match.groupdict()
    if "a" in groups:
        a, b = int(groups["a"]), int(groups["b"])
        return (1 <= a <= 12 and 1 <= b <= 31
                or len(groups["year"]) == 4 and 1 <= b <= 12 and 1 <= a <= 31)
    if "day" in groups:
        return 1 <= int(groups["day"]) <= 31
    return True


def scan(text: str) -> list[PhiHit]:
    """Find residual PHI in ``text``: sorted, non-overlapping hits (the longer wins an overlap)."""
    if not isinstance(text, str):
        raise TypeError(f"scan expects the note text as str, got {type(text).__name__}")
    candidates = []
    for kind, pattern, needle in _PATTERNS:
        if not needle.search(text):
            continue
        group = "phi" if "phi" in pattern.groupindex else 0
        for match in pattern.finditer(text):
            if _plausible(match):
                candidates.append(PhiHit(match.start(group), match.end(group), kind))
    kept: list[PhiHit] = []
    for hit in sorted(candidates, key=lambda h: (h.start - h.end, _RANK[h.kind], h.start)):
        if all(hit.end <= k.start or k.end <= hit.start for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _placeholder(kind: str) -> str:
    """The text that stands in for a hit of ``kind``."""
    return f"[{kind}]"


class MaskResult:
    """A masked note and the offset map from the original text onto it.

    ``text`` is the masked text, ``hits`` the hits it was masked with (offsets into the
    original), ``counts`` the number of hits per kind (kinds with none are absent). The repr
    shows counts and lengths only, never text.
    """

    def __init__(self, text: str, hits: tuple[PhiHit, ...], source_length: int) -> None:
        self.text = text
        self.hits = hits
        self.source_length = source_length
        self.counts = {kind: n for kind in PHI_KINDS
                       if (n := sum(h.kind == kind for h in hits))}
        self._ends = [h.end for h in hits]
        self._shifts = [0]  # _shifts[i]: how far the first i placeholders move later text
        for hit in hits:
            growth = len(_placeholder(hit.kind)) - (hit.end - hit.start)
            self._shifts.append(self._shifts[-1] + growth)
        # Where each placeholder stands in the masked text.
        self._masked_starts = [h.start + self._shifts[i] for i, h in enumerate(hits)]
        self._masked_ends = [s + len(_placeholder(h.kind)) for s, h in zip(self._masked_starts, hits)]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map ``[start, end)`` of the masked text back onto the original: text outside the
        placeholders maps character for character, and a range that touches a placeholder takes
        in the whole hit it stands for. Charts of masked text keep the original's coordinates."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span {start}:{end} is outside the masked note (length {len(self.text)})")
        i = bisect_right(self._masked_ends, start)  # placeholders wholly before start
        first = (self.hits[i].start if i < len(self.hits) and self._masked_starts[i] <= start
                 else start - self._shifts[i])
        j = bisect_left(self._masked_starts, end)  # placeholders starting before end
        last = (self.hits[j - 1].end if j and end < self._masked_ends[j - 1]
                else end - self._shifts[j])
        return first, max(first, last)

    def map_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Map ``[start, end)`` of the original text onto the masked text; None if it hits PHI.

        A range outside every hit keeps its characters, so ``masked[s:e] == original[start:end]``
        for the returned ``(s, e)``. A range that overlaps a hit, even by one character, has no
        faithful image and returns None.
        """
        if not 0 <= start <= end <= self.source_length:
            raise ValueError(f"span {start}:{end} is outside the note "
                             f"(length {self.source_length})")
        i = bisect_right(self._ends, start)  # hits before i end at or before start
        if i < len(self.hits) and self.hits[i].start < end:
            return None
        return start + self._shifts[i], end + self._shifts[i]

    def __repr__(self) -> str:
        return (f"MaskResult(source_length={self.source_length}, masked_length={len(self.text)}, "
                f"counts={self.counts})")


def mask(text: str, hits: list[PhiHit]) -> MaskResult:
    """Replace each hit in ``text`` with ``[KIND]``; ``hits`` must be sorted and non-overlapping."""
    if not isinstance(text, str):
        raise TypeError(f"mask expects the note text as str, got {type(text).__name__}")
    pieces = []
    cursor = 0
    for hit in hits:
        if hit.start < cursor:
            raise ValueError(f"PHI hits must be sorted and non-overlapping; {hit.kind} hit at "
                             f"{hit.start}:{hit.end} starts before offset {cursor}")
        if hit.end > len(text):
            raise ValueError(f"{hit.kind} hit at {hit.start}:{hit.end} runs past the end of the "
                             f"note (length {len(text)})")
        pieces += [text[cursor:hit.start], _placeholder(hit.kind)]
        cursor = hit.end
    pieces.append(text[cursor:])
    return MaskResult("".join(pieces), tuple(hits), len(text))
