"""Silver entity spans from rules: age, sex, vital signs, medications (with dose, route and
frequency) and allergens, with ConText negation on medications and allergens.

Why rules: they label notes nobody annotated, so the model has something to learn from. They are
tuned for precision — a mention left unlabeled costs the model less than a wrong label — so each
pattern wants its context (a "BP" before "124/78", an age before "male", the allergies section
around "sulfa").

Contract of :meth:`EntityLabeler.label`: non-overlapping :class:`Span` s sorted by start, with
Python str offsets into the text (end-exclusive), ``source="silver:pattern"``,
``attrs["value"]`` from :mod:`chartlnn.normalize` (never None), ``attrs["unit"]``
where the schema gives the field a unit, ``attrs["group"]`` (an int unique within the note)
shared by the name, dose, route and frequency of one medication, and ``attrs["negated"]`` on
medication and allergen spans. Only labels that are entity fields of the schema are returned.
Nothing here logs or prints note text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from typing import Any

import spacy
from medspacy.context import ConText
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import compile_infix_regex

from chartlnn import normalize as norm
from chartlnn.notes import SILVER_PATTERN, Span
from chartlnn.preparing import entity_patterns as pat
from chartlnn.schema import Schema, normalize_header


class EntityLabeler:
    """Rule-based silver labeler for the schema's entity fields; build once, call per note."""

    def __init__(self, schema: Schema) -> None:
        self._units = {name: field.unit for name, field in schema.entities.items()}
        self._nlp = spacy.blank("en")
        # Some sources turn line breaks into commas ("allergies.,MEDICATIONS:"); a comma that is
        # not inside a number always splits, and so does a hyphen before a digit ("Tylenol-3").
        infixes = [*self._nlp.Defaults.infixes, r"(?<!\d),|,(?!\d)", r"(?<=[A-Za-z])-(?=\d)"]
        self._nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        self._sentencizer = self._nlp.add_pipe("sentencizer")
        self._context: ConText = self._nlp.add_pipe(
            "medspacy_context", config={"rules": None, "input_span_type": "group"})
        self._context.add(pat.negation_rules())
        self._known_headers = {*schema.header_map(), *map(normalize_header, schema.other_headers)}
        self._drugs = self._phrase_matcher(pat.load_lexicon("medications.txt"))
        self._allergens = self._phrase_matcher(pat.load_lexicon("allergens.txt"))

    def _phrase_matcher(self, terms: list[str]) -> PhraseMatcher:
        matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        matcher.add("TERM", list(self._nlp.tokenizer.pipe(terms)))
        return matcher

    def label(self, text: str, sections: list[Span] | None = None) -> list[Span]:
        """Entity spans of ``text`` (see the module docstring for the contract).

        ``sections`` are the note's section spans, if known; the medications and allergies
        sections let the labeler read their lists (unknown drug names with a dose, allergens that
        are only named), and every section start ends a sentence for negation scope.
        """
        sections = sections or []
        doc = self._sentencizer(self._nlp.make_doc(text))
        self._break_sentences(doc, sections)
        candidates = [*self._ages_and_sexes(text), *self._vitals(text),
                      *self._drugs_and_allergens(doc, sections)]
        spans = _without_overlaps([span for span in candidates if span.label in self._units])
        self._mark_negation(doc, spans)
        for span in spans:
            if self._units.get(span.label):
                span.attrs["unit"] = self._units[span.label]
        return spans

    # --- candidates --------------------------------------------------------------------------

    def _ages_and_sexes(self, text: str) -> Iterator[Span]:
        for found in pat.AGE.finditer(text):
            start, end = found.span("number") if found.group("number") else found.span()
            sentence_before = text[max(0, found.start() - 60):found.start()]
            if pat.AGE_OTHER_BEFORE.search(sentence_before) or pat.AGE_OTHER_AFTER.match(text[end:end + 40]):
                continue
            age = _span(text, start, end, "age")
            if age is None:
                continue
            yield age
            sex = _sex_after_age(text, end)
            if sex is not None:
                yield sex
        for pattern in (pat.SEX_FIELD, pat.SEX_THIS_IS):
            for found in pattern.finditer(text):
                sex = _span(text, *found.span("sex"), "sex")
                if sex is not None:
                    yield sex

    def _vitals(self, text: str) -> list[Span]:
        found: list[tuple[int, int, list[Span]]] = []  # (start, end, spans) of each reading
        for name, pattern in pat.VITAL_PATTERNS.items():
            for match in pattern.finditer(text):
                found.append((match.start(), match.end(), _vital_spans(text, name, match)))
        for pattern, name in ((pat.SPO2_BEFORE, "spo2"), (pat.HEIGHT_AFTER, "height"),
                              (pat.HEIGHT_STATED, "height")):
            for match in pattern.finditer(text):
                found.append((match.start(), match.end(), _vital_spans(text, name, match)))
        found = [reading for reading in found
                 if reading[2] and (reading[2][0].label == "temperature"
                                    or not pat.NOT_CURRENT.search(text[max(0, reading[0] - 20):reading[0]]))]
        letters = []
        for match in pat.LETTER_PATTERN.finditer(text):
            name = pat.LETTER_VITALS[match.group("letter")]
            value = pat.VALUE_PATTERNS[name].match(text, match.end())
            if value:
                letters.append((match.start(), value.end(), _vital_spans(text, name, value)))
        readings = found + [r for r in letters if r[2] and _in_run(text, r, found + letters)]
        return [span for _, _, spans in readings for span in spans]

    def _drugs_and_allergens(self, doc: Doc, sections: list[Span]) -> list[Span]:
        text = doc.text
        drugs = _matched_spans(doc, self._drugs)
        allergens = _matched_spans(doc, self._allergens)
        in_allergies = self._lists(text, sections, pat.ALLERGIES_SECTION)
        in_medications = self._lists(text, sections, pat.MEDICATIONS_SECTION)
        substances = {start: end for start, end in _longest_first(drugs + allergens)}

        allergen_at: set[tuple[int, int]] = set()
        for start, end in substances.items():
            # A drug with its dose is taken, even where a missed header left it inside the
            # allergies section ("ALLERGIES: NKDA. HOME MEDICATIONS 1. Keppra 500 mg").
            listed_as_allergy = _inside(start, in_allergies) and not pat.SIG_DOSE.match(text, end)
            if listed_as_allergy or pat.ALLERGY_AFTER.match(text[end:end + 20]):
                allergen_at.add((start, end))
        for trigger in pat.ALLERGY_TRIGGER.finditer(text):
            allergen_at.update(_listed(text, trigger.end(), substances))

        spans = [span for start, end in sorted(allergen_at)
                 if (span := _span(text, start, end, "allergen", negated=False)) is not None]
        for found in pat.NO_KNOWN_ALLERGIES.finditer(text):
            spans.append(Span(found.start(), found.end(), "allergen", SILVER_PATTERN,
                              {"value": norm.NO_KNOWN_ALLERGIES, "negated": False}))
        for start, end in in_allergies:
            none = pat.NONE_SECTION.match(text[start:end])
            if none:
                spans.append(Span(start + none.start("none"), start + none.end("none"), "allergen",
                                  SILVER_PATTERN, {"value": norm.NO_KNOWN_ALLERGIES, "negated": False}))

        names = [(s, e) for s, e in drugs if _is_drug_use(text, s, e)]
        for start, end in in_medications:
            for item in pat.MED_ITEM.finditer(text[start:end]):
                words = item.group("name").lower().split()
                item_start, item_end = start + item.start("name"), start + item.end("name")
                if not any(word in pat.NOT_A_NAME for word in words) and not _overlaps(
                        item_start, item_end, drugs):
                    names.append((item_start, item_end))
        names = [(s, e) for s, e in names if not _overlaps(s, e, allergen_at)]
        for group, (start, end) in enumerate(_longest_first(names)):
            spans.extend(_medication(text, start, end, group))
        return spans

    def _lists(self, text: str, sections: list[Span], label: str) -> list[tuple[int, int]]:
        """The ranges of the ``label`` sections, each cut at a known header written on its own
        line without a colon ("CURRENT MEDICATIONS" after an allergy list), which a header-based
        section labeler does not see."""
        ranges = []
        for section in (s for s in sections if s.label == label):
            end = section.end
            for line in pat.LINE.finditer(text, section.start, section.end):
                if normalize_header(line.group()) in self._known_headers:
                    end = line.start()
                    break
            ranges.append((section.start, end))
        return ranges

    # --- negation ----------------------------------------------------------------------------

    def _break_sentences(self, doc: Doc, sections: list[Span]) -> None:
        """Start a sentence at each section, header and line, so negation ("Denies fever,
        chills,MEDICATIONS: aspirin") never reaches across them."""
        starts = {s.start for s in sections} | {m.start("header") for m in pat.HEADER.finditer(doc.text)}
        starts |= {m.end() for m in re.finditer(r"\n\s*", doc.text)}
        token_starts = [token.idx for token in doc]
        for char in starts:
            i = bisect.bisect_right(token_starts, char) - 1
            if 0 < i < len(doc) and char < doc[i].idx + len(doc[i]):
                doc[i].is_sent_start = True

    def _mark_negation(self, doc: Doc, spans: list[Span]) -> None:
        """Set attrs["negated"] on medication names and named allergens from ConText."""
        targets = [s for s in spans if "negated" in s.attrs and s.attrs["value"] != norm.NO_KNOWN_ALLERGIES]
        if not targets:
            return
        doc.spans[self._context.span_group_name] = [
            doc.char_span(s.start, s.end, alignment_mode="expand") for s in targets]
        self._context(doc)
        for span, target in zip(targets, doc.spans[self._context.span_group_name]):
            span.attrs["negated"] = bool(target._.is_negated)


