"""The synthetic recipe: deterministic, varied notes whose gold spans follow the labelers' rules."""

import json
import re
from collections import Counter
from importlib.resources import files

import pytest

from chartlnn import deid
from chartlnn import normalize as norm
from chartlnn.preparing.entities import EntityLabeler
from chartlnn.schema import normalize_header
from data_recipes import recipe_options, synthetic

VITALS_AND_AGE = {"age", "bp_systolic", "bp_diastolic", "heart_rate", "resp_rate", "temperature", "spo2",
                  "weight", "height"}


@pytest.fixture(scope="module")
def notes():
    return list(synthetic.read(n=300, seed=0))


def _record(note):
    return note.id, note.text, note.patient_id, note.note_type, [s.to_dict() for s in note.spans], note.meta


def _sentences(text):
    """Sentences and list items, without list marks; header-only lines are left out."""
    pieces = re.split(r"(?<=[.!?])\s+(?=[A-Z])|\n+", text.replace("Dr. ", "Dr "))
    sentences = (re.sub(r"^\s*(?:\d+\.|-)\s*", "", piece).strip() for piece in pieces)
    return [s for s in sentences if s and not s.endswith(":")]


def test_recipe_synthetic_is_deterministic_and_prefix_stable(notes):
    assert [_record(n) for n in synthetic.read(n=300, seed=0)] == [_record(n) for n in notes]
    assert [_record(n) for n in synthetic.read(None, n=10, seed=0)] == [_record(n) for n in notes[:10]]
    other = list(synthetic.read(n=10, seed=1))
    assert all(a.text != b.text for a, b in zip(other, notes))
    assert recipe_options("synthetic") == {"n": 200, "seed": 0, "house": "us", "case": "mixed", "wrap": 0}


def test_recipe_synthetic_ids_patients_and_note_types(notes, schema):
    assert notes[0].id == "syn-000001" and len({n.id for n in notes}) == len(notes)
    per_patient = len(notes) / len({n.patient_id for n in notes})
    assert 1.3 <= per_patient <= 1.7
    types = Counter(n.note_type for n in notes)
    assert set(types) <= set(schema.documents["note_type"].classes)
    assert len(types) >= 7


def test_recipe_synthetic_spans_are_exact_and_never_overlap_within_a_family(notes, schema):
    for note in notes:
        for family in (schema.sections, schema.entities):
            spans = sorted((s for s in note.spans if s.label in family), key=lambda s: s.start)
            for a, b in zip(spans, spans[1:]):
                assert a.end <= b.start, (note.id, a, b)
        for span in note.spans:
            assert span.source == "gold"
            assert span.label in schema.sections or span.label in schema.entities
            assert 0 <= span.start < span.end <= len(note.text)
            text = note.text[span.start:span.end]
            assert text == text.strip(), (note.id, span.label, text)


def test_recipe_synthetic_header_spans_are_headers_outside_every_span(notes):
    for note in notes:
        headers = note.meta["header_spans"]
        if note.meta["header_style"] == "none":
            assert headers == []
        for start, end in headers:
            assert note.text[start:end].endswith(":") and ":" not in note.text[start:end - 1]
            assert not any(s.start < end and start < s.end for s in note.spans), (note.id, note.text[start:end])


def test_recipe_synthetic_entities_carry_normalized_values(notes, schema):
    negated = Counter()
    for note in notes:
        groups = Counter()
        for span in note.spans:
            if span.label not in schema.entities:
                continue
            text = note.text[span.start:span.end]
            assert span.attrs["value"] is not None, (note.id, span.label, text)
            assert span.attrs["value"] == norm.normalize(span.label, text)
            assert span.attrs.get("unit") == schema.entities[span.label].unit
            if span.label.startswith("medication"):
                groups[span.attrs["group"]] += span.label == "medication"
            if span.label in ("medication", "allergen"):
                negated[span.label, span.attrs["negated"]] += 1
        assert all(count == 1 for count in groups.values()), note.id
    assert negated["medication", True] and negated["allergen", True]
    assert negated["medication", False] > 10 * negated["medication", True]


def test_recipe_synthetic_house_style_writes_its_own_names_sigs_and_vitals(schema):
    """The same notes in the "uk" house style: other drug names, routes, frequencies and vital
    sign forms, each still an exact gold span with a value; an unknown style is one line."""
    uk = list(synthetic.read(n=300, seed=0, house="uk"))
    assert {note.meta["house_style"] for note in uk} == {"uk"}
    said = Counter()
    for note in uk:
        for span in note.spans:
            text = note.text[span.start:span.end]
            if span.label in schema.entities:
                assert span.attrs["value"] is not None, (note.id, span.label, text)
                assert span.attrs["value"] == norm.normalize(span.label, text)
            said[span.label, text] += 1
    assert said["medication", "paracetamol"] and not said["medication", "acetaminophen"]
    assert said["medication_frequency", "BD"] and not said["medication_frequency", "b.i.d."]
    assert {text for label, text in said if label == "medication_route"} <= {
        p for phrases in synthetic._HOUSE_STYLES["uk"]["routes"].values() for p in phrases}
    assert any("on air" in note.text for note in uk)
    with pytest.raises(synthetic.RecipeError, match="unknown house style 'fr'; choose from us, uk"):
        next(synthetic.read(n=1, house="fr"))


