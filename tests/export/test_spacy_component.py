"""The ``chartlnn`` spaCy component: span groups, ents and extensions that follow the chart exactly
(widened to whole tokens only where spaCy's tokens demand it), batched ``nlp.pipe``, medSpaCy
ConText and displaCy downstream, one-line errors at ``add_pipe``, and the entry point."""

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import spacy
from spacy import displacy
from spacy.language import Language
from spacy.tokens.underscore import Underscore

import chartlnn
from chartlnn.errors import ChartlnnError
from chartlnn.export.spacy_component import ENTITIES, SECTIONS, make_chartlnn, set_chart
from chartlnn.inference.decode import FieldSpan, build_chart, model_info

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "café – 東京 😀\n"
NOTES = [
    "Chief complaint: cough. BP 120/80. Lisinopril 10 mg daily.",
    "Medications: aspirin 81 mg daily. Patient denies taking warfarin.",
    "HPI: 45-year-old male with chest pain for 2 days.\nVitals: T 98.6 F, HR 88, RR 16, SpO2 97%.",
    "Allergies: NKDA.\nPlan: metoprolol 25 mg PO BID, follow up in 2 weeks.",
    "A 67-year-old woman, weight 154 lbs, height 5'6\". Assessment: hypertension.",
    "pt c/o headache x3d, took ibuprofen 400mg q6h prn",
    "Physical exam: lungs clear. Heart regular.\nResults: WBC 11.2.",
    "Social history: no tobacco. Family history: diabetes in mother.",
    "Review of systems: negative for fever, chills.",
    "",
]
UNITS = {"medication": None, "medication_dose": None, "medication_frequency": None,
         "bp_systolic": "mmHg", "bp_diastolic": "mmHg"}
CRAFTED = PREFIX + "Medications: aspirin 81 mg daily. BP 120/80.\nPatient denies taking warfarin."


def _at(piece: str, field: str, confidence: float = 0.9, text: str = CRAFTED) -> FieldSpan:
    start = text.index(piece)
    return FieldSpan(start, start + len(piece), field, confidence)


def _crafted_chart() -> dict:
    """A chart of ``CRAFTED`` with aligned spans, spans inside a token, and four that no span holds."""
    blank, bp = CRAFTED.index("aspirin") - 1, CRAFTED.index("120")  # the space before "aspirin"
    sections = [_at("aspirin 81 mg daily.", "medications"), _at("BP 120/80.", "vital_signs")]
    entities = [_at("aspirin", "medication", 0.8), _at("81 mg", "medication_dose"),
                _at("daily", "medication_frequency"), _at("warfarin", "medication", 0.7),
                _at("120", "bp_systolic", 0.6), _at("80", "bp_diastolic"),  # inside the token "120/80"
                FieldSpan(5, 5, "medication"),  # empty
                FieldSpan(blank, blank + 1, "medication"),  # white space only
                FieldSpan(len(CRAFTED) + 3, len(CRAFTED) + 9, "medication"),  # past the end
                FieldSpan(bp + 1, bp + 3, "bp_systolic")]  # "20": on "120/80" again, same field
    return build_chart(CRAFTED, sections, entities, units=UNITS,
                       model=model_info("crafted", "liquid", "default"))


@pytest.fixture(scope="module")
def model(liquid_model):
    return chartlnn.load(liquid_model)


@pytest.fixture(scope="module")
def nlp(liquid_model):
    nlp = spacy.blank("en")
    nlp.add_pipe("chartlnn", config={"model": str(liquid_model)})
    return nlp


def _expected(doc, chart) -> tuple[dict, int]:
    """(start_char, end_char, label) → the mention it comes from, for each family, and how many
    mentions no span can hold: the contract of the module docstring, spelled out."""
    keys, skipped = {SECTIONS: {}, ENTITIES: {}}, 0
    for family, key in (("sections", SECTIONS), ("entities", ENTITIES)):
        tokens = set()
        for field, mentions in chart[family].items():
            for m in mentions:
                span = (doc.char_span(m["start"], m["end"], alignment_mode="expand")
                        if m["start"] < m["end"] else None)
                if span is None or not len(span) or (span.start, span.end, field) in tokens:
                    skipped += 1
                    continue
                core = doc.text[m["start"]:m["end"]]  # a space at its ends may be left out
                first = m["start"] + len(core) - len(core.lstrip())
                stop = m["end"] - len(core) + len(core.rstrip())
                assert span.start_char <= first and stop <= span.end_char
                tokens.add((span.start, span.end, field))
                keys[key][span.start_char, span.end_char, field] = m
    return keys, skipped


