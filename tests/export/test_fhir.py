import base64
import copy
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from chartlnn.export.fhir import assessment_items, chart_to_bundle

NOTE = "Chest pain. A 45-year-old male. BP 120/80. Lisinopril 10 mg PO BID. NKDA."


def _mention(start, text, value, unit=None):
    return {"start": start, "end": start + len(text), "text": text, "value": value, "unit": unit,
            "confidence": 0.9}


def _span(start, text):
    return {"start": start, "end": start + len(text), "text": text, "confidence": 0.9}


CHART = {
    "chart_version": "1", "note_id": "n1",
    "model": {"name": "liquid-small", "encoder": "liquid", "schema": "default",
              "chartlnn_version": "0.1.0"},
    "note_type": {"value": "hp_consult", "confidence": 0.91},
    "sections": {"chief_complaint": [_span(0, "Chest pain")],
                 "vital_signs": [_span(40, "BP 120/80, T 37.0 <normal>")],
                 "assessment": [_span(300, "1. Hypertension.\n2) Type 2 diabetes mellitus.")]},
    "entities": {
        "age": [_mention(15, "45-year-old", 45.0, "years")],
        "sex": [_mention(27, "male", "male")],
        "bp_systolic": [_mention(80, "120", 120, "mmHg"), _mention(90, "1x0", None, "mmHg")],
        "bp_diastolic": [_mention(84, "80", 80, "mmHg"), _mention(94, "70", 70, "mmHg")],
        "heart_rate": [_mention(60, "72", 72, "/min"), _mention(64, "fast", None, "/min")],
        "temperature": [_mention(70, "37.0", 37.0, "Cel")],
        "medication": [_mention(100, "Lisinopril", "lisinopril")],
        "allergen": [_mention(140, "NKDA", "no known allergies")],
    },
    "medications": [{"name": "lisinopril", "dose": {"amount": 10.0, "unit": "mg"}, "route": "oral",
                     "frequency": "twice daily", "start": 100, "end": 130, "confidence": 0.9}],
    "phi": {"DATE": 1},
}


def _resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codes(concept):
    return [(c["system"], c["code"]) for c in concept.get("coding", [])]


@pytest.fixture(scope="module")
def bundle():
    return chart_to_bundle(CHART)


def test_fhir_bundle_reparses_as_r4b(bundle):
    assert Bundle.model_validate(bundle).type == "collection"


def test_fhir_bp_pairs_in_note_order_and_skips_null_values(bundle):
    panels = [o for o in _resources(bundle, "Observation")
              if ("http://loinc.org", "85354-9") in _codes(o["code"])]
    first, second = ([_codes(c["code"])[0][1] for c in p["component"]] for p in panels)
    assert (first, second) == (["8480-6", "8462-4"], ["8462-4"])
    quantity = panels[0]["component"][0]["valueQuantity"]
    assert (quantity["value"], quantity["system"], quantity["code"]) == (
        120, "http://unitsofmeasure.org", "mm[Hg]")


def test_fhir_vitals_in_ucum_and_null_values_skipped(bundle):
    by_code = {_codes(o["code"])[0][1]: o for o in _resources(bundle, "Observation")}
    assert by_code["8310-5"]["valueQuantity"]["code"] == "Cel"
    assert by_code["8310-5"]["category"][0]["coding"][0]["code"] == "vital-signs"
    assert by_code["30525-0"]["valueQuantity"]["code"] == "a"
    heart_rates = [o for o in _resources(bundle, "Observation")
                   if _codes(o["code"])[0][1] == "8867-4"]
    assert len(heart_rates) == 1


def test_fhir_medication_dosage(bundle):
    (statement,) = _resources(bundle, "MedicationStatement")
    (dosage,) = statement["dosage"]
    assert statement["status"] == "unknown"
    assert statement["medicationCodeableConcept"]["text"] == "lisinopril"
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": 10.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert (dosage["route"]["text"], dosage["timing"]["code"]["text"]) == ("oral", "twice daily")


def test_fhir_no_known_allergies_is_snomed(bundle):
    (allergy,) = _resources(bundle, "AllergyIntolerance")
    assert _codes(allergy["code"]) == [("http://snomed.info/sct", "716186003")]


def test_fhir_assessment_items_become_conditions(bundle):
    conditions = _resources(bundle, "Condition")
    assert [c["code"]["text"] for c in conditions] == ["Hypertension", "Type 2 diabetes mellitus"]


def test_fhir_assessment_items_fall_back_to_lines_then_sentences():
    assert assessment_items("Stable angina\n\nGERD") == ["Stable angina", "GERD"]
    assert assessment_items("Stable angina. GERD, mild.") == ["Stable angina", "GERD, mild"]


def test_fhir_output_is_deterministic(bundle):
    assert chart_to_bundle(copy.deepcopy(CHART)) == bundle
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])


def test_fhir_every_derived_resource_leads_back_to_the_note(bundle):
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    note = urls["DocumentReference"]
    (provenance,) = _resources(bundle, "Provenance")
    assert provenance["entity"][0]["what"]["reference"] == note
    targets = {t["reference"] for t in provenance["target"]}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in {"DocumentReference", "Provenance", "Device"}:
            continue
        assert entry["fullUrl"] in targets
        sources = resource.get("derivedFrom", []) + [
            d for e in resource.get("evidence", []) for d in e["detail"]]
        assert all(s["reference"] == note for s in sources)


def test_fhir_composition_sections_coded_and_escaped(bundle):
    (composition,) = _resources(bundle, "Composition")
    sections = {s["code"]["coding"][0]["code"]: s for s in composition["section"]}
    assert composition["status"] == "preliminary"
    assert _codes(composition["type"]) == [("http://loinc.org", "34117-2")]
    assert set(sections) == {"10154-3", "8716-3", "51848-0"}
    assert "&lt;normal&gt;" in sections["8716-3"]["text"]["div"]
    assert len(sections["51848-0"]["entry"]) == 2


def test_fhir_note_text_only_when_given(bundle):
    (document,) = _resources(bundle, "DocumentReference")
    assert "data" not in document["content"][0]["attachment"]
    assert NOTE not in json.dumps(bundle)
    with_text = chart_to_bundle(CHART, note_text=NOTE)
    (document,) = _resources(with_text, "DocumentReference")
    assert base64.b64decode(document["content"][0]["attachment"]["data"]).decode() == NOTE
    assert document["identifier"] == [{"value": "n1"}]


def test_fhir_patient_placeholder_or_reference(bundle):
    (patient,) = _resources(bundle, "Patient")
    assert patient == {"resourceType": "Patient", "gender": "male"}
    referenced = chart_to_bundle(CHART, patient_reference="Patient/7")
    assert not _resources(referenced, "Patient")
    assert _resources(referenced, "Condition")[0]["subject"] == {"reference": "Patient/7"}


def test_fhir_empty_chart_gives_minimal_bundle():
    empty = {**CHART, "note_id": None, "note_type": None, "sections": {}, "entities": {},
             "medications": []}
    bundle = chart_to_bundle(empty)
    Bundle.model_validate(bundle)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["Composition", "Device", "DocumentReference", "Patient", "Provenance"]
