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
from medspacy.context import ConText, ConTextRule
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.tokens import Span as SpacySpan
from spacy.util import compile_infix_regex

from chartlnn import normalize as norm
from chartlnn.config import shipped_resource
from chartlnn.notes import SILVER_PATTERN, Span
from chartlnn.schema import Schema, normalize_header


MEDICATIONS_SECTION = "medications"
ALLERGIES_SECTION = "allergies"

# Not part of a range, a ratio or a longer number: "75-85", "5/5", "98.6.1".
_ALONE = r"(?![\d.]*\d)(?!\s*(?:-|to|/)\s*\d)"


def load_lexicon(name: str) -> list[str]:
    """Entries of ``resources/<name>``: one per line, blank lines and ``#`` comments skipped."""
    lines = shipped_resource(name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# --- age and sex -----------------------------------------------------------------------------

_AGE_NUMBER = rf"(?<![/.\d-])(?:\d{{1,3}}(?:\s*-\s*1/2|\s+and\s+a\s+half)?|{norm.NUMBER_WORD})"
_AGE_UNIT = r"(?:year|yr|month|week|day)s?"
_AGE = re.compile(
    rf"(?i:\b{_AGE_NUMBER}(?:\s*-\s*|\s+){_AGE_UNIT}(?:\s*-\s*|\s+)old\b"  # 45-year-old, 45 years old
    rf"|\b{_AGE_NUMBER}\s+{_AGE_UNIT}\s+of\s+age\b"  # 45 years of age
    r"|\b\d{1,3}\s*-?\s*(?:y/o|y\.o\.|yo\b|yrs?\.?\s+old\b))"  # 45 y/o, 45 yo, 45 yr old
    r"|\b(?i:age|aged)\s*:?\s*(?P<number>\d{1,3})\b" + _ALONE  # age 45 → "45"
)
# An age that belongs to someone else, or to an earlier time: "her 45-year-old son",
# "mother died at 65 years old", "since age 12".
_RELATIVES = (r"mother|father|son|daughter|brother|sister|husband|wife|child|children|sibling"
              r"|grandson|granddaughter|grandmother|grandfather|nephew|niece|cousin|aunt|uncle"
              r"|boyfriend|girlfriend|friend|partner|parents?|sons|daughters"
              r"|brothers|sisters|siblings|grandchildren")
_AGE_OTHER_BEFORE = re.compile(
    rf"(?i:\b(?:{_RELATIVES}|died|death|passed|deceased)\b[^.;:]*"
    r"|\b(?:at|since|by|until|from|before|after|when|between|his|her|their|of|ages|was|were)\s*"
    r"|\d\s*-?\s*years?\s*,?\s*(?:and\s+)?)$")  # "2-year, 3-month-old": a part of the age
_AGE_OTHER_AFTER = re.compile(rf"(?i:^[\s,]*(?:\w+[\s,]+)?(?:{_RELATIVES})\b)")

_SEX_WORDS = r"(?:male|female|man|woman|gentleman|lady|boy|girl)"
_SEX_AFTER_AGE_STOP = {"with", "who", "whose", "which", "that", "has", "had", "is", "was", "here",
                       "in", "for", "of", "on", "at", "and", "presents", "presented", "seen"}
_SEX_TOKEN = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*|\d+|[.;:()]")
_SEX_FIELD = re.compile(r"\b(?i:sex|gender)\s*:\s*(?P<sex>(?i:male|female)|M|F)\b")
_SEX_THIS_IS = re.compile(
    r"\b(?i:this|the\s+patient|patient|he|she)\s+is\s+an?\s+"
    r"(?:(?!(?i:with|for|of|who|and|in|on|to|the|a|an|his|her)\b)[A-Za-z-]+,?\s+){0,4}?"
    rf"(?P<sex>(?i:{_SEX_WORDS}))\b")


# --- vital signs ------------------------------------------------------------------------------

# Words allowed between a vital's name and its number: "blood pressure was 124/78",
# "pulse of 88", "temperature max today 101.2".
_FILLER = (r"(?:\s*(?:[:=,]|-|\b(?i:is|was|were|are|of|at|today|now|initially|currently"
           r"|measured|noted|recorded|reading|max|maximum|on\s+arrival|on\s+admission"
           r"|sitting|standing|supine|seated)\b)){0,4}\s*")
_TRIGGERS = {
    "bp": r"\b(?:(?i:blood\s+pressures?)|BP|B/P)",
    "heart_rate": r"\b(?:(?i:heart\s+rate|pulse\s+rate|pulse)|HR)\b",
    "resp_rate": r"\b(?:(?i:respiratory\s+rate|respiration\s+rate|respirations?|resp\b\.?)|RR\b)",
    "temperature": r"\b(?i:temperature|temp\b\.?|t\s?-?\s?max\b)",
    "spo2": (r"\b(?i:o2\s+sat(?:uration)?s?|oxygen\s+sat(?:uration)?s?|pulse\s+ox(?:imetry)?"
             r"|sat(?:uration)?s?|saturating|spo2|sao2)\b"),
    "weight": r"\b(?i:weight|weighs|weighing|wt\b\.?|wgt\b\.?)",
    "height": r"\b(?i:height|ht\b\.?|hgt\b\.?)",
}
_INCH_UNIT = r"(?:\"|″|”|''|(?i:inches|inch\b|in\b\.?(?!\s+[a-z])))"
_INCHES = r"\d{1,2}(?:\.\d+|-\d/\d)?"  # 6, 6.5, 7-1/2
_FEET = r"\d\s*(?:'|′|’|(?i:ft\b\.?|feet|foot))"
_FEET_AND_INCHES = rf"{_FEET}(?:\s*,|\s+and)?\s*{_INCHES}\s*{_INCH_UNIT}"  # 5 feet, 6 inches
_HEIGHT = (rf"{_FEET_AND_INCHES}|{_FEET}(?:\s*{_INCHES})?"  # 5'6", 5 feet 6, 5 feet
           r"|\d{2,3}(?:\.\d+)?\s*(?i:cm|centimeters?)\b"
           r"|\d(?:\.\d+)?\s*(?i:m|meters?)\b"
           rf"|\d{{2}}(?:\.\d+|-\d/\d)?\s*{_INCH_UNIT}")
_VALUES = {
    "bp": rf"(?P<sys>\d{{2,3}})\s*(?:/|(?i:over))\s*(?P<dia>\d{{2,3}})(?![\d/]){_ALONE}",
    "heart_rate": rf"(?P<value>\d{{2,3}}){_ALONE}(?!\s*%)",
    "resp_rate": rf"(?P<value>\d{{1,2}}){_ALONE}(?!\s*%)",
    "temperature": (rf"(?P<value>\d{{2,3}}(?:\.\d{{1,2}})?){_ALONE}"
                    r"(?P<unit>\s*(?:(?:°|º|(?i:degrees?))\s*)?(?:F|C|(?i:fahrenheit|celsius))\b"
                    r"|\s*(?:°|º|(?i:degrees?)\b))?"),
    "spo2": r"(?P<value>\d{2,3})\s*%",
    "weight": (r"(?P<value>\d{1,3}(?:\.\d+)?\s*(?i:kg|kgs|kilograms?|lbs?|pounds?)\b)"
               r"(?![\s,]*(?:and\s+)?[\d/.-]+\s*(?i:oz|ounces?))"),
    "height": rf"(?P<value>{_HEIGHT})",
}
_VALUE_PATTERNS = {name: re.compile(value) for name, value in _VALUES.items()}
_VITAL_PATTERNS = {name: re.compile(_TRIGGERS[name] + _FILLER + _VALUES[name]) for name in _TRIGGERS}
# Vitals written with the value first ("95% O2 saturation", "97% on room air", "5 feet tall") or
# stated of the patient ("he is 5 feet 8 inches and weighs ...").
_SPO2_BEFORE = re.compile(
    r"\b(?P<value>\d{2,3})\s*%\s*(?:(?i:on\s+(?:room\s+air|RA|\d+(?:\.\d+)?\s*(?:L|liters?)\b)"
    r"|(?:o2|oxygen)\s+sat(?:uration)?s?\b|sat(?:uration)?s?\b)|RA\b)")
_HEIGHT_AFTER = re.compile(rf"\b(?P<value>{_HEIGHT})\s+(?i:tall|in\s+height)\b")
_HEIGHT_STATED = re.compile(rf"\b(?i:is|stands|measures)\s+(?P<value>{_FEET_AND_INCHES})")
# Single-letter vitals ("T 98.6, P 88, R 16") count only inside a run of vitals.
_LETTER_VITALS = {"T": "temperature", "P": "heart_rate", "R": "resp_rate"}
_LETTER_PATTERN = re.compile(r"\b(?P<letter>[TPR])(?:\s*[:=]\s*|\s+)(?=\d)")
_RUN_GAP = re.compile(r"^[\s,;.]*(?:and\s+)?$")
# Readings that are not the patient's current vital sign: "peak heart rate of 150" in a stress
# test, "birth weight", "she has lost weight, 20 pounds". A temperature maximum is still a
# temperature.
_NOT_CURRENT = re.compile(r"(?i:\b(?:peak|max|maximum|maximal|target|predicted|average|mean"
                          r"|minimum|lowest|highest|birth|ideal|goal|lost|gained|losing|gaining)"
                          r"\s+(?:body\s+)?)$")
# The second number of a range: "sats 94 to 99%".
_RANGE_BEFORE = re.compile(r"\d\s*%?\s*(?:-|to)\s*$")

_PLAUSIBLE = {
    "bp_systolic": (60, 260), "bp_diastolic": (30, 160), "heart_rate": (25, 250),
    "resp_rate": (4, 70), "temperature": (32.0, 44.0), "spo2": (50, 100),
    "weight": (0.5, 400.0), "height": (30.0, 250.0),
}


# --- medications and allergens -----------------------------------------------------------------

# Words after a drug name that make it something other than a drug taken: "insulin-dependent",
# "Dilantin level", "Coumadin clinic".
_NOT_A_DRUG_AFTER = re.compile(
    r"^\s*-?\s*(?i:levels?|toxicity|clinic|induced|dependent|resistant|resistance|deficiency"
    r"|deficient|overdose|abuse|naive)\b")
_NOT_A_DRUG_BEFORE = re.compile(r"(?i:\bnon|\banti)\s*-?\s*$")
_ALLERGY_AFTER = re.compile(r"^\s*-?\s*(?i:allerg(?:y|ies|ic)|intolerance|sensitivity)\b")
_ALLERGY_TRIGGER = re.compile(
    r"\b(?i:allerg(?:ic|y|ies)\s+(?:reactions?\s+)?to)\s+(?:(?i:any|all|the)\s+)?")
_LIST_SEPARATOR = re.compile(r"\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or)\s+|/)\s*", re.IGNORECASE)
_NO_KNOWN_ALLERGIES = re.compile(
    r"\b(?:NKDA|NKA|(?i:no\s+known\s+(?:(?:drug|medication|medicine|food|environmental)"
    r"(?:\s+or\s+|\s+and\s+|/|\s+))*allerg(?:y|ies)))\b")
_NONE_SECTION = re.compile(r"^(?:[^:\n]{0,40}:)?[\s,.:]*(?P<none>(?i:none(?:\s+known)?))[\s,.]*$")
_FORMULATION = re.compile(r"\s(?:XL|XR|ER|SR|CR|LA|CD|DR|ODT|DS|HCT)\b")

# A dose, not a rate or a weight-based dose ("1 mg per kg", "5 mg/kg").
_DOSE = (rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|\.\d+)\s*(?i:{norm.DOSE_UNIT})\b"
         r"(?!\s*/|-|\s*(?i:per\s+(?:kg|kilo|m2|hour|hr|min)))")
