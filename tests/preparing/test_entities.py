"""Silver entity spans from EntityLabeler, on made-up sentences (chartlnn.preparing.entities)."""

import logging

import pytest

from chartlnn.preparing.entities import EntityLabeler
from chartlnn.notes import SILVER_PATTERN, Span
from chartlnn.schema import Schema


@pytest.fixture(scope="module")
def labeler(schema):
    return EntityLabeler(schema)


def found(labeler, text, sections=None, labels=None):
    """(label, span text, value) of each span, checking the offsets on the way."""
    spans = labeler.label(text, sections)
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.source == SILVER_PATTERN
    return [(s.label, text[s.start:s.end], s.attrs["value"]) for s in spans
            if labels is None or s.label in labels]


def section(text, label, header, end_marker=None):
    """The section span after ``header`` up to ``end_marker`` (or the end of the text)."""
    start = text.index(header) + len(header)
    end = text.index(end_marker, start) if end_marker else len(text)
    return Span(start, end, label, "silver:header")


def test_entities_age_and_sex_of_the_patient_only(labeler):
    text = ("The patient is a 45-year-old white female with chest pain. "
            "Her 20-year-old son drove her in; her mother died at 70 years old.")
    assert found(labeler, text) == [("age", "45-year-old", 45.0), ("sex", "female", "female")]


@pytest.mark.parametrize("text, expected", [
    ("HPI: 45 y/o M with cough.", [("age", "45 y/o", 45.0), ("sex", "M", "male")]),
    ("A 6-month-old baby boy with fever.", [("age", "6-month-old", 0.5), ("sex", "boy", "male")]),
    ("This 3-1/2-year-old girl fell.", [("age", "3-1/2-year-old", 3.5), ("sex", "girl", "female")]),
    ("He is 62 years old.", [("age", "62 years old", 62.0)]),
    ("Seen today, age 45, for review.", [("age", "45", 45.0)]),
    ("Sex: F. Asthma since age 12.", [("sex", "F", "female")]),
    ("This is a very pleasant gentleman from out of town.", [("sex", "gentleman", "male")]),
    ("She says a man at work has the flu.", []),
])
def test_entities_age_and_sex_forms(labeler, text, expected):
    assert found(labeler, text, labels={"age", "sex"}) == expected


def test_entities_vitals_run_with_single_letters(labeler):
    text = "Vitals: T 98.6, P 88, R 16, BP 124/78, O2 sat 97% on room air."
    assert found(labeler, text) == [
        ("temperature", "98.6", 37.0), ("heart_rate", "88", 88), ("resp_rate", "16", 16),
        ("bp_systolic", "124", 124), ("bp_diastolic", "78", 78), ("spo2", "97", 97)]


def test_entities_vitals_in_words(labeler):
    text = ("Blood pressure of 124 over 78, pulse of 88 bpm, respirations 16, temperature "
            "37.2 degrees Celsius, and she is saturating 95%. Weight 154 lbs, height 5'6\".")
    assert found(labeler, text) == [
        ("bp_systolic", "124", 124), ("bp_diastolic", "78", 78), ("heart_rate", "88", 88),
        ("resp_rate", "16", 16), ("temperature", "37.2 degrees Celsius", 37.2), ("spo2", "95", 95),
        ("weight", "154 lbs", 69.9), ("height", "5'6\"", 167.6)]


@pytest.mark.parametrize("text, expected", [
    ("Temp 101.2 degrees this morning.", [("temperature", "101.2 degrees", 38.4)]),
    ("T-max 38.5 C overnight.", [("temperature", "38.5 C", 38.5)]),
    ("Heart rate is 72 and regular; HR 75-85 on the monitor.", [("heart_rate", "72", 72)]),
    ("Pulse was about 90 and regular.", [("heart_rate", "90", 90)]),
    ("He is 5 feet 10 inches tall and weighs 70 kg.",
     [("height", "5 feet 10 inches", 177.8), ("weight", "70 kg", 70.0)]),
    ("Height 66 inches. Wt: 80.5 kg.", [("height", "66 inches", 167.6), ("weight", "80.5 kg", 80.5)]),
    ("95% O2 saturation at rest.", [("spo2", "95", 95)]),
])
def test_entities_vital_forms(labeler, text, expected):
    assert found(labeler, text) == expected


@pytest.mark.parametrize("text", [
    "Strength is 5/5 in all extremities. Seen on 12/20/2008.",
    "R 16 was circled on the form.",
    "She reached a peak heart rate of 150 on the treadmill.",
    "She has lost weight, 20 pounds in a month. Birth weight 3.2 kg.",
    "Pulses 2+ bilaterally. The room temperature was 21 degrees.",
])
def test_entities_no_vitals_without_their_context(labeler, text):
    assert found(labeler, text) == []


