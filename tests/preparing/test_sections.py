import pytest

from chartlnn.preparing.sections import SectionLabeler


@pytest.fixture(scope="module")
def labeler(schema):
    return SectionLabeler(schema)


def _sections(labeler, text):
    spans, _ = labeler.label(text)
    return [(s.label, text[s.start:s.end], s.source) for s in spans]


def test_sections_from_upper_case_headers_without_header_words(labeler):
    text = ("CHIEF COMPLAINT: Chest pain.\n"
            "HISTORY OF PRESENT ILLNESS:  Pain for 2 days.\nWorse on exertion.\n"
            "CURRENT MEDICATIONS:\nAspirin 81 mg daily.\n")
    assert _sections(labeler, text) == [
        ("chief_complaint", "Chest pain.", "silver:header"),
        ("history_of_present_illness", "Pain for 2 days.\nWorse on exertion.", "silver:header"),
        ("medications", "Aspirin 81 mg daily.", "silver:header"),
    ]


def test_sections_body_system_subheaders_stay_inside_the_exam(labeler):
    text = ("PHYSICAL EXAMINATION:\nHEENT: Normal.\nNECK: Supple.\nLUNGS: Clear.\n"
            "ODD FINDING: none.\nIMPRESSION: Viral illness.")
    assert _sections(labeler, text) == [
        ("physical_exam", "HEENT: Normal.\nNECK: Supple.\nLUNGS: Clear.\nODD FINDING: none.",
         "silver:header"),
        ("assessment", "Viral illness.", "silver:header"),
    ]


def test_sections_other_and_unknown_headers_close_a_section(labeler):
    text = ("PREOPERATIVE DIAGNOSIS: Appendicitis.\nANESTHESIA: General.\n"
            "PROCEDURE: Appendectomy.\nSOMETHING NEW: text.\nPLAN: Home.")
    spans, headers = labeler.label(text)
    assert [(s.label, text[s.start:s.end]) for s in spans] == [
        ("assessment", "Appendicitis."), ("procedure", "Appendectomy."), ("plan", "Home.")]
    assert [h.kind for h in headers] == ["section", "other", "section", "unknown", "section"]
    assert all(h.removable for h in headers)


@pytest.mark.parametrize("header, field", [
    ("OPERATIVE INDICATIONS", "history_of_present_illness"),      # head noun last
    ("INDICATIONS FOR THE OPERATION", "history_of_present_illness"),  # head before the preposition
    ("DESCRIPTION OF TECHNIQUE", "procedure"),                    # no head keyword: its complement
    ("FINDINGS DURING THE PROCEDURE", "results"),
    ("PLAN / RECOMMENDATIONS", "plan"),                           # the first part that decides
    ("PERSONAL AND SOCIAL HISTORY", "social_history"),            # a listed header as a part
    ("REASON FOR CT SCAN", "chief_complaint"),
    ("PRIMARY MEDICAL HISTORY", "past_medical_history"),          # ends with a listed header
    ("PRIOR SURGICAL HISTORY", "past_surgical_history"),
])
def test_sections_unlisted_headers_open_the_section_of_their_head_keyword(labeler, header, field):
    text = f"HISTORY: Pain.\n{header}: Some text.\nANESTHESIA: General."
    spans, headers = labeler.label(text)
    assert [(s.label, text[s.start:s.end]) for s in spans] == [
        ("history_of_present_illness", "Pain."), (field, "Some text.")]
    assert [h.kind for h in headers] == ["section", "section", "other"]


def test_sections_unlisted_headers_inside_an_exam_stay_sub_headers(labeler):
    text = "PHYSICAL EXAMINATION: Alert.\nRECTAL EXAM FINDINGS: Normal.\nPLAN: Home."
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("physical_exam", "Alert.\nRECTAL EXAM FINDINGS: Normal."), ("plan", "Home.")]


@pytest.mark.parametrize("header, field", [
    ("IMAGING DATA", "results"),
    ("REVIEW OF X-RAYS", "results"),
    ("WORKING DIAGNOSIS", "assessment"),
    ("BIRTH/PAST MEDICAL HISTORY", "past_medical_history"),
])
def test_sections_a_header_naming_another_section_ends_a_container(labeler, header, field):
    text = f"REVIEW OF SYSTEMS: Negative.\nPHYSICAL EXAMINATION: Alert.\n{header}: Some text."
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("review_of_systems", "Negative."), ("physical_exam", "Alert."), (field, "Some text.")]


def test_sections_body_systems_named_like_sections_stay_in_the_review_of_systems(labeler):
    text = "REVIEW OF SYSTEMS: Negative.\nALLERGY/IMMUNOLOGIC: Negative.\nPLAN: Home."
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("review_of_systems", "Negative.\nALLERGY/IMMUNOLOGIC: Negative."), ("plan", "Home.")]


