"""Span text → normalized value, for every entity field (chartlnn.normalize)."""

import math

import pytest

from chartlnn import normalize as norm


@pytest.mark.parametrize("text, years", [
    ("45-year-old", 45.0),
    ("45 y/o", 45.0),
    ("45 years old", 45.0),
    ("45 yo", 45.0),
    ("45", 45.0),
    ("72 years of age", 72.0),
    ("6-month-old", 0.5),
    ("18 months old", 1.5),
    ("3-week-old", 0.06),
    ("10-day-old", 0.03),
    ("3-1/2-year-old", 3.5),
    ("forty-five-year-old", 45.0),
    ("eighteen-year-old", 18.0),
])
def test_normalize_age_in_years(text, years):
    assert norm.age_years(text) == years


@pytest.mark.parametrize("text, value", [
    ("male", "male"), ("Female", "female"), ("man", "male"), ("woman", "female"),
    ("gentleman", "male"), ("lady", "female"), ("boy", "male"), ("girl", "female"),
    ("M", "male"), ("F", "female"), ("she", None), ("patient", None),
])
def test_normalize_sex(text, value):
    assert norm.sex(text) == value


@pytest.mark.parametrize("text, value", [("124", 124), ("78", 78), ("124 mmHg", 124), ("124/78", None)])
def test_normalize_blood_pressure_takes_one_number(text, value):
    assert norm.blood_pressure(text) == value


@pytest.mark.parametrize("text, value", [("88", 88), ("88 bpm", 88), ("16", 16), ("16 per minute", 16)])
def test_normalize_rate_per_minute(text, value):
    assert norm.rate_per_min(text) == value


@pytest.mark.parametrize("text, celsius", [
    ("98.6", 37.0),
    ("98.6 F", 37.0),
    ("98.6°F", 37.0),
    ("101.2 degrees", 38.4),
    ("101.2 degrees Fahrenheit", 38.4),
    ("37 C", 37.0),
    ("37.2 degrees Celsius", 37.2),
    ("36.8", 36.8),
    ("37.4°C", 37.4),
])
def test_normalize_temperature_in_celsius(text, celsius):
    assert norm.temperature_celsius(text) == celsius


@pytest.mark.parametrize("text, value", [("97", 97), ("97%", 97), ("100 %", 100)])
def test_normalize_spo2(text, value):
    assert norm.spo2_percent(text) == value


@pytest.mark.parametrize("text, kg", [
    ("70 kg", 70.0), ("154 lbs", 69.9), ("154 pounds", 69.9), ("1 lb", 0.5), ("80.7 kg", 80.7),
    ("3200 grams", 3.2), ("154", None),
])
def test_normalize_weight_in_kg(text, kg):
    assert norm.weight_kg(text) == kg


@pytest.mark.parametrize("text, cm", [
    ("168 cm", 168.0),
    ("1.68 m", 168.0),
    ("66 inches", 167.6),
    ("72 in.", 182.9),
    ("5'6\"", 167.6),
    ("5' 6''", 167.6),
    ("5 feet 6 inches", 167.6),
    ("5 ft 6 in", 167.6),
    ("5 feet, 6 inches", 167.6),
    ("5 feet and 6 inches", 167.6),
    ("6 feet", 182.9),
    ("42-1/4 inches", 107.3),
    ("168", None),
])
def test_normalize_height_in_cm(text, cm):
    assert norm.height_cm(text) == cm


@pytest.mark.parametrize("text, value", [
    ("81 mg", {"amount": 81.0, "unit": "mg"}),
    ("0.5 mg", {"amount": 0.5, "unit": "mg"}),
    ("81mg", {"amount": 81.0, "unit": "mg"}),
    ("1,000 mg", {"amount": 1000.0, "unit": "mg"}),
    ("100 mcg", {"amount": 100.0, "unit": "mcg"}),
    ("1 g", {"amount": 1.0, "unit": "g"}),
    ("10 units", {"amount": 10.0, "unit": "unit"}),
    ("20 mEq", {"amount": 20.0, "unit": "mEq"}),
    ("2 puffs", {"amount": 2.0, "unit": "puff"}),
    ("1 tablet", {"amount": 1.0, "unit": "tablet"}),
    ("5 mL", {"amount": 5.0, "unit": "mL"}),
    ("5-10 mg", None),
    ("mg", None),
])
def test_normalize_dose(text, value):
    assert norm.dose(text) == value


