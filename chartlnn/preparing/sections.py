"""Section spans from a note's own headers.

Rules (stated once, here):
- A header is a line-initial phrase followed by a colon: either any upper-case phrase of at most
  seven words, or a header the schema knows in any case ("Chief complaint:"). A known header
  also counts alone on its line without a colon, and, in upper case, after the end of a sentence
  on the same line (run-in notes).
- A header the schema maps to a section field opens that section. ``other_headers`` close the
  open section. Sub-headers (HEENT:, LUNGS:) never open or close anything, except in a section
  with ``continues_as``: there any sub-header that is not one of its ``items`` ends it and the
  other section goes on from that sub-header (VITAL SIGNS: BP … HEENT: … becomes vitals, then
  exam). A header the schema does not list opens the section of its head keyword (below), if it
  has one, also inside a container ("LABORATORY DATA" ends an exam, where "RECTAL EXAM FINDINGS",
  naming the exam by a keyword of its own, stays in it as a sub-header); otherwise it is unknown.
  An unknown header closes the open section unless that section is a container (exam, ROS,
  vitals, results), where it is taken as one more sub-header.
- A header's head keyword: its parts split at "/", "&", "," and " AND " are read in order, and the
  first that is a listed header, ends with one of two or more words ("PRIMARY MEDICAL HISTORY"),
  or holds a section keyword, decides. Within a part, the words
  before the first preposition (OF, FOR, IN, ...) are read right to left, as English puts the head
  noun last ("OPERATIVE INDICATIONS" → indications), then the words after it left to right
  ("DESCRIPTION OF TECHNIQUE" → technique).
- Single-letter headers (the schema's ``letter_headers``: S:, O:, A:, P: of a SOAP note) count only
  at a line start, in upper case, where the note has at least two different ones, and not before a
  number ("P: 72" is a pulse; "P: 1. Continue ..." is a plan).
- The closing instructions of a procedure are split off as its plan (``closing_plan``), where the
  schema has both fields.
- The span runs from the first non-space character after the header's colon to the last
  non-space character before the next header that closes it; the header's words are never in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chartlnn.notes import SILVER_HEADER, Span
from chartlnn.preparing.closing_plan import PLAN, PROCEDURE, split_closing_plan
from chartlnn.schema import Schema, normalize_header

MAX_HEADER_WORDS = 7
_CONJUNCTIONS = re.compile(r"/|&|,| AND ")
_PREPOSITIONS = frozenset({"OF", "FOR", "IN", "ON", "AT", "WITH", "TO", "FROM", "BY", "SINCE", "UNDER",
                           "AFTER", "BEFORE", "DURING", "PER", "VIA"})


@dataclass(frozen=True)
class Header:
    """A header found in a note: its character range (words and colon) and what it does.

    ``kind`` is "section" (opens ``field``), "other" (closes), "unknown" (closes outside a
    container) or "sub" (stays inside). The section's text starts at ``content_start``: after
    the header, or at the sub-header itself when a section continues as another (vitals → exam).
    ``removable`` says whether header dropout deletes it.
    """

    start: int
    end: int
    kind: str
    field: str | None = None
    removable: bool = True
    content_start: int | None = None


class SectionLabeler:
    """Finds headers and the section spans they open, for one schema."""

    def __init__(self, schema: Schema) -> None:
        self.fields = schema.header_map()
        self.letters = dict(schema.letter_headers)
        self.splits_closing_plan = {PROCEDURE, PLAN} <= set(schema.sections)
        self.keywords = schema.keyword_map()
        self.subheaders = {normalize_header(h) for h in schema.subheaders}
        self.other = {normalize_header(h) for h in schema.other_headers}
        self.containers = set(schema.container_sections)
        self.items = {name: {normalize_header(h) for h in sec.items}
                      for name, sec in schema.sections.items()}
        self.continues_as = {name: sec.continues_as for name, sec in schema.sections.items()}
        all_items = set().union(*self.items.values())
        known = sorted({*self.fields, *self.subheaders, *self.other, *all_items}, key=len, reverse=True)
        alternatives = "|".join(re.escape(h).replace(r"\ ", r"\s+") for h in known)
        plural = r"(?:\s*\((?:S|ES)\))?"
        self._known_line_start = re.compile(
            rf"^[ \t]*(?P<h>(?:{alternatives}){plural})[ \t]*(?:,?[ \t]*:|(?=[ \t]*$))",
            re.IGNORECASE | re.MULTILINE)
        self._known_run_in = re.compile(
            rf"(?:(?<=[.;!?] )|(?<=[.;!?]  ))(?P<h>(?:{alternatives}){plural})[ \t]*:")
        self._upper_line_start = re.compile(
            r"^[ \t]*(?P<h>[A-Z][A-Z0-9/&'()\- ]{0,58}[A-Z)])[ \t]*:", re.MULTILINE)
        self._letter_line_start = re.compile(
            rf"^[ \t]*(?P<h>[{''.join(self.letters)}])[ \t]*:(?![ \t]*\d+(?:\.\d+)?(?![.)]\s))",
            re.MULTILINE) if self.letters else None

    def find_headers(self, text: str) -> list[Header]:
        """Every header in ``text``, in order, classified by what it does to sections."""
        found: dict[int, re.Match[str]] = {}
        for pattern in (self._known_line_start, self._known_run_in, self._upper_line_start):
            for match in pattern.finditer(text):
                found.setdefault(match.start("h"), match)
        letters = list(self._letter_line_start.finditer(text)) if self._letter_line_start else []
        if len({match.group("h") for match in letters}) >= 2:
            for match in letters:
                found.setdefault(match.start("h"), match)
        headers, open_field = [], None
        for start in sorted(found):
            match = found[start]
            name = normalize_header(match.group("h"))
            if len(name.split()) > MAX_HEADER_WORDS:
                continue
            header = self._classify(name, start, match.end(), open_field)
            if header.kind == "section":
                open_field = header.field
            elif header.kind != "sub":
                open_field = None
            headers.append(header)
        return headers

    def _classify(self, name: str, start: int, end: int, open_field: str | None) -> Header:
        if name in self.fields:
            return Header(start, end, "section", self.fields[name], content_start=end)
        if name in self.letters:
            return Header(start, end, "section", self.letters[name], content_start=end)
        if name in self.other:
            return Header(start, end, "other")
        if open_field is not None and name in self.items[open_field]:
            return Header(start, end, "sub", removable=False)
        field = None if name in self.subheaders else self._head_keyword_field(name)
        stays_inside = open_field in self.containers and (
            field in (None, open_field) or self._mentions_keyword_of(name, open_field))
        if name in self.subheaders or stays_inside:
            follow = self.continues_as.get(open_field) if open_field else None
            if follow is not None:
                return Header(start, end, "section", follow, removable=False, content_start=start)
            return Header(start, end, "sub", removable=False)
        if field is not None:
            return Header(start, end, "section", field, content_start=end)
        return Header(start, end, "unknown")

    def _mentions_keyword_of(self, name: str, field: str) -> bool:
        """Whether a header names ``field`` by one of its keywords ("RECTAL EXAM FINDINGS" an exam)."""
        return any(self.keywords.get(word) == field
                   for part in _CONJUNCTIONS.split(name) for word in part.split())

    def _head_keyword_field(self, name: str) -> str | None:
        """The section a header the schema does not list opens by its head keyword, or None."""
        for part in _CONJUNCTIONS.split(name):
            part = part.strip()
            if part in self.fields:
                return self.fields[part]
            words = part.split()
            for i in range(1, len(words) - 1):  # a listed header of two or more words ends it
                if (suffix := " ".join(words[i:])) in self.fields:
                    return self.fields[suffix]
            cut = next((i for i, w in enumerate(words) if w in _PREPOSITIONS), len(words))
            for word in [*reversed(words[:cut]), *words[cut + 1:]]:
                if word in self.keywords:
                    return self.keywords[word]
        return None

    def label(self, text: str) -> tuple[list[Span], list[Header]]:
        """Section spans (source ``silver:header``) and the headers they came from."""
        headers = self.find_headers(text)
        boundaries = [h for h in headers if h.kind != "sub"]
        spans = []
        for i, header in enumerate(boundaries):
            if header.kind != "section":
                continue
            stop = boundaries[i + 1].start if i + 1 < len(boundaries) else len(text)
            span = _trimmed(text, header.content_start, stop)
            if span is not None:
                spans.append(Span(span[0], span[1], header.field, source=SILVER_HEADER))
        if self.splits_closing_plan:
            spans = split_closing_plan(text, spans)
        return spans, headers


def _trimmed(text: str, start: int, stop: int) -> tuple[int, int] | None:
    """``start:stop`` without surrounding white space and stray commas; None when nothing is left."""
    while start < stop and (text[start].isspace() or text[start] == ","):
        start += 1
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    return (start, stop) if start < stop else None