def test_spacy_component_span_groups_ents_and_extensions_follow_the_chart(nlp, model, schema):
    component = nlp.get_pipe("chartlnn")
    exact = widened = 0
    for text in NOTES[:-1]:
        before = component.skipped
        doc = nlp(text)
        chart = model.chart(text)
        assert doc._.chart == chart
        keys, skipped = _expected(doc, chart)
        assert component.skipped - before == skipped
        for key, fields in ((SECTIONS, schema.sections), (ENTITIES, schema.entities)):
            group = doc.spans[key]
            assert {(s.start_char, s.end_char, s.label_) for s in group} == set(keys[key])
            assert len(group) == len(keys[key]) and {s.label_ for s in group} <= set(fields)
            for span in group:
                m = keys[key][span.start_char, span.end_char, span.label_]
                assert span._.confidence == m["confidence"]
                assert (span._.value, span._.unit) == (m.get("value"), m.get("unit"))
                if (span.start_char, span.end_char) == (m["start"], m["end"]):
                    exact += 1
                    assert span.text == m["text"]
                else:
                    widened += 1
                    assert doc.char_span(m["start"], m["end"]) is None  # not on token boundaries
        entities = {(s.start, s.end, s.label_) for s in doc.spans[ENTITIES]}
        ents = {(e.start, e.end, e.label_) for e in doc.ents}
        assert ents <= entities
        taken = {i for e in doc.ents for i in range(e.start, e.end)}
        assert all(taken & set(range(start, end)) for start, end, _ in entities - ents)
    assert exact and widened  # the tiny model's spans exercise both cases


def test_spacy_component_crafted_chart_exact_widened_and_skipped():
    doc = spacy.blank("en")(CRAFTED)
    assert set_chart(doc, _crafted_chart()) == 4
    spans = {(s.text, s.label_): s for s in doc.spans[ENTITIES]}
    assert sorted(spans) == [("120/80", "bp_diastolic"), ("120/80", "bp_systolic"),
                             ("81 mg", "medication_dose"), ("aspirin", "medication"),
                             ("daily", "medication_frequency"), ("warfarin", "medication")]
    aspirin = spans["aspirin", "medication"]
    assert (aspirin.start_char, aspirin.end_char) == (CRAFTED.index("aspirin"), CRAFTED.index(" 81"))
    assert (aspirin._.value, aspirin._.unit, aspirin._.confidence) == ("aspirin", None, 0.8)
    assert spans["81 mg", "medication_dose"]._.value == {"amount": 81.0, "unit": "mg"}
    systolic = spans["120/80", "bp_systolic"]  # "120" widened to its token
    assert (systolic._.value, systolic._.unit, systolic._.confidence) == (120, "mmHg", 0.6)
    assert [s.text for s in doc.spans[SECTIONS]] == ["aspirin 81 mg daily.", "BP 120/80."]
    assert [s._.value for s in doc.spans[SECTIONS]] == [None, None]
    assert [e.text for e in doc.ents] == ["aspirin", "81 mg", "daily", "120/80", "warfarin"]


def test_spacy_component_keeps_existing_ents_on_a_clash():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "DRUG", "pattern": "aspirin"},
                                              {"label": "DRUG", "pattern": "warfarin"}])
    doc = nlp(CRAFTED)
    set_chart(doc, _crafted_chart())
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("aspirin", "DRUG"), ("81 mg", "medication_dose"), ("daily", "medication_frequency"),
        ("120/80", "bp_diastolic"), ("warfarin", "DRUG")]
    assert ("aspirin", "medication") in {(s.text, s.label_) for s in doc.spans[ENTITIES]}


def test_spacy_component_offsets_exact_after_accents_cjk_and_emoji(nlp, model):
    exact = 0
    for text in NOTES[:-1]:
        doc = nlp(PREFIX + text)
        assert doc._.chart == model.chart(PREFIX + text)
        keys, _ = _expected(doc, doc._.chart)
        for key in (SECTIONS, ENTITIES):
            for span in doc.spans[key]:
                assert doc.text[span.start_char:span.end_char] == span.text
                m = keys[key][span.start_char, span.end_char, span.label_]
                if (span.start_char, span.end_char) == (m["start"], m["end"]):
                    exact += 1
                    assert span.text == m["text"] == doc.text[m["start"]:m["end"]]
    assert exact
    doc = spacy.blank("en")(CRAFTED)
    set_chart(doc, _crafted_chart())
    warfarin = next(s for s in doc.spans[ENTITIES] if s.text == "warfarin")
    assert (warfarin.start_char, warfarin.end_char) == (CRAFTED.index("warfarin"), len(CRAFTED) - 1)


