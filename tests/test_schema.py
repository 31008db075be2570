import pytest

from chartlnn.schema import DEFAULT_SCHEMA, SchemaError, load_schema, normalize_header

SECTIONS = ["chief_complaint", "history_of_present_illness", "past_medical_history",
            "past_surgical_history", "medications", "allergies", "social_history", "family_history",
            "review_of_systems", "vital_signs", "physical_exam", "results", "assessment", "plan",
            "procedure", "hospital_course"]


def test_schema_default_has_the_chart_fields(schema):
    assert schema.section_names == SECTIONS
    assert {"age", "sex", "bp_systolic", "bp_diastolic", "heart_rate", "resp_rate", "temperature",
            "spo2", "weight", "height", "medication", "allergen"} <= set(schema.entity_names)
    assert schema.entities["medication_dose"].part_of == "medication"
    assert schema.entities["temperature"].unit == "Cel"
    assert "letter" in schema.documents["note_type"].classes


def test_schema_header_map_covers_mtsamples_variants(schema):
    headers = schema.header_map()
    assert headers["CURRENT MEDICATIONS"] == "medications"
    assert headers["PREOPERATIVE DIAGNOSIS"] == "assessment"
    assert headers["IMPRESSION"] == "assessment"
    assert headers["REASON FOR CONSULTATION"] == "chief_complaint"
    assert normalize_header("Postoperative  diagnosis(es)") == "POSTOPERATIVE DIAGNOSIS"
    assert normalize_header("Assessment / plan") == "ASSESSMENT/PLAN"
    assert schema.keyword_map()["TECHNIQUE"] == "procedure"


def test_schema_round_trips_through_yaml(schema, tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(schema.to_yaml())
    assert load_schema(path) == schema


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("  age:\n", "  Age:\n"), "lower_snake_case"),
    (lambda s: s.replace("part_of: medication", "part_of: drug", 1), "unknown entity 'drug'"),
    (lambda s: s.replace("headers: [ALLERGIES,", "headers: [CHIEF COMPLAINT, ALLERGIES,"), "maps to both"),
    (lambda s: s.replace("description: The kind of note.", "colour: blue"), "documents.note_type.colour"),
    (lambda s: s.replace("keywords: [PMH]", "keywords: [PMH, TECHNIQUE]"), "belongs to both"),
    (lambda s: s.replace("keywords: [PMH]", "keywords: [MEDICAL HISTORY]"), "must be one word"),
    (lambda s: s.replace("P: plan}", "P: planning}"), "letter_headers: 'P'"),
    (lambda s: s.replace("P: plan}", "PL: plan}"), "letter_headers: 'PL'"),
    (lambda s: s + "\n  bad: [", "not a readable YAML file"),
])
def test_schema_bad_file_gives_one_line_naming_the_file(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(DEFAULT_SCHEMA.read_text()))
    with pytest.raises(SchemaError, match=message) as err:
        load_schema(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_schema_missing_file(tmp_path):
    with pytest.raises(SchemaError, match="schema file not found"):
        load_schema(tmp_path / "nope.yaml")


def _broken_charts(chart):
    """One copy of ``chart`` per way of breaking it: wrong types, missing keys, extra keys,
    out-of-range numbers, in the top level, a section span and an entity mention."""
    import copy

    edits = [
        lambda c: c.pop("note_id"),
        lambda c: c.update(extra=1),
        lambda c: c.update(note_type=5),
        lambda c: c["sections"]["plan"][0].update(confidence="high"),
        lambda c: c["sections"]["plan"][0].update(start=-1),
        lambda c: c["sections"]["plan"][0].pop("end"),
        lambda c: c["entities"]["age"][0].update(confidence=1.5),
        lambda c: c["entities"]["age"][0].update(colour="red"),
        lambda c: c.update(medications="none"),
        lambda c: c["model"].pop("name"),
    ]
    for edit in edits:
        broken = copy.deepcopy(chart)
        edit(broken)
        yield broken


def test_the_compiled_chart_check_agrees_with_the_reference_validator():
    from chartlnn.inference.decode import FieldSpan, build_chart, model_info
    from chartlnn.schema import ChartInvalid, _chart_validator, validate_chart

    text = "Plan: rest. 45-year-old man."
    chart = build_chart(text, [FieldSpan(0, 11, "plan", 0.9)], [FieldSpan(12, 23, "age", 0.8)],
                        units={"age": "years"}, model=model_info("m", "liquid", "default"),
                        note_id="n")
    validate_chart(chart)
    assert not list(_chart_validator().iter_errors(chart))
    for broken in _broken_charts(chart):
        assert list(_chart_validator().iter_errors(broken))  # the reference refuses it ...
        with pytest.raises(ChartInvalid, match="fails the .* rule of the chart schema"):
            validate_chart(broken)  # ... and so does the compiled check, with the same message