# --- helpers -----------------------------------------------------------------------------------

def _span(text: str, start: int, end: int, label: str, **attrs: Any) -> Span | None:
    """A silver span with its normalized value, or None when the value is unreadable or
    implausible for the field."""
    value = norm.normalize(label, text[start:end])
    if value is None:
        return None
    low_high = pat.PLAUSIBLE.get(label)
    if low_high and not low_high[0] <= value <= low_high[1]:
        return None
    return Span(start, end, label, SILVER_PATTERN, {"value": value, **attrs})


def _sex_after_age(text: str, age_end: int) -> Span | None:
    """The sex word describing the person whose age ends at ``age_end``: within the next few
    words ("45-year-old white female"), or "M"/"F" right after it ("45 y/o M")."""
    for n, token in enumerate(pat.SEX_TOKEN.finditer(text, age_end, age_end + 80)):
        word = token.group()
        if n == 0 and word in ("M", "F"):
            return _span(text, token.start(), token.end(), "sex")
        if n >= 6 or word in ".;:()" or word.lower() in pat.SEX_AFTER_AGE_STOP:
            return None
        if re.fullmatch(pat.SEX_WORDS, word, re.IGNORECASE):
            return _span(text, token.start(), token.end(), "sex")
    return None


def _vital_spans(text: str, name: str, match: re.Match) -> list[Span]:
    """The spans of one vital reading: two for a blood pressure, one otherwise; none when a
    value is implausible."""
    if name == "bp":
        systolic = _span(text, *match.span("sys"), "bp_systolic")
        diastolic = _span(text, *match.span("dia"), "bp_diastolic")
        if systolic is None or diastolic is None or systolic.attrs["value"] <= diastolic.attrs["value"]:
            return []
        return [systolic, diastolic]
    if pat.RANGE_BEFORE.search(text[max(0, match.start("value") - 8):match.start("value")]):
        return []
    end = match.end("unit") if name == "temperature" and match.group("unit") else match.end("value")
    span = _span(text, match.start("value"), end, name)
    return [span] if span is not None else []


