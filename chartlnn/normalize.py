"""Entity span text → normalized field value.

Pure functions shared by the silver labeler (values for its spans) and the decoder (values for
predicted spans), so both sides of an evaluation normalize the same way. Each takes the span's
text and returns the value in the schema's unit, or None when the text cannot be read as one;
none of them raises on odd text.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?|\.\d+"
_NUMBER_RE = re.compile(_NUMBER)

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
          "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
          "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
NUMBER_WORD = (r"(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(list(_UNITS)[1:10]) + r"))?"
               r"|" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")")
"""A number written in words from zero to ninety-nine ("six", "forty-five"), as a regex."""
_NUMBER_WORD_RE = re.compile(r"\b" + NUMBER_WORD + r"\b", re.IGNORECASE)


def _float(digits: str) -> float | None:
    """A written number ("1,000", "98.6") as a float; None for one too long to be finite."""
    value = float(digits.replace(",", ""))
    return value if math.isfinite(value) else None


def _word_number(words: str) -> int:
    parts = re.split(r"[- ]", words.lower())
    return sum(_TENS.get(p, _UNITS.get(p, 0)) for p in parts)


def _first_number(text: str, words: bool = False) -> float | None:
    """The first number in ``text`` (digits, or with ``words`` also "forty-five"), else None."""
    found = _NUMBER_RE.search(text)
    if words:
        word = _NUMBER_WORD_RE.search(text)
        if word and (found is None or word.start() < found.start()):
            return float(_word_number(word.group()))
    return _float(found.group()) if found else None


def _only_number(text: str) -> float | None:
    """The number in ``text`` when it holds exactly one ("124", "88 bpm"), else None."""
    found = _NUMBER_RE.findall(text)
    return _float(found[0]) if len(found) == 1 else None


def age_years(text: str) -> float | None:
    """Age in years, 2 decimals: "45-year-old" → 45.0, "3-1/2-year-old" → 3.5, "6-month-old" → 0.5,
    "3 weeks" → 0.06."""
    value = _first_number(text, words=True)
    if value is None:
        return None
    lower = text.lower()
    if re.search(r"\d\s*-\s*1/2|and a half", lower):
        value += 0.5
    if re.search(r"month|\bmos?\b", lower):
        value /= 12
    elif re.search(r"week|\bwks?\b", lower):
        value *= 7 / 365.25
    elif "day" in lower:
        value /= 365.25
    return round(value, 2) if value < 130 else None


_SEX = {"male": "male", "man": "male", "gentleman": "male", "boy": "male", "m": "male",
        "female": "female", "woman": "female", "lady": "female", "girl": "female", "f": "female"}


def sex(text: str) -> str | None:
    """"male"/"female" from a sex word (male, man, gentleman, boy, M; female, woman, lady, girl, F)."""
    return _SEX.get(text.strip().strip(".").lower())


def _whole_number(text: str) -> int | None:
    value = _only_number(text)
    return int(round(value)) if value is not None else None


def blood_pressure(text: str) -> int | None:
    """One blood pressure number in mmHg ("124" → 124); the systolic and diastolic spans are separate."""
    return _whole_number(text)


def rate_per_min(text: str) -> int | None:
    """Heart or respiratory rate per minute: "88" or "88 bpm" → 88."""
    return _whole_number(text)


def spo2_percent(text: str) -> int | None:
    """Oxygen saturation in %: "97" or "97%" → 97."""
    return _whole_number(text)


_FAHRENHEIT = re.compile(r"°\s*f|\bf\b|fahrenheit", re.IGNORECASE)
_CELSIUS = re.compile(r"°\s*c|\bc\b|celsius|centigrade", re.IGNORECASE)


def temperature_celsius(text: str) -> float | None:
    """°C, 1 decimal. Fahrenheit when the unit says F, or when no unit is written and the value is
    above 50 ("98.6" → 37.0, "37.2 C" → 37.2)."""
    value = _first_number(text)
    if value is None:
        return None
    if _FAHRENHEIT.search(text) or (not _CELSIUS.search(text) and value > 50):
        value = (value - 32) * 5 / 9
    return round(value, 1)


_KG = re.compile(r"(" + _NUMBER + r")\s*(?:kg|kgs|kilos?|kilograms?)\b", re.IGNORECASE)
_LB = re.compile(r"(" + _NUMBER + r")\s*(?:lb|lbs|pounds?|#)", re.IGNORECASE)
_GRAMS = re.compile(r"(" + _NUMBER + r")\s*(?:g|gm|grams?)\b", re.IGNORECASE)


def weight_kg(text: str) -> float | None:
    """Body weight in kg, 1 decimal, from kg, lb/lbs/pounds or grams; None without a unit."""
    for pattern, factor in ((_KG, 1.0), (_LB, 0.45359237), (_GRAMS, 0.001)):
        found = pattern.search(text)
        if found and (value := _float(found.group(1))) is not None:
            return round(value * factor, 1)
    return None


_INCH_NUMBER = r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d)/(\d))?"  # 7, 7.5, 7-1/2
_FEET_INCHES = re.compile(
    r"(\d+)\s*(?:'|′|’|ft\b\.?|feet|foot)\s*(?:(?:,|and)\s*)?(?:" + _INCH_NUMBER
    + r"\s*(?:\"|″|”|''|in\b\.?|inch(?:es)?)?)?", re.IGNORECASE)
_CM = re.compile(r"(" + _NUMBER + r")\s*(?:cm|centimet(?:er|re)s?)\b", re.IGNORECASE)
_METERS = re.compile(r"(\d(?:\.\d+)?)\s*(?:m|met(?:er|re)s?)\b", re.IGNORECASE)
_INCHES = re.compile(_INCH_NUMBER + r"\s*(?:\"|″|”|''|in\b\.?|inch(?:es)?)", re.IGNORECASE)


def _inches(whole: str | None, numerator: str | None, denominator: str | None) -> float | None:
    value = _float(whole or "0")
    fraction = int(numerator) / int(denominator) if numerator and int(denominator) else 0.0
    return value + fraction if value is not None else None


def height_cm(text: str) -> float | None:
    """Body height in cm, 1 decimal, from cm, m, inches, or feet and inches ("5'6\"",
    "5 feet 6 inches" → 167.6, "5'7-1/2\"" → 171.4); None without a unit."""
    found = _FEET_INCHES.search(text)
    if found:
        feet, inches = _float(found.group(1)), _inches(*found.group(2, 3, 4))
        return round((feet * 12 + inches) * 2.54, 1) if feet is not None and inches is not None else None
    found = _INCHES.search(text)
    if found:
        inches = _inches(*found.group(1, 2, 3))
        return round(inches * 2.54, 1) if inches is not None else None
    for pattern, factor in ((_CM, 1.0), (_METERS, 100.0)):
        found = pattern.search(text)
        if found and (value := _float(found.group(1))) is not None:
            return round(value * factor, 1)
    return None


_DOSE_UNITS = {
    "mg": "mg", "milligram": "mg", "milligrams": "mg",
    "mcg": "mcg", "µg": "mcg", "ug": "mcg", "microgram": "mcg", "micrograms": "mcg",
    "g": "g", "gm": "g", "gram": "g", "grams": "g",
    "ml": "mL", "cc": "mL",
    "unit": "unit", "units": "unit", "u": "unit", "iu": "IU",
    "meq": "mEq",
    "puff": "puff", "puffs": "puff",
    "tablet": "tablet", "tablets": "tablet", "tab": "tablet", "tabs": "tablet",
    "capsule": "capsule", "capsules": "capsule", "cap": "capsule", "caps": "capsule",
    "pill": "tablet", "pills": "tablet",
    "drop": "drop", "drops": "drop", "gtt": "drop", "gtts": "drop",
    "spray": "spray", "sprays": "spray",
    "patch": "patch", "patches": "patch",
}
DOSE_UNIT = r"(?:" + "|".join(sorted((re.escape(u) for u in _DOSE_UNITS), key=len, reverse=True)) + r")"
"""Dose units as a regex (case-insensitive use), longest first."""
_DOSE_RE = re.compile(r"^\s*(" + _NUMBER + r")\s*(" + DOSE_UNIT + r")\.?\s*$", re.IGNORECASE)


def dose(text: str) -> dict[str, Any] | None:
    """{"amount": float, "unit": canonical unit} from "81 mg", "0.5 mg", "10 units", "2 puffs"."""
    found = _DOSE_RE.match(text)
    amount = _float(found.group(1)) if found else None
    if amount is None:
        return None
    return {"amount": amount, "unit": _DOSE_UNITS[found.group(2).lower()]}


def _compact(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text.lower())


ROUTE_FORMS = {
    "oral": ["PO", "p.o.", "by mouth", "orally", "oral", "per os"],
    "intravenous": ["IV", "i.v.", "intravenous", "intravenously", "IV push", "IVPB", "IVI"],
    "intramuscular": ["IM", "i.m.", "intramuscular", "intramuscularly"],
    "subcutaneous": ["subq", "subcu", "subcut", "SQ", "SC", "s/c", "subcutaneous",
                     "subcutaneously"],
    "topical": ["topical", "topically", "TOP"],
    "inhaled": ["inhaled", "inhalation", "by inhalation", "via inhaler", "nebulized",
                "via nebulizer", "INH", "NEB"],
    "sublingual": ["SL", "sublingual", "sublingually", "under the tongue"],
    "rectal": ["PR", "rectal", "rectally", "per rectum"],
    "transdermal": ["transdermal", "transdermally", "patch"],
    "ophthalmic": ["ophthalmic", "in each eye", "in both eyes", "each eye", "both eyes"],
    "nasal": ["nasal", "nasally", "intranasal", "intranasally", "in each nostril", "each nostril"],
}
"""Each canonical route and the ways notes write it (matched without case, spaces, dots or
hyphens; training also writes mentions in these forms, :mod:`chartlnn.training.augment`)."""
_ROUTE_BY_KEY = {_compact(form): route for route, forms in ROUTE_FORMS.items() for form in forms}


def route(text: str) -> str | None:
    """Canonical route: "p.o."/"PO"/"by mouth" → "oral", "IV" → "intravenous", "subq" →
    "subcutaneous", … (see ``ROUTE_FORMS``)."""
    return _ROUTE_BY_KEY.get(_compact(text))


_PRN = re.compile(r"\s*(?:p\.?\s?r\.?\s?n\.?|as needed|as necessary|when required)\s*$", re.IGNORECASE)
_EVERY_HOURS = re.compile(
    r"^(?:q|every)\s*(\d+(?:\s*(?:-|to)\s*\d+)?)\s*(?:h|hr|hrs|hours?)$|^(\d+)\s*-?\s*hourly$")
FREQUENCY_FORMS = {
    "every hour": ["every hour", "hourly", "each hour", "qh", "q hour"],
    "once daily": ["daily", "qd", "qday", "q day", "once daily", "once a day", "once per day",
                   "a day", "per day", "every day", "each day", "one time a day", "1 time a day",
                   "one time daily", "once a day every day", "od"],
    "twice daily": ["bid", "twice daily", "twice a day", "twice per day", "two times a day",
                    "2 times a day", "two times daily", "2 times daily", "bd"],
    "three times daily": ["tid", "three times daily", "three times a day", "3 times a day",
                          "3 times daily", "three times per day", "tds"],
    "four times daily": ["qid", "four times daily", "four times a day", "4 times a day",
                         "4 times daily", "four times per day", "qds"],
    "at bedtime": ["qhs", "hs", "at hs", "at bedtime", "nightly", "at night", "every night",
                   "each night", "every bedtime", "q bedtime", "nocte", "on"],
    "every morning": ["qam", "every morning", "each morning", "in the morning", "mane"],
    "every evening": ["qpm", "every evening", "each evening", "in the evening"],
    "every other day": ["qod", "every other day", "every second day"],
    "weekly": ["weekly", "once weekly", "once a week", "every week", "qweek", "qwk", "q week",
               "per week", "a week"],
    "monthly": ["monthly", "once monthly", "once a month", "every month", "per month", "a month"],
    "with meals": ["with meals", "with each meal", "with every meal", "with food"],
}
"""Each canonical frequency and the ways notes write it, lower case without periods (matched
without case or periods; "every N hours", "qNh", "N-hourly" and a trailing "p.r.n." are read
apart)."""
_FREQUENCY_BY_KEY = {spelled: value for value, keys in FREQUENCY_FORMS.items() for key in keys
                     for spelled in (key, key.replace(" ", ""))}
"""Each form as listed and without its spaces, so "at h.s." (read "at h s") finds "at hs"."""


def _base_frequency(text: str) -> str | None:
    key = " ".join(text.lower().replace(".", " ").split())
    every = _EVERY_HOURS.match(key.replace(" ", "") if key.startswith("q") else key)
    if every:
        hours = re.sub(r"\s*(?:-|to)\s*", "-", every.group(1) or every.group(2))
        return "every hour" if hours == "1" else f"every {hours} hours"
    return _FREQUENCY_BY_KEY.get(key) or _FREQUENCY_BY_KEY.get(key.replace(" ", ""))


def frequency(text: str) -> str | None:
    """Canonical frequency: "b.i.d." → "twice daily", "q.6h." → "every 6 hours", "p.r.n." →
    "as needed", "q.4-6h. p.r.n." → "every 4-6 hours as needed" (see ``FREQUENCY_FORMS``)."""
    prn = _PRN.search(text)
    if prn is None:
        return _base_frequency(text)
    base = text[:prn.start()].strip(" ,")
    if not base:
        return "as needed"
    value = _base_frequency(base)
    return f"{value} as needed" if value else None


NO_KNOWN_ALLERGIES = "no known allergies"
_NO_ALLERGIES = re.compile(
    r"^(?:nkda|nka|none|none known|no known (?:(?:drug|medication|medicine|food|environmental)"
    r"(?: or | and |/| )?)*allerg(?:y|ies))$")


def allergen(text: str) -> str | None:
    """Lower-cased substance ("Penicillin" → "penicillin"); "NKDA", "no known drug allergies",
    "none" and the like → "no known allergies"."""
    key = " ".join(text.lower().split()).strip(" .,;:")
    if not key:
        return None
    return NO_KNOWN_ALLERGIES if _NO_ALLERGIES.match(key) else key


def medication(text: str) -> str | None:
    """The drug name lower-cased with single spaces ("Metoprolol  Tartrate" → "metoprolol tartrate")."""
    key = " ".join(text.lower().split()).strip(" .,;:")
    return key or None


NORMALIZERS: dict[str, Callable[[str], Any]] = {
    "age": age_years,
    "sex": sex,
    "bp_systolic": blood_pressure,
    "bp_diastolic": blood_pressure,
    "heart_rate": rate_per_min,
    "resp_rate": rate_per_min,
    "temperature": temperature_celsius,
    "spo2": spo2_percent,
    "weight": weight_kg,
    "height": height_cm,
    "medication": medication,
    "medication_dose": dose,
    "medication_route": route,
    "medication_frequency": frequency,
    "allergen": allergen,
}
"""Entity field name → its normalizer."""


def normalize(label: str, text: str) -> Any:
    """The normalized value of a span of entity field ``label``, or None when unreadable.

    Raises KeyError for a label that has no normalizer (a schema field this module doesn't know).
    """
    if label not in NORMALIZERS:
        raise KeyError(f"no normalizer for entity field {label!r}; known: {sorted(NORMALIZERS)}")
    return NORMALIZERS[label](text)