# A list item in the medications section: "<Name> <dose>", where the name may be unknown.
_MED_ITEM = re.compile(
    r"(?:^|(?<=[,;.:\n)]))\s*(?:\d{1,2}[.)]\s*)?"
    r"(?P<name>[A-Za-z][A-Za-z0-9-]*(?:\s[A-Za-z][A-Za-z0-9-]*)?)\s+(?=" + _DOSE + ")")
_NOT_A_NAME = {
    "he", "she", "they", "patient", "pt", "takes", "take", "taking", "took", "uses", "using",
    "on", "and", "or", "the", "a", "an", "was", "is", "with", "of", "for", "at", "to", "total",
    "dose", "about", "approximately", "only", "also", "then", "plus", "started", "start",
    "continue", "continued", "increase", "increased", "decrease", "decreased", "give", "given",
    "received", "receiving", "including", "over", "up", "her", "his", "their", "dosage", "daily",
    "now", "currently", "stopped", "discontinued", "in", "by", "per", "every", "each", "one",
    "two", "three", "four", "last", "first", "no", "not", "x", "include", "includes",
    # Forms: the name before them is the drug ("Zorbimab injection 40 mg").
    "injection", "inhaler", "tablet", "tablets", "cream", "ointment", "patch", "drops", "solution",
    "spray", "supplement", "liquid", "suspension", "syrup",
}