def test_spacy_component_pipe_charts_a_batch_per_model_call(nlp, monkeypatch):
    singles = [nlp(text)._.chart for text in NOTES]
    component = nlp.get_pipe("chartlnn")
    calls = []
    chart_many = component.model.chart_many

    def counted(texts, **kwargs):
        calls.append(len(texts))
        return chart_many(texts, **kwargs)

    monkeypatch.setattr(component.model, "chart_many", counted)
    docs = list(nlp.pipe(NOTES, batch_size=4))
    assert calls == [4, 4, 2]
    assert [doc.text for doc in docs] == NOTES
    assert [doc._.chart for doc in docs] == singles
    assert len(docs[-1].spans[ENTITIES]) == 0 and docs[-1]._.chart["note_type"] is None


def test_spacy_component_medspacy_context_reads_the_entity_group(liquid_model):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("chartlnn", config={"model": str(liquid_model)})
    nlp.add_pipe("medspacy_context", config={"input_span_type": "group", "span_group_name": ENTITIES})
    text = NOTES[1]
    doc = nlp(text)
    assert len(doc.spans[ENTITIES]) and all(
        isinstance(s._.is_negated, bool) for s in doc.spans[ENTITIES])
    with nlp.select_pipes(disable=["medspacy_context"]):  # deterministic targets, same group
        doc = nlp(text)
    for drug in ("aspirin", "warfarin"):
        start = text.index(drug)
        doc.spans[ENTITIES].append(doc.char_span(start, start + len(drug), label="medication"))
    doc = nlp.get_pipe("medspacy_context")(doc)
    negated = {s.text: s._.is_negated for s in doc.spans[ENTITIES] if s.label_ == "medication"}
    assert negated["warfarin"] is True and negated["aspirin"] is False


def test_spacy_component_displacy_span_view_shows_the_labels(nlp):
    doc = spacy.blank("en")(CRAFTED)
    set_chart(doc, _crafted_chart())
    html = displacy.render(doc, style="span", options={"spans_key": ENTITIES})
    for label in ("medication", "medication_dose", "medication_frequency", "bp_systolic", "bp_diastolic"):
        assert label in html
    doc = nlp(NOTES[0])
    html = displacy.render(doc, style="span", options={"spans_key": ENTITIES})
    assert doc.spans[ENTITIES] and all(s.label_ in html for s in doc.spans[ENTITIES])


def test_spacy_component_bad_model_dir_is_one_line_at_add_pipe(tmp_path):
    nlp = spacy.blank("en")
    with pytest.raises(ChartlnnError) as error:
        nlp.add_pipe("chartlnn", config={"model": str(tmp_path)})
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ChartlnnError, match="needs a model directory"):
        nlp.add_pipe("chartlnn")
    with pytest.raises(ChartlnnError, match="batch_size must be at least 1"):
        nlp.add_pipe("chartlnn", config={"model": str(tmp_path), "batch_size": 0})
    assert "chartlnn" not in nlp.pipe_names


def test_spacy_component_refuses_a_span_extension_another_package_owns(liquid_model, monkeypatch):
    monkeypatch.setitem(Underscore.span_extensions, "unit", (None, None, None, None))
    with pytest.raises(ChartlnnError, match=r"Span\._\.unit is already registered"):
        spacy.blank("en").add_pipe("chartlnn", config={"model": str(liquid_model)})


def test_spacy_component_entry_point_names_the_registered_factory():
    assert Language.has_factory("chartlnn")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, _, name = project["entry-points"]["spacy_factories"]["chartlnn"].partition(":")
    factory = getattr(importlib.import_module(module), name)
    assert factory is make_chartlnn is spacy.registry.factories.get("chartlnn")


def test_spacy_component_entry_point_is_found_by_spacy_without_importing_chartlnn(liquid_model, tmp_path):
    """The installed package's metadata, stood in for by a dist-info with the same entry point
    (this checkout may be installed from before it was declared)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist = tmp_path / "chartlnn_entry_point_check-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: chartlnn-entry-point-check\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        "[spacy_factories]\nchartlnn = " + project["entry-points"]["spacy_factories"]["chartlnn"] + "\n")
    script = ("import spacy\n"  # spaCy loads the spacy_factories entry points with a pipeline
              "nlp = spacy.blank('en')\n"
              f"nlp.add_pipe('chartlnn', config={{'model': {str(liquid_model)!r}}})\n"
              "print(nlp('BP 120/80.')._.chart['chart_version'])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1"]


def test_spacy_component_import_chartlnn_does_not_import_spacy():
    script = "import sys, chartlnn; print(sorted(m for m in sys.modules if m.split('.')[0] == 'spacy'))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]