def test_recipe_synthetic_writes_whole_notes_in_one_case(notes):
    """The same notes, spans and values in upper or lower case: each character in its place."""
    for case, recase in (("upper", str.upper), ("lower", str.lower)):
        written = list(synthetic.read(n=50, seed=0, case=case))
        for note, original in zip(written, notes):
            assert note.text == recase(original.text) and note.meta["case"] == case
            assert note.spans == original.spans
    with pytest.raises(synthetic.RecipeError, match="unknown case 'title'; choose from mixed, upper, lower"):
        next(synthetic.read(n=1, case="title"))


def test_recipe_synthetic_breaks_long_lines_at_a_blank(notes):
    """``wrap=N``: no line over N characters unless it has no blank to break at; a blank became
    the newline, so the spans and everything else stay where they were."""
    wrapped = list(synthetic.read(n=50, seed=0, wrap=60))
    broke = 0
    for note, original in zip(wrapped, notes):
        assert len(note.text) == len(original.text) and note.spans == original.spans
        assert all(a == b or (a, b) == ("\n", " ") for a, b in zip(note.text, original.text))
        broke += note.text.count("\n") - original.text.count("\n")
        assert all(len(line) <= 61 or " " not in line[1:61] for line in note.text.split("\n"))
    assert broke > 100
    with pytest.raises(synthetic.RecipeError, match="wrap must be 0"):
        next(synthetic.read(n=1, wrap=5))


def test_recipe_synthetic_units_are_the_schema_units(schema):
    assert synthetic.UNITS == {name: f.unit for name, f in schema.entities.items() if f.unit}


def test_recipe_synthetic_vocabulary_file_loads_and_its_tables_hang_together():
    """The vocabularies are a package resource (so an installed wheel has them); an empty table
    or a name one table uses and another lacks would fail only in the notes that draw it."""
    vocab = json.loads(files("data_recipes").joinpath("synthetic_vocab.json").read_text(encoding="utf-8"))
    assert vocab == synthetic._VOCAB
    assert [key for key, table in vocab.items() if not table] == []
    for key in ("routes", "frequencies", "ros", "social", "plan_slots", "hpi_slots", "operative_steps"):
        assert all(vocab[key].values()), key
    treated = {d for _, _, drugs in synthetic.CONDITIONS for d in drugs} | {d for c in synthetic.CASES for d in c[2]}
    assert treated <= set(synthetic.DRUGS)
    for _, _, routes, freqs in synthetic.DRUGS.values():
        assert routes and set(routes) <= set(synthetic._ROUTES) and freqs and set(freqs) <= set(synthetic._FREQS)
    assert {op[2] for op in synthetic.OPERATIONS} <= set(synthetic._STEPS)
    assert set(synthetic._TITLES) == set(synthetic.NOTE_TYPES)
    for style in vocab["house_styles"].values():  # a house style rewrites whole tables
        assert set(style["routes"]) == set(synthetic._ROUTES)
        assert set(style["frequencies"]) == set(synthetic._FREQS)
        assert set(style["vital_forms"]) == set(synthetic._VOCAB["vital_forms"])
        assert set(style["drug_names"]) <= set(synthetic.DRUGS)


def test_recipe_synthetic_headers_mean_what_the_schema_says(schema):
    fields, other = schema.header_map(), {normalize_header(h) for h in schema.other_headers}
    for kind, (section, schema_words, other_words) in synthetic.HEADERS.items():
        for words in schema_words:
            key = normalize_header(words)
            assert (fields.get(key) == section) if section else key in other, (kind, words)
        for words in other_words:  # other words the schema happens to know must not mislead
            key = normalize_header(words)
            assert fields.get(key, section) == section and (key not in other or section is None), (kind, words)


@pytest.mark.parametrize("label, text, value", [
    ("temperature", "98.6 F", 37.0), ("temperature", "37.2 degrees Celsius", 37.2),
    ("weight", "154 lbs", 69.9), ("height", "5 feet 6 inches", 167.6), ("height", "5'6\"", 167.6),
    ("age", "6-month-old", 0.5), ("sex", "M", "male"), ("allergen", "NKDA", "no known allergies"),
])
def test_recipe_synthetic_normalizes_entity_text(label, text, value):
    page = synthetic._Page()
    page.section(None, [synthetic._ent(text, label)])
    assert page.spans[0].attrs["value"] == value


def test_recipe_synthetic_is_varied(notes, schema):
    assert len({n.text for n in notes}) == len(notes)
    sentences = [s for n in notes for s in _sentences(n.text)]
    assert len(set(sentences)) / len(sentences) > 0.55
    assert {n.meta["header_style"] for n in notes} == {"schema", "other", "none"}
    labels = {s.label for n in notes for s in n.spans}
    assert set(schema.sections) <= labels and set(schema.entities) <= labels
    words = sum(len(n.text.split()) for n in notes) / len(notes)
    assert 150 <= words <= 500


def test_recipe_synthetic_leaves_no_template_marks(notes):
    for note in notes:
        assert not re.search(r"[{}\[\]]|[^.]\.\.(?!\.)| ,", note.text), note.id


def test_recipe_synthetic_has_no_identifiers_for_the_deid_guard(notes):
    assert [n.id for n in notes if deid.scan(n.text)] == []


def test_recipe_synthetic_agrees_with_the_silver_entity_labeler(notes, schema):
    labeler = EntityLabeler(schema)
    found = total = 0
    for note in notes[:100]:
        silver = {(s.start, s.end, s.label) for s in labeler.label(note.text)}
        gold = [(s.start, s.end, s.label) for s in note.spans if s.label in VITALS_AND_AGE]
        total += len(gold)
        found += sum(g in silver for g in gold)
    assert found / total >= 0.9