# The parts of a medication after its name ("81 mg p.o. daily p.r.n."), and words skipped
# between them ("one to two tablets", "push").
_SIG_DOSE = re.compile(r"\s+(?P<part>" + _DOSE + ")")
_SIG_ROUTE = re.compile(
    r"\s+(?P<part>p\.\s?o\.|P\.O\.|PO|po|I\.V\.|IV|I\.M\.|IM|SL|PR(?![A-Za-z])|p\.r\.(?!\s?n)|SQ|SC|s\.c\."
    r"|(?i:by\s+mouth|orally|oral|intravenously|intravenous|intramuscularly|intramuscular"
    r"|subcutaneously|subcutaneous|sub-?q|sub-?cu|topically|topical|inhaled|via\s+inhaler"
    r"|by\s+inhalation|nebulized|sublingually|sublingual|per\s+rectum|rectally|transdermal(?:ly)?"
    r"|ophthalmic|intranasal(?:ly)?|nasally|in\s+each\s+eye|in\s+both\s+eyes|in\s+each\s+nostril))"
    r"(?![A-Za-z])")


def _abbreviation(letters: str) -> str:
    """A Latin abbreviation with or without its periods: "bid" → b.i.d., b.i.d, BID (a period
    after an undotted form is the sentence's, not the abbreviation's)."""
    return r"\.\s?".join(letters) + r"\." + "|" + r"\.\s?".join(letters) + "|" + letters


