"""The silver entity labeler's patterns: regular expressions for ages, sex, vitals, doses,
routes, frequencies and allergy phrases, the drug and allergen lexicons, and ConText's negation
rules. :mod:`chartlnn.preparing.entities` applies them; keeping them apart keeps that module to
the labeling logic.
"""

from __future__ import annotations

import re

from medspacy.context import ConTextRule
from spacy.tokens import Span as SpacySpan

from chartlnn import normalize as norm
from chartlnn.config import shipped_resource

MEDICATIONS_SECTION = "medications"
ALLERGIES_SECTION = "allergies"

# Not part of a range, a ratio or a longer number: "75-85", "5/5", "98.6.1".
ALONE = r"(?![\d.]*\d)(?!\s*(?:-|to|/)\s*\d)"


def load_lexicon(name: str) -> list[str]:
    """Entries of ``resources/<name>``: one per line, blank lines and ``#`` comments skipped."""
    lines = shipped_resource(name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# --- age and sex -----------------------------------------------------------------------------

AGE_NUMBER = rf"(?<![/.\d-])(?:\d{{1,3}}(?:\s*-\s*1/2|\s+and\s+a\s+half)?|{norm.NUMBER_WORD})"
AGE_UNIT = r"(?:year|yr|month|week|day)s?"
AGE = re.compile(
    rf"(?i:\b{AGE_NUMBER}(?:\s*-\s*|\s+){AGE_UNIT}(?:\s*-\s*|\s+)old\b"  # 45-year-old, 45 years old
    rf"|\b{AGE_NUMBER}\s+{AGE_UNIT}\s+of\s+age\b"  # 45 years of age
    r"|\b\d{1,3}\s*-?\s*(?:y/o|y\.o\.|yo\b|yrs?\.?\s+old\b))"  # 45 y/o, 45 yo, 45 yr old
    r"|\b(?i:age|aged)\s*:?\s*(?P<number>\d{1,3})\b" + ALONE  # age 45 → "45"
)
# An age that belongs to someone else, or to an earlier time: "her 45-year-old son",
# "mother died at 65 years old", "since age 12".
RELATIVES = (r"mother|father|son|daughter|brother|sister|husband|wife|child|children|sibling"
              r"|grandson|granddaughter|grandmother|grandfather|nephew|niece|cousin|aunt|uncle"
              r"|boyfriend|girlfriend|friend|partner|parents?|sons|daughters"
              r"|brothers|sisters|siblings|grandchildren")
AGE_OTHER_BEFORE = re.compile(
    rf"(?i:\b(?:{RELATIVES}|died|death|passed|deceased)\b[^.;:]*"
    r"|\b(?:at|since|by|until|from|before|after|when|between|his|her|their|of|ages|was|were)\s*"
    r"|\d\s*-?\s*years?\s*,?\s*(?:and\s+)?)$")  # "2-year, 3-month-old": a part of the age
AGE_OTHER_AFTER = re.compile(rf"(?i:^[\s,]*(?:\w+[\s,]+)?(?:{RELATIVES})\b)")

SEX_WORDS = r"(?:male|female|man|woman|gentleman|lady|boy|girl)"
SEX_AFTER_AGE_STOP = {"with", "who", "whose", "which", "that", "has", "had", "is", "was", "here",
                       "in", "for", "of", "on", "at", "and", "presents", "presented", "seen"}
SEX_TOKEN = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*|\d+|[.;:()]")
SEX_FIELD = re.compile(r"\b(?i:sex|gender)\s*:\s*(?P<sex>(?i:male|female)|M|F)\b")
SEX_THIS_IS = re.compile(
    r"\b(?i:this|the\s+patient|patient|he|she)\s+is\s+an?\s+"
    r"(?:(?!(?i:with|for|of|who|and|in|on|to|the|a|an|his|her)\b)[A-Za-z-]+,?\s+){0,4}?"
    rf"(?P<sex>(?i:{SEX_WORDS}))\b")


# --- vital signs ------------------------------------------------------------------------------

# Words allowed between a vital's name and its number: "blood pressure was 124/78",
# "pulse of 88", "temperature max today 101.2".
FILLER = (r"(?:\s*(?:[:=,]|-|\b(?i:is|was|were|are|of|at|today|now|initially|currently"
           r"|measured|noted|recorded|reading|max|maximum|on\s+arrival|on\s+admission"
           r"|sitting|standing|supine|seated|about|approximately|around)\b)){0,4}\s*")
TRIGGERS = {
    "bp": r"\b(?:(?i:blood\s+pressures?)|BP|B/P)",
    "heart_rate": r"\b(?:(?i:heart\s+rate|pulse\s+rate|pulse)|HR)\b",
    "resp_rate": r"\b(?:(?i:respiratory\s+rate|respiration\s+rate|respirations?|resp\b\.?)|RR\b)",
    "temperature": r"\b(?i:temperature|temp\b\.?|t\s?-?\s?max\b)",
    "spo2": (r"\b(?i:o2\s+sat(?:uration)?s?|oxygen\s+sat(?:uration)?s?|pulse\s+ox(?:imetry)?"
             r"|sat(?:uration)?s?|saturating|spo2|sao2)\b"),
    "weight": r"\b(?i:weight|weighs|weighing|wt\b\.?|wgt\b\.?)",
    "height": r"\b(?i:height|ht\b\.?|hgt\b\.?)",
}
INCH_UNIT = r"(?:\"|″|”|''|(?i:inches|inch\b|in\b\.?(?!\s+[a-z])))"
INCHES = r"\d{1,2}(?:\.\d+|-\d/\d)?"  # 6, 6.5, 7-1/2
FEET = r"\d\s*(?:'|′|’|(?i:ft\b\.?|feet|foot))"
FEET_AND_INCHES = rf"{FEET}(?:\s*,|\s+and)?\s*{INCHES}\s*{INCH_UNIT}"  # 5 feet, 6 inches
HEIGHT = (rf"{FEET_AND_INCHES}|{FEET}(?:\s*{INCHES})?"  # 5'6", 5 feet 6, 5 feet
           r"|\d{2,3}(?:\.\d+)?\s*(?i:cm|centimeters?)\b"
           r"|\d(?:\.\d+)?\s*(?i:m|meters?)\b"
           rf"|\d{{2}}(?:\.\d+|-\d/\d)?\s*{INCH_UNIT}")
VALUES = {
    "bp": rf"(?P<sys>\d{{2,3}})\s*(?:/|(?i:over))\s*(?P<dia>\d{{2,3}})(?![\d/]){ALONE}",
    "heart_rate": rf"(?P<value>\d{{2,3}}){ALONE}(?!\s*%)",
    "resp_rate": rf"(?P<value>\d{{1,2}}){ALONE}(?!\s*%)",
    "temperature": (rf"(?P<value>\d{{2,3}}(?:\.\d{{1,2}})?){ALONE}"
                    r"(?P<unit>\s*(?:(?:°|º|(?i:degrees?))\s*)?(?:F|C|(?i:fahrenheit|celsius))\b"
                    r"|\s*(?:°|º|(?i:degrees?)\b))?"),
    "spo2": r"(?P<value>\d{2,3})\s*%",
    "weight": (r"(?P<value>\d{1,3}(?:\.\d+)?\s*(?i:kg|kgs|kilograms?|lbs?|pounds?)\b)"
               r"(?![\s,]*(?:and\s+)?[\d/.-]+\s*(?i:oz|ounces?))"),
    "height": rf"(?P<value>{HEIGHT})",
}
VALUE_PATTERNS = {name: re.compile(value) for name, value in VALUES.items()}
VITAL_PATTERNS = {name: re.compile(TRIGGERS[name] + FILLER + VALUES[name]) for name in TRIGGERS}
# Vitals written with the value first ("95% O2 saturation", "97% on room air", "5 feet tall") or
# stated of the patient ("he is 5 feet 8 inches and weighs ...").
SPO2_BEFORE = re.compile(
    r"\b(?P<value>\d{2,3})\s*%\s*(?:(?i:on\s+(?:room\s+air|RA|\d+(?:\.\d+)?\s*(?:L|liters?)\b)"
    r"|(?:o2|oxygen)\s+sat(?:uration)?s?\b|sat(?:uration)?s?\b)|RA\b)")
HEIGHT_AFTER = re.compile(rf"\b(?P<value>{HEIGHT})\s+(?i:tall|in\s+height)\b")
HEIGHT_STATED = re.compile(rf"\b(?i:is|stands|measures)\s+(?P<value>{FEET_AND_INCHES})")
# Single-letter vitals ("T 98.6, P 88, R 16") count only inside a run of vitals.
LETTER_VITALS = {"T": "temperature", "P": "heart_rate", "R": "resp_rate"}
LETTER_PATTERN = re.compile(r"\b(?P<letter>[TPR])(?:\s*[:=]\s*|\s+)(?=\d)")
RUN_GAP = re.compile(r"^[\s,;.]*(?:and\s+)?$")
# Readings that are not the patient's current vital sign: "peak heart rate of 150" in a stress
# test, "birth weight", "she has lost weight, 20 pounds". A temperature maximum is still a
# temperature.
NOT_CURRENT = re.compile(r"(?i:\b(?:peak|max|maximum|maximal|target|predicted|average|mean"
                          r"|minimum|lowest|highest|birth|ideal|goal|lost|gained|losing|gaining)"
                          r"\s+(?:body\s+)?)$")
# The second number of a range: "sats 94 to 99%".
RANGE_BEFORE = re.compile(r"\d\s*%?\s*(?:-|to)\s*$")

PLAUSIBLE = {
    "bp_systolic": (60, 260), "bp_diastolic": (30, 160), "heart_rate": (25, 250),
    "resp_rate": (4, 70), "temperature": (32.0, 44.0), "spo2": (50, 100),
    "weight": (0.5, 400.0), "height": (30.0, 250.0),
}


# --- medications and allergens -----------------------------------------------------------------

# Words after a drug name that make it something other than a drug taken: "insulin-dependent",
# "Dilantin level", "Coumadin clinic".
NOT_A_DRUG_AFTER = re.compile(
    r"^\s*-?\s*(?i:levels?|toxicity|clinic|induced|dependent|resistant|resistance|deficiency"
    r"|deficient|overdose|abuse|naive)\b")
NOT_A_DRUG_BEFORE = re.compile(r"(?i:\bnon|\banti)\s*-?\s*$")
ALLERGY_AFTER = re.compile(r"^\s*-?\s*(?i:allerg(?:y|ies|ic)|intolerance|sensitivity)\b")
ALLERGY_TRIGGER = re.compile(
    r"\b(?i:allerg(?:ic|y|ies)\s+(?:reactions?\s+)?to)\s+(?:(?i:any|all|the)\s+)?")
LIST_SEPARATOR = re.compile(r"\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or)\s+|/)\s*", re.IGNORECASE)
NO_KNOWN_ALLERGIES = re.compile(
    r"\b(?:NKDA|NKA|(?i:no\s+known\s+(?:(?:drug|medication|medicine|food|environmental)"
    r"(?:\s+or\s+|\s+and\s+|/|\s+))*allerg(?:y|ies)))\b")
NONE_SECTION = re.compile(r"^(?:[^:\n]{0,40}:)?[\s,.:]*(?P<none>(?i:none(?:\s+known)?))[\s,.]*$")
FORMULATION = re.compile(r"\s(?:XL|XR|ER|SR|CR|LA|CD|DR|ODT|DS|HCT)\b")

# A dose, not a rate or a weight-based dose ("1 mg per kg", "5 mg/kg").
DOSE = (rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|\.\d+)\s*(?i:{norm.DOSE_UNIT})\b"
         r"(?!\s*/|-|\s*(?i:per\s+(?:kg|kilo|m2|hour|hr|min)))")