def test_sections_known_headers_in_title_case_and_plural_suffix(labeler):
    text = "Chief complaint: cough\nPostoperative diagnosis(es): Same.\nMeds: none"
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("chief_complaint", "cough"), ("assessment", "Same."), ("medications", "none")]


def test_sections_run_in_headers_after_a_sentence(labeler):
    text = "Seen today. ALLERGIES: NKDA. SOCIAL HISTORY: Nonsmoker."
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("allergies", "NKDA."), ("social_history", "Nonsmoker.")]


def test_sections_ignore_times_ratios_and_lower_case_colons(labeler):
    text = "Seen at 10:30 today. Ratio 1:100,000 used. Note: the patient is well."
    spans, headers = labeler.label(text)
    assert spans == [] and headers == []


def test_sections_empty_section_gives_no_span(labeler):
    assert _sections(labeler, "ALLERGIES:\nPLAN: Rest.") == [("plan", "Rest.", "silver:header")]


def test_sections_unicode_offsets(labeler):
    text = "Café visit — naïve.\nPLAN: Réassurance."
    ((label, body, _),) = _sections(labeler, text)
    assert (label, body) == ("plan", "Réassurance.")


def test_sections_known_header_alone_on_its_line_without_colon(labeler):
    text = "ALLERGIES: Sulfa.\nCURRENT MEDICATIONS\nLisinopril 10 mg daily.\nMEDICATIONS,: none"
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("allergies", "Sulfa."), ("medications", "Lisinopril 10 mg daily."), ("medications", "none")]


def test_sections_vitals_continue_as_exam_at_the_first_body_system(labeler):
    text = ("PHYSICAL EXAMINATION:\nVITAL SIGNS: BP 120/80.\nPulse: 70.\nHEENT: Normal.\n"
            "LUNGS: Clear.\nPLAN: Home.")
    spans, headers = labeler.label(text)
    assert [(s.label, text[s.start:s.end]) for s in spans] == [
        ("vital_signs", "BP 120/80.\nPulse: 70."),
        ("physical_exam", "HEENT: Normal.\nLUNGS: Clear."),
        ("plan", "Home.")]
    continued = [h for h in headers if h.kind == "section" and not h.removable]
    assert len(continued) == 1 and text[continued[0].start:continued[0].end] == "HEENT:"


def test_sections_soap_letters_open_sections_where_a_note_has_two_of_them(labeler):
    text = ("S:\nCough for a week.\nO: Lungs clear.\nP: 72\nA: Bronchitis.\n"
            "P: 1. Rest.\n2. Fluids.")
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("history_of_present_illness", "Cough for a week."),
        ("physical_exam", "Lungs clear.\nP: 72"),          # a pulse, not a plan
        ("assessment", "Bronchitis."), ("plan", "1. Rest.\n2. Fluids.")]


@pytest.mark.parametrize("text", [
    "A: Yes, every day.\nThe patient walks.",              # one letter alone: an answer
    "HISTORY: Cough.\nT: 98.6\nP: 88\nR: 16",                # vital signs written by letter
    "HISTORY: Cough.\ns: lower case is not a header\np: nor this",
])
def test_sections_single_letters_that_are_not_soap_headers(labeler, text):
    assert all(label != "plan" and label != "assessment" for label, _, _ in _sections(labeler, text))


def test_sections_closing_instructions_of_a_procedure_are_its_plan(labeler):
    text = ("PROCEDURE: The wound was closed. It will heal. Dressing applied to Dr. X's site.\n"
            "The patient was discharged home. She will follow up with Dr. X in one week.\n"
            "ANESTHESIA: General.")
    assert [s[:2] for s in _sections(labeler, text)] == [
        ("procedure", "The wound was closed. It will heal. Dressing applied to Dr. X's site."),
        ("plan", "The patient was discharged home. She will follow up with Dr. X in one week.")]


@pytest.mark.parametrize("body", [
    "The patient will follow up in one week.",                # nothing would stay procedure
    "She will follow up in one week. The wound was closed.",  # instructions not at the end
    "The drain was placed. This will be removed later.",      # "this will": not an instruction
])
def test_sections_procedure_bodies_that_keep_their_end(labeler, body):
    assert [s[0] for s in _sections(labeler, f"PROCEDURE: {body}")] == ["procedure"]


def test_sections_no_closing_plan_in_a_schema_without_a_plan_field(schema):
    sections = {name: sec for name, sec in schema.sections.items() if name != "plan"}
    labeler = SectionLabeler(schema.model_copy(update={"sections": sections, "letter_headers": {}}))
    text = "PROCEDURE: The wound was closed. She will follow up in one week."
    assert [s[0] for s in _sections(labeler, text)] == ["procedure"]