_FREQ_BASE = (
    r"q\.\s?\d+(?:\s*(?:-|to)\s*\d+)?\s*h\b\.?|q\d+(?:-\d+)?h\b"  # q.6h., q.4-6h., q6h
    r"|q\.?\s?\d+(?:\s*(?:-|to)\s*\d+)?\s*(?:hrs?\b\.?|hours?\b)"  # q.6 hours, q 6 hrs
    r"|every\s+\d+(?:\s*(?:-|to)\s*\d+)?\s+hours?"
    + "".join("|" + _abbreviation(letters) for letters in ("qhs", "hs", "qam", "qpm", "qod", "qd",
                                                           "bid", "tid", "qid"))
    + r"|q\.?\s?week|daily|nightly|weekly|monthly|once\s+(?:daily|weekly|monthly|(?:a|per)\s+(?:day|week|month))"
    r"|twice\s+(?:daily|(?:a|per)\s+day)|(?:two|three|four|[234])\s+times\s+(?:daily|(?:a|per)\s+day)"
    r"|(?:a|per|every|each)\s+day|at\s+bedtime|at\s+night|every\s+night|every\s+morning"
    r"|in\s+the\s+morning|every\s+evening|every\s+other\s+day|every\s+week"
    r"|with\s+(?:each\s+|every\s+)?meals?")
