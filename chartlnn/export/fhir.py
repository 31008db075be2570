"""Chart → one FHIR Bundle, validated by ``fhir.resources`` before it is returned.

FHIR version: **R4B (4.3.0)**, from ``fhir.resources.R4B``. No release of ``fhir.resources``
that runs on pydantic 2 ships R4 (4.0.1) models: 6.1 and earlier (the last with R4) use the
pydantic 1 API, and 7.x / 8.x ship R5 (default), R4B and STU3. R4B changed none of the
resources used here (Bundle, DocumentReference, Device, Patient, Composition, Observation,
MedicationStatement, AllergyIntolerance, Condition, Provenance), so the output is valid R4 JSON.
``fhir.resources`` checks structure and cardinality, not value sets, so every code below is
chosen from the R4 value set by hand.

Bundle type "collection", not "document": a document bundle is an attested, immutable record
that needs its own identifier and timestamp; this one is a machine reading of a note
(Composition status "preliminary"), and a timestamp would make reruns differ. Every fullUrl is a
``urn:uuid:`` from uuid5(note id, resource key), so the same chart gives the same bundle and
batch exports are idempotent. For the same reason the two timestamps FHIR requires
(Composition.date, Provenance.recorded) carry a data-absent-reason extension instead of a value:
a chart records no time.

Trail back to the note: a DocumentReference stands for it (the text inside only when the caller
passes it); Observations and MedicationStatements name it in ``derivedFrom``, Conditions in
``evidence.detail``, and one Provenance lists every derived resource as target, with the note as
source entity and the model (a Device) as agent.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
import uuid
from typing import Any, NamedTuple

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from chartlnn.normalize import NO_KNOWN_ALLERGIES
from chartlnn.schema import validate_chart

Resource = dict[str, Any]
"""A FHIR resource (or element) as a JSON-ready dict."""

_LOINC = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"
_SNOMED = "http://snomed.info/sct"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://chartlnn.dev/fhir")
_DATA_ABSENT = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                               "valueCode": "unknown"}]}

_VITAL_SIGNS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs", "display": "Vital Signs"}]}
_ENCOUNTER_DIAGNOSIS = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
    "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}
_UNCONFIRMED = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "unconfirmed", "display": "Unconfirmed"}]}
"""Why not "provisional" or "confirmed": neither the model nor the item split can tell a settled
diagnosis from a "rule out"; "unconfirmed" is the parent code that claims only that much."""
_ALLERGY_ACTIVE = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
    "code": "active", "display": "Active"}]}
_NO_KNOWN_ALLERGY = {"system": _SNOMED, "code": "716186003", "display": "No known allergy"}

_NOTE_TYPES = {
    "hp_consult": ("34117-2", "History and physical note"),
    "progress_soap": ("11506-3", "Progress note"),
    "discharge_summary": ("18842-5", "Discharge summary"),
    "operative_procedure": ("28570-0", "Procedure note"),
    "radiology": ("18748-4", "Diagnostic imaging study"),
    "emergency": ("34111-5", "Emergency department note"),
    "letter": ("51852-2", "Letter"),
}
"""Note type → LOINC document type; "other", null and unknown types get the generic "Note"."""
_ANY_NOTE = ("34109-9", "Note")

_SECTIONS = {
    "chief_complaint": ("10154-3", "Chief complaint Narrative - Reported"),
    "history_of_present_illness": ("10164-2", "History of Present illness Narrative"),
    "past_medical_history": ("11348-0", "History of Past illness Narrative"),
    "past_surgical_history": ("47519-4", "History of Procedures Document"),
    "medications": ("10160-0", "History of Medication use Narrative"),
    "allergies": ("48765-2", "Allergies and adverse reactions Document"),
    "social_history": ("29762-2", "Social history Narrative"),
    "family_history": ("10157-6", "History of family member diseases Narrative"),
    "review_of_systems": ("10187-3", "Review of systems Narrative - Reported"),
    "vital_signs": ("8716-3", "Vital signs"),
    "physical_exam": ("29545-1", "Physical findings Narrative"),
    "results": ("30954-2", "Relevant diagnostic tests/laboratory data Narrative"),
    "assessment": ("51848-0", "Evaluation note"),
    "plan": ("18776-5", "Plan of care note"),
    "procedure": ("29554-3", "Procedure Narrative"),
    "hospital_course": ("8648-8", "Hospital course Narrative"),
}
"""Section field → LOINC section code; another schema's field gets a titled section, no code."""