@pytest.mark.parametrize("text, value", [
    ("p.o.", "oral"), ("PO", "oral"), ("by mouth", "oral"), ("orally", "oral"),
    ("IV", "intravenous"), ("intravenously", "intravenous"), ("I.V.", "intravenous"),
    ("IM", "intramuscular"), ("subcutaneously", "subcutaneous"), ("subq", "subcutaneous"),
    ("sub-q", "subcutaneous"), ("SQ", "subcutaneous"), ("topically", "topical"),
    ("inhaled", "inhaled"), ("sublingual", "sublingual"), ("SL", "sublingual"),
    ("per rectum", "rectal"), ("transdermal", "transdermal"), ("in each eye", "ophthalmic"),
    ("intranasally", "nasal"), ("sideways", None),
    # as British charts write them
    ("SC", "subcutaneous"), ("s/c", "subcutaneous"), ("NEB", "inhaled"), ("INH", "inhaled"),
    ("ivi", "intravenous"), ("TOP", "topical"), ("patch", "transdermal"), ("both eyes", "ophthalmic"),
])
def test_normalize_route(text, value):
    assert norm.route(text) == value


@pytest.mark.parametrize("text, value", [
    ("daily", "once daily"),
    ("once a day", "once daily"),
    ("q.d.", "once daily"),
    ("a day", "once daily"),
    ("b.i.d.", "twice daily"),
    ("BID", "twice daily"),
    ("twice a day", "twice daily"),
    ("t.i.d.", "three times daily"),
    ("3 times a day", "three times daily"),
    ("q.i.d.", "four times daily"),
    ("q.h.s.", "at bedtime"),
    ("at h.s.", "at bedtime"),
    ("at bedtime", "at bedtime"),
    ("q.a.m.", "every morning"),
    ("q.o.d.", "every other day"),
    ("weekly", "weekly"),
    ("every 6 hours", "every 6 hours"),
    ("q.6h.", "every 6 hours"),
    ("q6h", "every 6 hours"),
    ("q.6 hours", "every 6 hours"),
    ("q.4-6h.", "every 4-6 hours"),
    ("every 4 to 6 hours", "every 4-6 hours"),
    ("p.r.n.", "as needed"),
    ("PRN", "as needed"),
    ("as needed", "as needed"),
    ("q.4-6h. p.r.n.", "every 4-6 hours as needed"),
    ("at bedtime p.r.n.", "at bedtime as needed"),
    ("every 6 hours as needed", "every 6 hours as needed"),
    ("q1h", "every hour"),
    ("every hour", "every hour"),  # its own output reads back (review tasks write values as text)
    ("hourly p.r.n.", "every hour as needed"),
    ("whenever", None),
    # as British charts write them
    ("OD", "once daily"), ("o.d.", "once daily"), ("BD", "twice daily"), ("b.d.", "twice daily"),
    ("TDS", "three times daily"), ("QDS", "four times daily"), ("nocte", "at bedtime"),
    ("mane", "every morning"), ("6-hourly", "every 6 hours"), ("4 hourly", "every 4 hours"),
    ("when required", "as needed"), ("4-hourly PRN", "every 4 hours as needed"),
])
def test_normalize_frequency(text, value):
    assert norm.frequency(text) == value


@pytest.mark.parametrize("text, value", [
    ("Penicillin", "penicillin"),
    ("SULFA DRUGS", "sulfa drugs"),
    ("NKDA", "no known allergies"),
    ("NKA", "no known allergies"),
    ("No known drug allergies", "no known allergies"),
    ("no known allergies", "no known allergies"),
    ("NO KNOWN DRUG OR FOOD ALLERGIES", "no known allergies"),
    ("None", "no known allergies"),
    ("none known", "no known allergies"),
    ("  ", None),
])
def test_normalize_allergen(text, value):
    assert norm.allergen(text) == value


def test_normalize_medication_lower_cases_and_joins_spaces():
    assert norm.medication("Metoprolol  Tartrate") == "metoprolol tartrate"


@pytest.mark.parametrize("label", sorted(norm.NORMALIZERS))
@pytest.mark.parametrize("text", ["", "???", "½", "/", "12/34/56", "∞ mg", "q.", "1e999 kg",
                                  "9" * 400, "9" * 400 + " mg", "5 feet " + "9" * 400 + " inches",
                                  "9" * 400 + "'6\""])
def test_normalize_never_raises_on_odd_text(label, text):
    value = norm.normalize(label, text)
    assert not isinstance(value, float) or math.isfinite(value)


def test_normalize_unknown_field_names_the_field():
    with pytest.raises(KeyError, match="no_such_field"):
        norm.normalize("no_such_field", "12")