_FREQ_PRN = _abbreviation("prn") + r"|as\s+needed|as\s+necessary"
_SIG_FREQUENCY = re.compile(
    rf"\s+(?P<part>(?i:(?:{_FREQ_BASE})(?:\s+(?:{_FREQ_PRN}))?|{_FREQ_PRN}))(?![A-Za-z])")
_SIG_FILLER = re.compile(
    rf"\s+(?:(?:\d+|{norm.NUMBER_WORD}|half|a)(?:\s*(?:-|to)\s*(?:\d+|{norm.NUMBER_WORD}))?"
    r"(?:\s+(?:tablets?|tabs?|capsules?|caps?|pills?|puffs?|drops?|sprays?))?"
    r"|tablets?|tabs?|capsules?|caps?|push|drip|bolus|take|takes|of)(?![A-Za-z])",
    re.IGNORECASE)
_SIG_PARTS = (("medication_dose", _SIG_DOSE), ("medication_route", _SIG_ROUTE),
              ("medication_frequency", _SIG_FREQUENCY))


# --- negation ----------------------------------------------------------------------------------

_TAKE_VERBS = ["on", "taking", "take", "takes", "took", "taken", "using", "use", "uses", "used",
               "receiving", "receive", "receives", "received", "given", "started", "prescribed"]


def _within_sentence(target: SpacySpan, modifier: SpacySpan, between: SpacySpan) -> bool:
    """A negation reaches only targets in its own sentence (ConText's window ignores sentences)."""
    return not any(token.is_sent_start for token in [*between, target[0]])


def _within_clause(target: SpacySpan, modifier: SpacySpan, between: SpacySpan) -> bool:
    """Nor past a comma, for triggers that govern one object ("has not been taking it, Advil 200 mg")."""
    return _within_sentence(target, modifier, between) and not any(t.text == "," for t in between)


def _negation_rules() -> list[ConTextRule]:
    """ConText rules for drugs and allergens.

    medspaCy's default rules are written for findings ("no fever"): their sentence-wide scope, on
    MTSamples, negated most drugs that were in fact given ("no bleeding was seen and 2 mL of
    lidocaine was injected"). These triggers are narrow and reach a few tokens only; the ones that take a list
    ("denies latex, egg or iodine allergy") reach further, through commas.
    """
    def negation(literal: str, pattern: list[dict], max_scope: int, lists: bool = False) -> ConTextRule:
        return ConTextRule(literal, "NEGATED_EXISTENCE", pattern=pattern, direction="FORWARD",
                           max_scope=max_scope,
                           on_modifies=_within_sentence if lists else _within_clause)

    def lower(*words: str) -> dict:
        return {"LOWER": {"IN": list(words)}}

    return [
        negation("not taking", [lower("not", "n't", "never"),  # "not on", "has not been taking"
                                {**lower("currently", "presently", "been", "be", "yet", "ever"), "OP": "*"},
                                lower(*_TAKE_VERBS)], 3),
        negation("no longer", [lower("no"), lower("longer"), {**lower(*_TAKE_VERBS), "OP": "?"}], 3),
        negation("no", [lower("no")], 1),  # "no aspirin", not "no bleeding, 2 mL of lidocaine"
        negation("without", [lower("without")], 2),  # "lidocaine without epinephrine"
        negation("declined", [lower("declined", "declines", "refused", "refuses")], 3),
        negation("denies", [lower("deny", "denies", "denied", "denying")], 8, lists=True),
        negation("no allergy to", [lower("no", "not"), {**lower("known", "any"), "OP": "?"},
                                   lower("allergy", "allergies", "allergic"), lower("to")], 8,
                 lists=True),
        ConTextRule("but", "NEGATED_EXISTENCE", direction="TERMINATE",
                    pattern=[lower("but", "however", "except", "although", "though", "due")]),
    ]