def _in_run(text: str, reading: tuple[int, int, list[Span]],
            readings: list[tuple[int, int, list[Span]]]) -> bool:
    """Whether another reading sits right before or after this one ("T 98.6, P 88")."""
    start, end, _ = reading
    for other_start, other_end, _ in readings:
        if other_end <= start and start - other_end <= 12 and pat.RUN_GAP.match(text[other_end:start]):
            return True
        if other_start >= end and other_start - end <= 12 and pat.RUN_GAP.match(text[end:other_start]):
            return True
    return False


def _matched_spans(doc: Doc, matcher: PhraseMatcher) -> list[tuple[int, int]]:
    """Character spans of the matcher's matches."""
    return [(doc[start].idx, doc[end - 1].idx + len(doc[end - 1])) for _, start, end in matcher(doc)]


def _longest_first(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) pairs sorted by start: the longer wins, then the earlier."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0])):
        if all(end <= s or start >= e for s, e in kept):
            kept.append((start, end))
    return sorted(kept)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Drop overlapping spans (the longer wins, then the earlier; the first of equal spans) and
    medication parts whose name was dropped; renumber medication groups in text order."""
    by_offsets: dict[tuple[int, int], Span] = {}
    for span in spans:
        by_offsets.setdefault((span.start, span.end), span)
    kept = [by_offsets[offsets] for offsets in _longest_first(list(by_offsets))]
    groups = list(dict.fromkeys(s.attrs["group"] for s in kept if s.label == "medication"))
    kept = [s for s in kept if "group" not in s.attrs or s.attrs["group"] in groups]
    for span in kept:
        if "group" in span.attrs:
            span.attrs["group"] = groups.index(span.attrs["group"])
    return kept


def _inside(char: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= char < end for start, end in ranges)


def _overlaps(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in ranges)


def _listed(text: str, pos: int, substances: dict[int, int]) -> list[tuple[int, int]]:
    """Substances listed from ``pos`` on: "penicillin, sulfa and codeine" → three spans."""
    listed = []
    while pos in substances:
        listed.append((pos, substances[pos]))
        separator = pat.LIST_SEPARATOR.match(text, substances[pos])
        if separator is None:
            break
        pos = separator.end()
    return listed


def _is_drug_use(text: str, start: int, end: int) -> bool:
    """Whether a lexicon name is a drug taken, not part of "insulin-dependent" or "Dilantin level"."""
    return not (pat.NOT_A_DRUG_AFTER.match(text[end:end + 20])
                or pat.NOT_A_DRUG_BEFORE.search(text[max(0, start - 6):start]))


def _medication(text: str, start: int, end: int, group: int) -> list[Span]:
    """The name span of one medication and the dose, route and frequency written right after it
    ("Lasix 20 mg p.o. daily") or a dose or route right before it ("100 mg of Demerol", "IV
    Cipro"), all sharing ``group``."""
    formulation = pat.FORMULATION.match(text, end)
    if formulation:
        end = formulation.end()
    name = _span(text, start, end, "medication", group=group, negated=False)
    if name is None:
        return []
    after = _parts_after(text, end, group)
    spans, written_after = [name, *after], {part.label for part in after}
    # A part written before the name counts only where none follows it: in "Aspirin 81 mg Lipitor
    # 20 mg" the 81 mg is aspirin's.
    window = max(0, start - 40)
    for label, pattern in (("medication_dose", pat.DOSE_BEFORE), ("medication_route", pat.ROUTE_BEFORE)):
        found = None if label in written_after else pattern.search(text, window, start)
        if found and (part := _span(text, *found.span("part"), label, group=group)) is not None:
            spans.append(part)
    return spans


def _parts_after(text: str, pos: int, group: int) -> list[Span]:
    """The dose, route and frequency written from ``pos`` on (each once, in any order, with filler
    words between them)."""
    spans, seen = [], set()
    while True:
        for label, pattern in pat.SIG_PARTS:
            found = None if label in seen else pattern.match(text, pos)
            if found:
                part = _span(text, *found.span("part"), label, group=group)
                if part is not None:
                    spans.append(part)
                    seen.add(label)
                    pos = found.end()
                    break
        else:
            filler = pat.SIG_FILLER.match(text, pos)
            if filler is None or len(seen) == len(pat.SIG_PARTS):
                return spans
            pos = filler.end()