def test_entities_medication_with_dose_route_frequency(labeler):
    text = "He takes Lipitor 20 mg p.o. daily and metoprolol tartrate 25 mg b.i.d. at home."
    spans = labeler.label(text)
    assert [(s.label, text[s.start:s.end], s.attrs["value"], s.attrs["group"]) for s in spans] == [
        ("medication", "Lipitor", "lipitor", 0),
        ("medication_dose", "20 mg", {"amount": 20.0, "unit": "mg"}, 0),
        ("medication_route", "p.o.", "oral", 0),
        ("medication_frequency", "daily", "once daily", 0),
        ("medication", "metoprolol tartrate", "metoprolol tartrate", 1),
        ("medication_dose", "25 mg", {"amount": 25.0, "unit": "mg"}, 1),
        ("medication_frequency", "b.i.d.", "twice daily", 1),
    ]
    assert [s.attrs["negated"] for s in spans if s.label == "medication"] == [False, False]


@pytest.mark.parametrize("text, expected", [
    ("Tylenol 325 mg 1-2 tablets q.4-6h. p.r.n. for pain.",
     [("medication", "Tylenol", "tylenol"), ("medication_dose", "325 mg", {"amount": 325.0, "unit": "mg"}),
      ("medication_frequency", "q.4-6h. p.r.n.", "every 4-6 hours as needed")]),
    ("Insulin glargine 10 units subcutaneously at bedtime.",
     [("medication", "Insulin glargine", "insulin glargine"),
      ("medication_dose", "10 units", {"amount": 10.0, "unit": "unit"}),
      ("medication_route", "subcutaneously", "subcutaneous"),
      ("medication_frequency", "at bedtime", "at bedtime")]),
    ("Albuterol 2 puffs inhaled every 6 hours as needed.",
     [("medication", "Albuterol", "albuterol"), ("medication_dose", "2 puffs", {"amount": 2.0, "unit": "puff"}),
      ("medication_route", "inhaled", "inhaled"),
      ("medication_frequency", "every 6 hours as needed", "every 6 hours as needed")]),
    ("Continue Coumadin 5 mg PO QHS.",
     [("medication", "Coumadin", "coumadin"), ("medication_dose", "5 mg", {"amount": 5.0, "unit": "mg"}),
      ("medication_route", "PO", "oral"), ("medication_frequency", "QHS", "at bedtime")]),
    ("Lovenox 1 mg per kg subq twice a day.", [("medication", "Lovenox", "lovenox")]),
    ("1.  Seroquel 100 mg, 1 p.o. b.i.d.",
     [("medication", "Seroquel", "seroquel"), ("medication_dose", "100 mg", {"amount": 100.0, "unit": "mg"}),
      ("medication_route", "p.o.", "oral"), ("medication_frequency", "b.i.d.", "twice daily")]),
    ("He was given 100 mg of Demerol and IV Cipro.",
     [("medication_dose", "100 mg", {"amount": 100.0, "unit": "mg"}), ("medication", "Demerol", "demerol"),
      ("medication_route", "IV", "intravenous"), ("medication", "Cipro", "cipro")]),
    ("She received 1 g Ancef and 10 mL of 0.25% Marcaine.",
     [("medication_dose", "1 g", {"amount": 1.0, "unit": "g"}), ("medication", "Ancef", "ancef"),
      ("medication_dose", "10 mL", {"amount": 10.0, "unit": "mL"}),
      ("medication", "Marcaine", "marcaine")]),
    ("Aspirin 81 mg Lipitor 20 mg daily.",                     # 81 mg stays aspirin's
     [("medication", "Aspirin", "aspirin"), ("medication_dose", "81 mg", {"amount": 81.0, "unit": "mg"}),
      ("medication", "Lipitor", "lipitor"), ("medication_dose", "20 mg", {"amount": 20.0, "unit": "mg"}),
      ("medication_frequency", "daily", "once daily")]),
])
def test_entities_medication_sig_forms(labeler, text, expected):
    assert found(labeler, text) == expected


def test_entities_a_part_after_one_name_and_before_the_next_goes_to_the_first(labeler):
    text = "Lasix 20 mg IV Demerol"
    assert [(s.label, text[s.start:s.end], s.attrs["group"]) for s in labeler.label(text)] == [
        ("medication", "Lasix", 0), ("medication_dose", "20 mg", 0), ("medication_route", "IV", 0),
        ("medication", "Demerol", 1)]


@pytest.mark.parametrize("text", [
    "She takes antibiotics and pain medications.",
    "Non-insulin-dependent diabetes mellitus.",
    "Dilantin level was 12 and he goes to the Coumadin clinic.",
])
def test_entities_no_medication_for_classes_and_non_drug_uses(labeler, text):
    assert found(labeler, text) == []


def test_entities_negation_from_context(labeler):
    text = ("She denies any allergy to penicillin. He is allergic to sulfa drugs and latex. "
            "He is not on aspirin. Lidocaine without epinephrine was used. "
            "There was no bleeding, and 5 mL of 1% lidocaine was injected.")
    spans = labeler.label(text)
    assert [(s.label, text[s.start:s.end], s.attrs.get("negated")) for s in spans] == [
        ("allergen", "penicillin", True),
        ("allergen", "sulfa drugs", False),
        ("allergen", "latex", False),
        ("medication", "aspirin", True),
        ("medication", "Lidocaine", False),
        ("medication", "epinephrine", True),
        ("medication_dose", "5 mL", None),           # a volume of a 1% solution is its dose
        ("medication", "lidocaine", False),
    ]