class _Measure(NamedTuple):
    codes: tuple[tuple[str, str], ...]
    ucum: str
    unit: str
    vital: bool


_MEASURES = {
    "heart_rate": _Measure((("8867-4", "Heart rate"),), "/min", "/min", True),
    "resp_rate": _Measure((("9279-1", "Respiratory rate"),), "/min", "/min", True),
    "temperature": _Measure((("8310-5", "Body temperature"),), "Cel", "Cel", True),
    "spo2": _Measure((("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                      ("2708-6", "Oxygen saturation in Arterial blood")), "%", "%", True),
    "weight": _Measure((("29463-7", "Body weight"),), "kg", "kg", True),
    "height": _Measure((("8302-2", "Body height"),), "cm", "cm", True),
    "age": _Measure((("30525-0", "Age"),), "a", "years", False),
}
"""Numeric entity field → its Observation. Values are already in the chart schema's unit.
SpO2 also carries 2708-6, the code the base R4 vital-signs profile asks for. Age is an
Observation, not Patient.birthDate: a chart has no date to count back from."""
_BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
_BP_PARTS = {"bp_systolic": ("8480-6", "Systolic blood pressure"),
             "bp_diastolic": ("8462-4", "Diastolic blood pressure")}
_DOSE_UCUM = {"mg": "mg", "mcg": "ug", "g": "g", "mL": "mL", "IU": "[IU]", "mEq": "meq"}
"""Dose units that have a UCUM code; others (tablet, puff, unit, ...) stay as text only."""
_GENDERS = {"male", "female"}


def chart_to_bundle(chart: dict[str, Any], *, note_text: str | None = None,
                    patient_reference: str | None = None) -> dict[str, Any]:
    """One FHIR R4B "collection" Bundle for ``chart`` as a JSON-ready dict.

    ``note_text`` goes (base64) into the DocumentReference only when given. With
    ``patient_reference`` (e.g. "Patient/123") every resource points at that patient and the
    note's sex is left out, since the referenced record owns demographics; without it a
    placeholder Patient with no identifiers carries the sex. Raises ``ChartInvalid`` for a chart
    that breaks the chart schema.
    """
    validate_chart(chart)
    urn = functools.partial(_urn, _note_key(chart))
    entities = chart["entities"]
    source = {"reference": urn("source")}
    device = {"reference": urn("device"), "display": chart["model"]["name"]}
    patient = {"reference": patient_reference or urn("patient")}
    kind = _NOTE_TYPES.get((chart["note_type"] or {}).get("value"), _ANY_NOTE)

    resources = {urn("source"): _document_reference(chart["note_id"], note_text, kind, patient),
                 urn("device"): _device(chart["model"])}
    derived: list[str] = []
    if patient_reference is None:
        resources[urn("patient")] = _patient(entities)
        derived.append(urn("patient"))
    by_key = {  # keys that name a section field also become that section's entries
        "vital_signs": _vital_signs(entities, patient, source),
        "medications": [_medication_statement(med, patient, source)
                        for med in chart["medications"] if med["name"]],
        "allergies": [_allergy(allergen, patient) for allergen in
                      dict.fromkeys(m["value"] for m in _mentions(entities, "allergen"))],
        "assessment": [_condition(item, patient, source)
                       for span in chart["sections"].get("assessment", [])
                       for item in assessment_items(span["text"])],
        "age": [_measure("age", m["value"], patient, source) for m in _mentions(entities, "age")],
    }
    entries: dict[str, list[str]] = {}
    for key, found in by_key.items():
        entries[key] = [urn(f"{key}/{i}") for i in range(len(found))]
        resources.update(zip(entries[key], found))
        derived += entries[key]
    resources[urn("composition")] = _composition(chart["sections"], entries, kind, patient, device)
    derived.append(urn("composition"))
    resources[urn("provenance")] = _provenance(derived, source, device)
    return _validated({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"fullUrl": url, "resource": r} for url, r in resources.items()]})


def assessment_items(text: str) -> list[str]:
    """The separate problems in an assessment span: its numbered items ("1." / "2)" at line
    start, continuation lines joined, text before the first number dropped as a lead-in), else
    its lines, else its sentences; numbering and trailing ".;," stripped, empties skipped."""
    if _NUMBERED.search(text):
        pieces = _NUMBERED.split(text)[1:]
    elif len(lines := [line for line in text.splitlines() if line.strip()]) > 1:
        pieces = lines
    else:
        pieces = _SENTENCE_END.split(text)
    items = (" ".join(piece.split()).rstrip(".;,").strip() for piece in pieces)
    return [item for item in items if item]


_NUMBERED = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]+", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _urn(note_key: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{note_key}/{key}')}"