# A line of text, and an upper-case header with its colon ("MEDICATIONS:"): both start a sentence
# for negation scope; a line may be a header written without its colon (see EntityLabeler._lists).
_LINE = re.compile(r"(?<=\n)[^\n]+")
_HEADER = re.compile(r"(?:^|(?<=[.,;\n]))\s*(?P<header>[A-Z][A-Z/&() -]{2,}):")


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
        self._context.add(_negation_rules())
        self._known_headers = {*schema.header_map(), *map(normalize_header, schema.other_headers)}
        self._drugs = self._phrase_matcher(load_lexicon("medications.txt"))
        self._allergens = self._phrase_matcher(load_lexicon("allergens.txt"))

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
        for found in _AGE.finditer(text):
            start, end = found.span("number") if found.group("number") else found.span()
            sentence_before = text[max(0, found.start() - 60):found.start()]
            if _AGE_OTHER_BEFORE.search(sentence_before) or _AGE_OTHER_AFTER.match(text[end:end + 40]):
                continue
            age = _span(text, start, end, "age")
            if age is None:
                continue
            yield age
            sex = _sex_after_age(text, end)
            if sex is not None:
                yield sex
        for pattern in (_SEX_FIELD, _SEX_THIS_IS):
            for found in pattern.finditer(text):
                sex = _span(text, *found.span("sex"), "sex")
                if sex is not None:
                    yield sex

    def _vitals(self, text: str) -> list[Span]:
        found: list[tuple[int, int, list[Span]]] = []  # (start, end, spans) of each reading
        for name, pattern in _VITAL_PATTERNS.items():
            for match in pattern.finditer(text):
                found.append((match.start(), match.end(), _vital_spans(text, name, match)))
        for pattern, name in ((_SPO2_BEFORE, "spo2"), (_HEIGHT_AFTER, "height"),
                              (_HEIGHT_STATED, "height")):
            for match in pattern.finditer(text):
                found.append((match.start(), match.end(), _vital_spans(text, name, match)))
        found = [reading for reading in found
                 if reading[2] and (reading[2][0].label == "temperature"
                                    or not _NOT_CURRENT.search(text[max(0, reading[0] - 20):reading[0]]))]
        letters = []
        for match in _LETTER_PATTERN.finditer(text):
            name = _LETTER_VITALS[match.group("letter")]
            value = _VALUE_PATTERNS[name].match(text, match.end())
            if value:
                letters.append((match.start(), value.end(), _vital_spans(text, name, value)))
        readings = found + [r for r in letters if r[2] and _in_run(text, r, found + letters)]
        return [span for _, _, spans in readings for span in spans]

    def _drugs_and_allergens(self, doc: Doc, sections: list[Span]) -> list[Span]:
        text = doc.text
        drugs = _matched_spans(doc, self._drugs)
        allergens = _matched_spans(doc, self._allergens)
        in_allergies = self._lists(text, sections, ALLERGIES_SECTION)
        in_medications = self._lists(text, sections, MEDICATIONS_SECTION)
        substances = {start: end for start, end in _longest_first(drugs + allergens)}

        allergen_at: set[tuple[int, int]] = set()
        for start, end in substances.items():
            # A drug with its dose is taken, even where a missed header left it inside the
            # allergies section ("ALLERGIES: NKDA. HOME MEDICATIONS 1. Keppra 500 mg").
            listed_as_allergy = _inside(start, in_allergies) and not _SIG_DOSE.match(text, end)
            if listed_as_allergy or _ALLERGY_AFTER.match(text[end:end + 20]):
                allergen_at.add((start, end))
        for trigger in _ALLERGY_TRIGGER.finditer(text):
            allergen_at.update(_listed(text, trigger.end(), substances))

        spans = [span for start, end in sorted(allergen_at)
                 if (span := _span(text, start, end, "allergen", negated=False)) is not None]
        for found in _NO_KNOWN_ALLERGIES.finditer(text):
            spans.append(Span(found.start(), found.end(), "allergen", SILVER_PATTERN,
                              {"value": norm.NO_KNOWN_ALLERGIES, "negated": False}))
        for start, end in in_allergies:
            none = _NONE_SECTION.match(text[start:end])
            if none:
                spans.append(Span(start + none.start("none"), start + none.end("none"), "allergen",
                                  SILVER_PATTERN, {"value": norm.NO_KNOWN_ALLERGIES, "negated": False}))

        names = [(s, e) for s, e in drugs if _is_drug_use(text, s, e)]
        for start, end in in_medications:
            for item in _MED_ITEM.finditer(text[start:end]):
                words = item.group("name").lower().split()
                item_start, item_end = start + item.start("name"), start + item.end("name")
                if not any(word in _NOT_A_NAME for word in words) and not _overlaps(
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
            for line in _LINE.finditer(text, section.start, section.end):
                if normalize_header(line.group()) in self._known_headers:
                    end = line.start()
                    break
            ranges.append((section.start, end))
        return ranges

    # --- negation ----------------------------------------------------------------------------

    def _break_sentences(self, doc: Doc, sections: list[Span]) -> None:
        """Start a sentence at each section, header and line, so negation ("Denies fever,
        chills,MEDICATIONS: aspirin") never reaches across them."""
        starts = {s.start for s in sections} | {m.start("header") for m in _HEADER.finditer(doc.text)}
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
    low_high = _PLAUSIBLE.get(label)
    if low_high and not low_high[0] <= value <= low_high[1]:
        return None
    return Span(start, end, label, SILVER_PATTERN, {"value": value, **attrs})


def _sex_after_age(text: str, age_end: int) -> Span | None:
    """The sex word describing the person whose age ends at ``age_end``: within the next few
    words ("45-year-old white female"), or "M"/"F" right after it ("45 y/o M")."""
    for n, token in enumerate(_SEX_TOKEN.finditer(text, age_end, age_end + 80)):
        word = token.group()
        if n == 0 and word in ("M", "F"):
            return _span(text, token.start(), token.end(), "sex")
        if n >= 6 or word in ".;:()" or word.lower() in _SEX_AFTER_AGE_STOP:
            return None
        if re.fullmatch(_SEX_WORDS, word, re.IGNORECASE):
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
    if _RANGE_BEFORE.search(text[max(0, match.start("value") - 8):match.start("value")]):
        return []
    end = match.end("unit") if name == "temperature" and match.group("unit") else match.end("value")
    span = _span(text, match.start("value"), end, name)
    return [span] if span is not None else []


def _in_run(text: str, reading: tuple[int, int, list[Span]],
            readings: list[tuple[int, int, list[Span]]]) -> bool:
    """Whether another reading sits right before or after this one ("T 98.6, P 88")."""
    start, end, _ = reading
    for other_start, other_end, _ in readings:
        if other_end <= start and start - other_end <= 12 and _RUN_GAP.match(text[other_end:start]):
            return True
        if other_start >= end and other_start - end <= 12 and _RUN_GAP.match(text[end:other_start]):
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
        separator = _LIST_SEPARATOR.match(text, substances[pos])
        if separator is None:
            break
        pos = separator.end()
    return listed


def _is_drug_use(text: str, start: int, end: int) -> bool:
    """Whether a lexicon name is a drug taken, not part of "insulin-dependent" or "Dilantin level"."""
    return not (_NOT_A_DRUG_AFTER.match(text[end:end + 20])
                or _NOT_A_DRUG_BEFORE.search(text[max(0, start - 6):start]))


def _medication(text: str, start: int, end: int, group: int) -> list[Span]:
    """The name span of one medication and the dose, route and frequency written right after it
    ("Lasix 20 mg p.o. daily"), all sharing ``group``."""
    formulation = _FORMULATION.match(text, end)
    if formulation:
        end = formulation.end()
    name = _span(text, start, end, "medication", group=group, negated=False)
    if name is None:
        return []
    spans, pos, seen = [name], end, set()
    while True:
        for label, pattern in _SIG_PARTS:
            found = None if label in seen else pattern.match(text, pos)
            if found:
                part = _span(text, *found.span("part"), label, group=group)
                if part is not None:
                    spans.append(part)
                    seen.add(label)
                    pos = found.end()
                    break
        else:
            filler = _SIG_FILLER.match(text, pos)
            if filler is None or len(seen) == len(_SIG_PARTS):
                return spans
            pos = filler.end()