def test_entities_negation_stops_at_a_header(labeler):
    text = "REVIEW OF SYSTEMS: Denies fever, chills,MEDICATIONS: , Aspirin 81 mg daily."
    aspirin = [s for s in labeler.label(text) if s.label == "medication"]
    assert [(text[s.start:s.end], s.attrs["negated"]) for s in aspirin] == [("Aspirin", False)]


def test_entities_no_known_allergies_is_not_negated(labeler):
    text = "ALLERGIES: No known drug allergies. Also NKDA per the chart."
    spans = labeler.label(text)
    assert [(text[s.start:s.end], s.attrs["value"], s.attrs["negated"]) for s in spans] == [
        ("No known drug allergies", "no known allergies", False),
        ("NKDA", "no known allergies", False),
    ]


def test_entities_sections_give_lists_their_meaning(labeler):
    text = ("MEDICATIONS: 1. Zorbimab 20 mg daily. 2. Lasix 40 mg p.o. q.d.\n"
            "ALLERGIES: Sulfa, aspirin and shellfish.\nSOCIAL HISTORY: Quit smoking.")
    sections = [section(text, "medications", "MEDICATIONS:", "ALLERGIES:"),
                section(text, "allergies", "ALLERGIES:", "SOCIAL HISTORY:")]
    assert found(labeler, text, sections) == [
        ("medication", "Zorbimab", "zorbimab"),
        ("medication_dose", "20 mg", {"amount": 20.0, "unit": "mg"}),
        ("medication_frequency", "daily", "once daily"),
        ("medication", "Lasix", "lasix"),
        ("medication_dose", "40 mg", {"amount": 40.0, "unit": "mg"}),
        ("medication_route", "p.o.", "oral"),
        ("medication_frequency", "q.d.", "once daily"),
        ("allergen", "Sulfa", "sulfa"),
        ("allergen", "aspirin", "aspirin"),
        ("allergen", "shellfish", "shellfish"),
    ]
    # Without sections the unknown name is left alone and aspirin reads as a drug taken.
    assert found(labeler, text, labels={"medication", "allergen"}) == [
        ("medication", "Lasix", "lasix"), ("medication", "aspirin", "aspirin")]


def test_entities_none_as_the_whole_allergies_section(labeler):
    text = "ALLERGIES: None.\nMEDICATIONS: None."
    allergies = section(text, "allergies", "ALLERGIES:", "MEDICATIONS:")
    assert found(labeler, text, [allergies]) == [("allergen", "None", "no known allergies")]
    assert found(labeler, text) == []


def test_entities_offsets_are_str_indices_after_unicode(labeler):
    text = "Zoë Ångström — “45-year-old man”, BP 120/80 😀, on aspirin 81 mg daily."
    spans = labeler.label(text)
    assert [(s.label, s.start, text[s.start:s.end]) for s in spans] == [
        ("age", text.index("45-year-old"), "45-year-old"),
        ("sex", text.index("man"), "man"),
        ("bp_systolic", text.index("120"), "120"),
        ("bp_diastolic", text.index("80 "), "80"),
        ("medication", text.index("aspirin"), "aspirin"),
        ("medication_dose", text.index("81 mg"), "81 mg"),
        ("medication_frequency", text.index("daily"), "daily"),
    ]


def test_entities_units_from_the_schema(labeler):
    text = "A 45-year-old woman, BP 120/80, pulse 70, RR 14, temp 37.0 C, SpO2 99%, 60 kg weight."
    units = {s.label: s.attrs.get("unit") for s in labeler.label(text)}
    assert units == {"age": "years", "sex": None, "bp_systolic": "mmHg", "bp_diastolic": "mmHg",
                     "heart_rate": "/min", "resp_rate": "/min", "temperature": "Cel", "spo2": "%"}


def test_entities_spans_never_overlap(labeler):
    text = ("HPI: 70 y/o F on Tylenol with Codeine 1 tablet q.6h. p.r.n. and Toprol-XL 50 mg daily. "
            "Vitals: T 98.2, P 70, R 18, BP 130/70. Allergic to codeine and penicillin.") * 3
    spans = labeler.label(text)
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    groups = [s.attrs["group"] for s in spans if s.label == "medication"]
    assert groups == list(range(len(groups)))


def test_entities_only_the_schemas_fields(schema):
    raw = schema.model_dump()
    raw["entities"] = {name: raw["entities"][name] for name in ("age", "sex")}
    small = EntityLabeler(Schema.model_validate(raw))
    text = "A 45-year-old man, BP 120/80, on aspirin."
    assert {s.label for s in small.label(text)} == {"age", "sex"}


def test_entities_label_prints_and_logs_nothing(labeler, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    labeler.label("The patient is a 45-year-old man, not on aspirin. BP 120/80.")
    out, err = capfd.readouterr()
    assert (out, err, caplog.records) == ("", "", [])