def _note_key(chart: dict[str, Any]) -> str:
    """The note id, or for a chart without one a digest of the chart, so that two id-less notes
    in one export never share fullUrls."""
    if chart["note_id"] is not None:
        return f"id:{chart['note_id']}"
    canonical = json.dumps(chart, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return f"sha256:{hashlib.sha256(canonical).hexdigest()}"


def _mentions(entities: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """The field's mentions with a value, in note order."""
    return sorted((m for m in entities.get(field, []) if m["value"] is not None),
                  key=lambda m: (m["start"], m["end"]))


def _loinc(codes: tuple[tuple[str, str], ...]) -> Resource:
    return {"coding": [{"system": _LOINC, "code": code, "display": display}
                       for code, display in codes], "text": codes[0][1]}


def _quantity(value: float, ucum: str, unit: str) -> Resource:
    return {"value": value, "unit": unit, "system": _UCUM, "code": ucum}


def _document_reference(note_id: str | None, note_text: str | None, kind: tuple[str, str],
                        patient: Resource) -> Resource:
    attachment: Resource = {"contentType": "text/plain; charset=utf-8"}
    if note_text is not None:
        attachment["data"] = base64.b64encode(note_text.encode("utf-8")).decode("ascii")
    document = {"resourceType": "DocumentReference", "status": "current", "type": _loinc((kind,)),
                "subject": patient, "content": [{"attachment": attachment}]}
    if note_id is not None:
        document["identifier"] = [{"value": note_id}]
    return document


def _device(model: dict[str, Any]) -> Resource:
    return {"resourceType": "Device", "type": {"text": f"chartlnn {model['encoder']} model"},
            "deviceName": [{"name": model["name"], "type": "model-name"}],
            "version": [{"type": {"text": "chartlnn"}, "value": model["chartlnn_version"]}]}


def _patient(entities: dict[str, Any]) -> Resource:
    """A placeholder with no identifiers: the note's first stated sex as gender, if any."""
    patient: Resource = {"resourceType": "Patient"}
    sexes = [m["value"] for m in _mentions(entities, "sex") if m["value"] in _GENDERS]
    if sexes:
        patient["gender"] = sexes[0]
    return patient


def _observation(code: Resource, patient: Resource, source: Resource, vital: bool,
                 **value: Any) -> Resource:
    observation = {"resourceType": "Observation", "status": "final", "code": code,
                   "subject": patient, "derivedFrom": [source], **value}
    if vital:
        observation["category"] = [_VITAL_SIGNS]
    return observation


def _measure(field: str, value: float, patient: Resource, source: Resource) -> Resource:
    measure = _MEASURES[field]
    return _observation(_loinc(measure.codes), patient, source, measure.vital,
                        valueQuantity=_quantity(value, measure.ucum, measure.unit))


def _vital_signs(entities: dict[str, Any], patient: Resource, source: Resource) -> list[Resource]:
    """Blood-pressure panels, then the other vitals, each in note order. The i-th systolic
    mention pairs with the i-th diastolic (before dropping null values, so a lost reading never
    shifts the pairing); a lone or half-null reading makes a one-component panel."""
    readings = {field: sorted(entities.get(field, []), key=lambda m: (m["start"], m["end"]))
                for field in _BP_PARTS}
    panels: list[Resource] = []
    for i in range(max(len(found) for found in readings.values())):
        components = [{"code": _loinc((_BP_PARTS[field],)),
                       "valueQuantity": _quantity(found[i]["value"], "mm[Hg]", "mmHg")}
                      for field, found in readings.items()
                      if i < len(found) and found[i]["value"] is not None]
        if components:
            panels.append(_observation(_loinc((_BP_PANEL,)), patient, source, True,
                                       component=components))
    return panels + [_measure(field, m["value"], patient, source)
                     for field, measure in _MEASURES.items() if measure.vital
                     for m in _mentions(entities, field)]


def _medication_statement(med: dict[str, Any], patient: Resource, source: Resource) -> Resource:
    """Status "unknown": the note names the drug, which does not say it is still taken."""
    dosage: Resource = {}
    said: list[str] = []
    if med["dose"] is not None:
        amount, unit = med["dose"]["amount"], med["dose"]["unit"]
        quantity = ({"value": amount, "unit": unit, "system": _UCUM, "code": _DOSE_UCUM[unit]}
                    if unit in _DOSE_UCUM else {"value": amount, "unit": unit})
        dosage["doseAndRate"] = [{"doseQuantity": quantity}]
        said.append(f"{amount:g} {unit}")
    if med["route"] is not None:
        dosage["route"] = {"text": med["route"]}
        said.append(med["route"])
    if med["frequency"] is not None:
        dosage["timing"] = {"code": {"text": med["frequency"]}}
        said.append(med["frequency"])
    statement = {"resourceType": "MedicationStatement", "status": "unknown",
                 "medicationCodeableConcept": {"text": med["name"]}, "subject": patient,
                 "derivedFrom": [source]}
    if said:
        statement["dosage"] = [{"text": " ".join(said), **dosage}]
    return statement


def _allergy(allergen: str, patient: Resource) -> Resource:
    """Clinical status "active": the note states the allergy (or its absence) as current."""
    code = ({"coding": [_NO_KNOWN_ALLERGY], "text": allergen} if allergen == NO_KNOWN_ALLERGIES
            else {"text": allergen})
    return {"resourceType": "AllergyIntolerance", "clinicalStatus": _ALLERGY_ACTIVE, "code": code,
            "patient": patient}


def _condition(item: str, patient: Resource, source: Resource) -> Resource:
    return {"resourceType": "Condition", "verificationStatus": _UNCONFIRMED,
            "category": [_ENCOUNTER_DIAGNOSIS], "code": {"text": item}, "subject": patient,
            "evidence": [{"detail": [source]}]}


def _composition(sections: dict[str, list[dict[str, Any]]], entries: dict[str, list[str]],
                 kind: tuple[str, str], patient: Resource, device: Resource) -> Resource:
    """Status "preliminary" (a model wrote it, no clinician attested it); one section per
    non-empty section field, its spans as narrative, its derived resources as entries."""
    composition = {"resourceType": "Composition", "status": "preliminary", "type": _loinc((kind,)),
                   "subject": patient, "_date": _DATA_ABSENT, "author": [device], "title": kind[1]}
    found = [_section(name, spans, entries.get(name, [])) for name, spans in sections.items()
             if spans]
    if found:
        composition["section"] = found
    return composition


def _section(name: str, spans: list[dict[str, Any]], entries: list[str]) -> Resource:
    paragraphs = "".join(f"<p>{_xhtml(span['text'])}</p>" for span in spans)
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'
    section: Resource = {"title": name.replace("_", " ").capitalize(),
                         "text": {"status": "generated", "div": div}}
    if name in _SECTIONS:
        section["code"] = _loinc((_SECTIONS[name],))
    if entries:
        section["entry"] = [{"reference": url} for url in entries]
    return section


def _xhtml(text: str) -> str:
    """Span text as paragraph content: escaped, XML-illegal control characters dropped, line
    breaks kept."""
    return html.escape(_XML_INVALID.sub("", text)).replace("\n", "<br/>")


def _provenance(targets: list[str], source: Resource, device: Resource) -> Resource:
    return {"resourceType": "Provenance", "target": [{"reference": url} for url in targets],
            "_recorded": _DATA_ABSENT, "agent": [{"who": device}],
            "entity": [{"role": "derivation", "what": source}]}


def _validated(bundle: Resource) -> dict[str, Any]:
    """Round-trip through the R4B models, so an invalid bundle raises here and not downstream.
    The message names the place only: pydantic's own would quote the value, maybe note text."""
    try:
        model = Bundle.model_validate(bundle)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"FHIR bundle fails R4B validation at {where}: {first['msg']} "
                         "(a chartlnn bug: please report it)") from None
    return model.model_dump(mode="json", exclude_none=True)