# A list item in the medications section: "<Name> <dose>", where the name may be unknown.
MED_ITEM = re.compile(
    r"(?:^|(?<=[,;.:\n)]))\s*(?:\d{1,2}[.)]\s*)?"
    r"(?P<name>[A-Za-z][A-Za-z0-9-]*(?:\s[A-Za-z][A-Za-z0-9-]*)?)\s+(?=" + DOSE + ")")
NOT_A_NAME = {
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

# The parts of a medication after its name ("81 mg p.o. daily p.r.n."), and words and commas
# skipped between them ("one to two tablets", "push", "100 mg, 1 p.o. b.i.d.").
SIG_DOSE = re.compile(r"\s+(?P<part>" + DOSE + ")")
SIG_ROUTE = re.compile(
    r"\s+(?P<part>p\.\s?o\.|P\.O\.|PO|po|I\.V\.|IV|I\.M\.|IM|SL|PR(?![A-Za-z])|p\.r\.(?!\s?n)|SQ|SC|s\.c\."
    r"|(?i:by\s+mouth|orally|oral|intravenously|intravenous|intramuscularly|intramuscular"
    r"|subcutaneously|subcutaneous|sub-?q|sub-?cu|topically|topical|inhaled|via\s+inhaler"
    r"|by\s+inhalation|nebulized|sublingually|sublingual|per\s+rectum|rectally|transdermal(?:ly)?"
    r"|ophthalmic|intranasal(?:ly)?|nasally|in\s+each\s+eye|in\s+both\s+eyes|in\s+each\s+nostril))"
    r"(?![A-Za-z])")


def abbreviation(letters: str) -> str:
    """A Latin abbreviation with or without its periods: "bid" → b.i.d., b.i.d, BID (a period
    after an undotted form is the sentence's, not the abbreviation's)."""
    return r"\.\s?".join(letters) + r"\." + "|" + r"\.\s?".join(letters) + "|" + letters


FREQ_BASE = (
    r"q\.\s?\d+(?:\s*(?:-|to)\s*\d+)?\s*h\b\.?|q\d+(?:-\d+)?h\b"  # q.6h., q.4-6h., q6h
    r"|q\.?\s?\d+(?:\s*(?:-|to)\s*\d+)?\s*(?:hrs?\b\.?|hours?\b)"  # q.6 hours, q 6 hrs
    r"|every\s+\d+(?:\s*(?:-|to)\s*\d+)?\s+hours?"
    + "".join("|" + abbreviation(letters) for letters in ("qhs", "hs", "qam", "qpm", "qod", "qd",
                                                           "bid", "tid", "qid"))
    + r"|q\.?\s?week|daily|nightly|weekly|monthly|once\s+(?:daily|weekly|monthly|(?:a|per)\s+(?:day|week|month))"
    r"|twice\s+(?:daily|(?:a|per)\s+day)|(?:two|three|four|[234])\s+times\s+(?:daily|(?:a|per)\s+day)"
    r"|(?:a|per|every|each)\s+day|at\s+bedtime|at\s+night|every\s+night|every\s+morning"
    r"|in\s+the\s+morning|every\s+evening|every\s+other\s+day|every\s+week"
    r"|with\s+(?:each\s+|every\s+)?meals?")
FREQ_PRN = abbreviation("prn") + r"|as\s+needed|as\s+necessary"
SIG_FREQUENCY = re.compile(
    rf"\s+(?P<part>(?i:(?:{FREQ_BASE})(?:\s+(?:{FREQ_PRN}))?|{FREQ_PRN}))(?![A-Za-z])")
SIG_FILLER = re.compile(
    rf"\s*,|\s+(?:(?:\d+|{norm.NUMBER_WORD}|half|a)(?:\s*(?:-|to)\s*(?:\d+|{norm.NUMBER_WORD}))?"
    r"(?:\s+(?:tablets?|tabs?|capsules?|caps?|pills?|puffs?|drops?|sprays?))?"
    r"|tablets?|tabs?|capsules?|caps?|push|drip|bolus|take|takes|of)(?![A-Za-z])",
    re.IGNORECASE)
SIG_PARTS = (("medication_dose", SIG_DOSE), ("medication_route", SIG_ROUTE),
              ("medication_frequency", SIG_FREQUENCY))
# Parts written before the name: "given 100 mg of Demerol", "2 mL of 1% lidocaine" (a percent is
# a strength, not the dose), "1 g Ancef" (on the same line), "received IV Cipro".
DOSE_BEFORE = re.compile(
    r"(?<![\w.])(?P<part>" + DOSE + r")(?:\s+of\s+(?:\d+(?:\.\d+)?\s*%\s+)?|[ \t]+)$")
ROUTE_BEFORE = re.compile(
    r"(?<![\w.])(?P<part>I\.V\.|IV|I\.M\.|IM|SQ|(?i:intravenous|intramuscular|subcutaneous"
    r"|topical|oral|sublingual|inhaled|nebulized|intranasal))\s+$")


# --- negation ----------------------------------------------------------------------------------

TAKE_VERBS = ["on", "taking", "take", "takes", "took", "taken", "using", "use", "uses", "used",
               "receiving", "receive", "receives", "received", "given", "started", "prescribed"]


def within_sentence(target: SpacySpan, modifier: SpacySpan, between: SpacySpan) -> bool:
    """A negation reaches only targets in its own sentence (ConText's window ignores sentences)."""
    return not any(token.is_sent_start for token in [*between, target[0]])


def within_clause(target: SpacySpan, modifier: SpacySpan, between: SpacySpan) -> bool:
    """Nor past a comma, for triggers that govern one object ("has not been taking it, Advil 200 mg")."""
    return within_sentence(target, modifier, between) and not any(t.text == "," for t in between)


def negation_rules() -> list[ConTextRule]:
    """ConText rules for drugs and allergens.

    medspaCy's default rules are written for findings ("no fever"): their sentence-wide scope, on
    MTSamples, negated most drugs that were in fact given ("no bleeding was seen and 2 mL of
    lidocaine was injected"). These triggers are narrow and reach a few tokens only; the ones that take a list
    ("denies latex, egg or iodine allergy") reach further, through commas.
    """
    def negation(literal: str, pattern: list[dict], max_scope: int, lists: bool = False) -> ConTextRule:
        return ConTextRule(literal, "NEGATED_EXISTENCE", pattern=pattern, direction="FORWARD",
                           max_scope=max_scope,
                           on_modifies=within_sentence if lists else within_clause)

    def lower(*words: str) -> dict:
        return {"LOWER": {"IN": list(words)}}

    return [
        negation("not taking", [lower("not", "n't", "never"),  # "not on", "has not been taking"
                                {**lower("currently", "presently", "been", "be", "yet", "ever"), "OP": "*"},
                                lower(*TAKE_VERBS)], 3),
        negation("no longer", [lower("no"), lower("longer"), {**lower(*TAKE_VERBS), "OP": "?"}], 3),
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
LINE = re.compile(r"(?<=\n)[^\n]+")
HEADER = re.compile(r"(?:^|(?<=[.,;\n]))\s*(?P<header>[A-Z][A-Z/&() -]{2,}):")
