import json

import pytest
from typer.testing import CliRunner

from chartlnn.cli import app
from chartlnn.notes import Note, Reject
from chartlnn.preparing.builder import NothingUsable, prepare
from chartlnn.preparing.dataset import load_prepared
from data_recipes import RecipeError, labelstudio

from conftest import prepare_config

TEXT = ("CHIEF COMPLAINT: Cough for three days.\n"
        "HISTORY OF PRESENT ILLNESS: A 45-year-old woman with a dry cough. Temp 98.6 F.\n"
        "MEDICATIONS: Aspirin 81 mg p.o. daily.\n"
        "ALLERGIES: Penicillin.\n"
        "PLAN: Rest and fluids.")


def _at(text, words, field, region_id=None, typed=None):
    """A labels region over the first occurrence of ``words`` (and its textarea when typed)."""
    start = text.index(words)
    region_id = region_id or f"r{start}{field[:3]}"
    items = [{"id": region_id, "from_name": "label", "to_name": "text", "type": "labels",
              "origin": "manual",
              "value": {"start": start, "end": start + len(words), "text": words, "labels": [field]}}]
    if typed is not None:
        items.append({"id": region_id, "from_name": "value", "to_name": "text", "type": "textarea",
                      "value": {"start": start, "end": start + len(words), "text": [typed]}})
    return items


def _annotation(ann_id, result, updated="2024-05-02T10:00:00.000000Z", cancelled=False):
    return {"id": ann_id, "result": result, "was_cancelled": cancelled, "ground_truth": False,
            "created_at": "2024-05-01T09:00:00.000000Z", "updated_at": updated, "lead_time": 41.2,
            "task": 1, "completed_by": 7}


def _task(task_id, text, annotations, *, predictions=None, **data):
    return {"id": task_id, "data": {"text": text, **data}, "annotations": annotations,
            "predictions": predictions or [], "project": 3,
            "created_at": "2024-05-01T08:00:00.000000Z", "updated_at": "2024-05-02T10:00:00.000000Z"}


HEADERS = {"CHIEF COMPLAINT": "chief_complaint", "HISTORY OF PRESENT ILLNESS": "history_of_present_illness",
           "MEDICATIONS": "medications", "ALLERGIES": "allergies", "PLAN": "plan"}


def _full_result(text):
    """A reviewer's complete labels for a TEXT-like note: each line's content as its section,
    the entities inside them, and a typed value for the temperature."""
    sections = [(line.partition(": ")[2], HEADERS[line.partition(": ")[0]]) for line in text.splitlines()]
    entities = [("45-year-old", "age"), ("woman", "sex"), ("Aspirin", "medication"),
                ("81 mg", "medication_dose"), ("p.o.", "medication_route"),
                ("daily", "medication_frequency"), ("Penicillin", "allergen")]
    result = [item for words, field in sections + entities for item in _at(text, words, field)]
    return result + _at(text, "98.6 F", "temperature", typed="37.2")


def _write(path, tasks):
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def _split(records):
    records = list(records)
    return ([r for r in records if isinstance(r, Note)], [r for r in records if isinstance(r, Reject)])


def test_labelstudio_round_trips_spans_exactly(tmp_path):
    result = _full_result(TEXT)
    path = _write(tmp_path / "export.json", [
        _task(11, TEXT, [_annotation(5, result)], note_id="visit-1", patient_id="p9",
              note_type="hp_consult"),
        _task(12, four := TEXT.replace("three", "four"), [_annotation(6, _full_result(four))])])
    notes, rejects = _split(labelstudio.read(path))
    assert not rejects and [n.id for n in notes] == ["visit-1", "ls-12"]
    note = notes[0]
    assert (note.patient_id, note.note_type) == ("p9", "hp_consult")
    assert note.meta == {"row": 1, "complete": True}  # reviewed: the silver labelers add nothing
    expected = [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
                for r in result if r["type"] == "labels"]
    assert [(s.start, s.end, s.label) for s in note.spans] == expected
    assert all(s.source == "gold" for s in note.spans)
    assert all(note.text[s.start:s.end] == r["value"]["text"]
               for s, r in zip(note.spans, (r for r in result if r["type"] == "labels")))


def test_labelstudio_typed_values_are_normalized_and_absent_ones_left_for_the_normalizer(tmp_path):
    text = "Weight 70. Temp 98.6 F. Aspirin 81 mg daily."
    result = (_at(text, "70", "weight", typed="70") + _at(text, "98.6 F", "temperature", typed="37.2")
              + _at(text, "81 mg", "medication_dose", typed="0.081 g")
              + _at(text, "Aspirin", "medication"))
    (note,) = labelstudio.read(_write(tmp_path / "e.json", [_task(1, text, [_annotation(1, result)])]))
    values = {s.label: s.attrs.get("value", "absent") for s in note.spans}
    assert values == {"weight": 70.0, "temperature": 37.2,
                      "medication_dose": {"amount": 0.081, "unit": "g"}, "medication": "absent"}


def test_labelstudio_latest_annotation_wins_and_predictions_are_ignored(tmp_path):
    older = _at(TEXT, "Cough for three days.", "chief_complaint")
    newer = _at(TEXT, "Rest and fluids.", "plan")
    predicted = _at(TEXT, "Aspirin", "medication")
    tasks = [
        # newest by updated_at although its id is lower and it comes first
        _task(1, TEXT, [_annotation(9, older, updated="2024-05-02T10:00:00Z"),
                        _annotation(3, newer, updated="2024-06-01T08:30:00+00:00")],
              predictions=[{"model_version": "liquid-small", "score": 0.41, "result": predicted}]),
        # no times at all: the highest id wins; a cancelled later one does not count
        _task(2, TEXT, [{"id": 4, "result": older}, {"id": 8, "result": newer},
                        {"id": 12, "result": predicted, "was_cancelled": True}]),
    ]
    notes, rejects = _split(labelstudio.read(_write(tmp_path / "e.json", tasks)))
    assert not rejects
    assert [[s.label for s in n.spans] for n in notes] == [["plan"], ["plan"]]


def test_labelstudio_unreviewed_and_skipped_tasks_are_rejected_and_counted(tmp_path):
    good = [_annotation(1, _at(TEXT, "Penicillin", "allergen"))]
    tasks = [_task(1, TEXT, good),
             _task(2, TEXT, [], predictions=[{"result": _at(TEXT, "Aspirin", "medication")}]),
             _task(3, TEXT, [_annotation(2, [], cancelled=True), _annotation(3, [], cancelled=True)]),
             {"id": 4, "data": {"text": TEXT}},
             {"id": 5, "data": {"text": TEXT}, "annotations": 5},
             {"id": 6, "text": TEXT, "label": [{"start": 0, "end": 5, "labels": ["plan"]}]}]
    notes, rejects = _split(labelstudio.read(_write(tmp_path / "e.json", tasks)))
    assert [n.id for n in notes] == ["ls-1"]
    assert [(r.row, r.note_id, r.reason) for r in rejects] == [
        (2, "ls-2", "not reviewed (no annotation)"),
        (3, "ls-3", "every annotation was skipped or cancelled"),
        (4, "ls-4", "not reviewed (no annotation)"),
        (5, "ls-5", "not reviewed (no annotation)"),
        (6, None, "task has no data object (is this the JSON-MIN export? export as JSON)")]


def test_labelstudio_untrustworthy_tasks_are_rejected_with_reasons_never_text(tmp_path):
    edited = TEXT.replace("Cough for three days.", "Cough and fever for three days.")
    moved = _at(TEXT, "Penicillin", "allergen")  # offsets from before the edit
    outside = _at(TEXT, "Rest and fluids.", "plan")
    outside[0]["value"].update(start=len(TEXT) - 3, end=len(TEXT) + 40)
    backwards = _at(TEXT, "Aspirin", "medication")
    backwards[0]["value"].update(start=10, end=10)
    unknown = _at(TEXT, "dry cough", "Symptom")
    textless = _at(TEXT, "Aspirin", "medication")
    del textless[0]["value"]["text"]
    entity_clash = _at(TEXT, "Aspirin 81 mg", "medication") + _at(TEXT, "81 mg", "medication_dose")
    section_clash = (_at(TEXT, "Aspirin 81 mg p.o. daily.", "medications")
                     + _at(TEXT, "daily.\nALLERGIES: Penicillin.", "allergies"))
    two_values = _at(TEXT, "98.6 F", "temperature")
    two_values.append({**two_values[0], "type": "textarea", "value": {"text": ["37", "38"]}})
    unreadable = _at(TEXT, "98.6 F", "temperature", typed="warm")
    cases = [(edited, moved), (TEXT, outside), (TEXT, backwards), (TEXT, unknown), (TEXT, textless),
             (TEXT, entity_clash), (TEXT, section_clash), (TEXT, two_values), (TEXT, unreadable)]
    tasks = [_task(i, text, [_annotation(i, result)]) for i, (text, result) in enumerate(cases, 1)]
    nested = _at(TEXT, "Aspirin 81 mg p.o. daily.", "medications") + _at(TEXT, "Aspirin", "medication")
    tasks.append(_task(99, TEXT, [_annotation(99, nested)]))
    notes, rejects = _split(labelstudio.read(_write(tmp_path / "e.json", tasks)))
    assert [n.id for n in notes] == ["ls-99"]  # an entity inside a section is normal
    at = {w: (TEXT.index(w), TEXT.index(w) + len(w)) for w in ("Penicillin", "Aspirin 81 mg", "81 mg",
                                                               "Aspirin 81 mg p.o. daily.",
                                                               "daily.\nALLERGIES: Penicillin.")}
    assert [r.reason for r in rejects] == [
        "region #1 {}:{}: its text is not the note's text there (the note changed since export?)"
        .format(*at["Penicillin"]),
        f"region #1 {len(TEXT) - 3}:{len(TEXT) + 40} is outside the text ({len(TEXT)} chars)",
        "region #1 has bad offsets 10:10",
        "label 'Symptom' is not a section or entity field of schema 'default' "
        "(map it with -O label_map=Label:field)",
        "region #1 carries no text to check against the note's",
        "entity spans medication {}:{} and medication_dose {}:{} overlap".format(
            *at["Aspirin 81 mg"], *at["81 mg"]),
        "section spans medications {}:{} and allergies {}:{} overlap".format(
            *at["Aspirin 81 mg p.o. daily."], *at["daily.\nALLERGIES: Penicillin."]),
        "region #1: several values typed for one temperature span",
        "region #1: the value typed for its temperature span cannot be read as one"]
    quoted = ("Cough", "cough", "Penicillin", "Aspirin", "fever", "warm")
    assert not any(q in r.reason for r in rejects for q in quoted)


def test_labelstudio_label_map_and_text_field_options(tmp_path):
    text = "Allergic to latex."
    task = {"id": 5, "data": {"note": text},
            "annotations": [_annotation(1, _at(text, "latex", "Allergy"))]}
    path = _write(tmp_path / "e.json", [task])
    (reject,) = labelstudio.read(path)
    assert reject.reason == "no data.text (set it with -O text_field=...)"
    (note,) = labelstudio.read(path, text_field="note", label_map="Allergy:allergen")
    assert [(s.start, s.end, s.label) for s in note.spans] == [(12, 17, "allergen")]


@pytest.mark.parametrize("content, message", [
    ('[{"id": 1, "data": ', r"bad.json: not valid JSON \(line 1, column 20\)"),
    ('{"id": 1, "data": {"text": "Secret note"}}', "bad.json: expected a list of tasks .*found a JSON dict"),
])
def test_labelstudio_unusable_file_is_one_error_naming_it(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RecipeError, match=message) as err:
        list(labelstudio.read(path))
    assert "\n" not in str(err.value) and "Secret" not in str(err.value)
    with pytest.raises(RecipeError, match="file not found"):
        list(labelstudio.read(tmp_path / "missing.json"))


def test_labelstudio_prepare_keeps_gold_and_adds_no_silver_to_reviewed_notes(tmp_path):
    tasks = []
    for i in range(8):
        text = TEXT.replace("three", f"{i + 2} long") + f" Seen by team {'abcdefgh'[i]}."
        tasks.append(_task(100 + i, text, [_annotation(i, _full_result(text))], patient_id=f"p{i}"))
    # reviewed, but the reviewer left the medications and the allergen unlabeled: no silver fills them
    sparse = TEXT.replace("three", "nine")
    cc_only = _at(sparse, "Cough for nine days.", "chief_complaint")
    tasks.append(_task(200, sparse, [_annotation(50, cc_only)]))
    tasks.append(_task(201, TEXT, [], predictions=[{"result": _at(TEXT, "Aspirin", "medication")}]))
    edited = TEXT.replace("Cough", "Wheeze")  # labeled before the edit
    tasks.append(_task(202, edited, [_annotation(60, _at(TEXT, "Penicillin", "allergen"))]))
    out = tmp_path / "ds"
    card = prepare("labelstudio", _write(tmp_path / "export.json", tasks), out, show_progress=False,
                   config=prepare_config(vocab_size=300, validation_fraction=0.0, test_fraction=0.0))
    counts = card["counts"]
    assert (counts["records_in"], counts["notes_kept"], counts["records_rejected"]) == (11, 9, 2)
    assert counts["reconciles"]
    data = load_prepared(out)
    examples = {e["id"]: e for split in data.splits.values() for e in split}
    assert set(examples) == {f"ls-{100 + i}" for i in range(8)} | {"ls-200"}
    full = examples["ls-100"]
    assert {s["source"] for s in full["full_spans"]} == {"gold"}
    spans = {(full["text"][s["start"]:s["end"]], s["label"]) for s in full["full_spans"]}
    assert {("45-year-old", "age"), ("Penicillin", "allergen"),
            ("Rest and fluids. Seen by team a.", "plan")} <= spans
    temperature = next(s for s in full["full_spans"] if s["label"] == "temperature")
    assert json.loads(temperature["attrs"]) == {"value": 37.2}
    sparse_spans = examples["ls-200"]["full_spans"]
    assert [(s["label"], s["source"]) for s in sparse_spans] == [("chief_complaint", "gold")]


def test_labelstudio_cli_prepares_an_export_and_a_bad_file_is_one_line_exit_1(tmp_path):
    runner = CliRunner()
    texts = [TEXT.replace("three", str(i + 2)) for i in range(6)]
    tasks = [_task(i, t, [_annotation(i, _full_result(t))]) for i, t in enumerate(texts)]
    tasks.append(_task(9, TEXT, []))
    good = _write(tmp_path / "export.json", tasks)
    result = runner.invoke(app, ["prepare", "labelstudio", "--input", str(good),
                                 "--out", str(tmp_path / "ok"), "--set", "vocab_size=300"])
    assert result.exit_code == 0, result.output
    assert "6 notes kept" in result.output and "1 rejected" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"', encoding="utf-8")
    result = runner.invoke(app, ["prepare", "labelstudio", "--input", str(bad),
                                 "--out", str(tmp_path / "ds")])
    assert result.exit_code == 1, result.output
    assert "bad.json: not valid JSON" in result.output
    assert result.output.strip().count("\n") == 0, result.output


def test_labelstudio_prepare_checks_labels_against_the_run_schema(tmp_path):
    from chartlnn.config import shipped_config
    from chartlnn.schema import load_schema

    text = TEXT + " Pain score 7 of 10."
    task = _task(300, text, [_annotation(1, _full_result(text) + _at(text, "7", "pain_score"))])
    export = _write(tmp_path / "export.json", [task])
    custom = tmp_path / "schema.yaml"
    custom.write_text(shipped_config("schema").read_text(encoding="utf-8").replace(
        "entities:\n", "entities:\n  pain_score:\n    description: Pain on a 0-10 scale.\n", 1),
        encoding="utf-8")
    config = prepare_config(vocab_size=300, validation_fraction=0.0, test_fraction=0.0)
    with pytest.raises(NothingUsable, match="label 'pain_score' is not a section or entity field"):
        prepare("labelstudio", export, tmp_path / "a", show_progress=False, config=config)
    card = prepare("labelstudio", export, tmp_path / "b", show_progress=False, config=config,
                   schema=load_schema(custom))
    assert card["counts"]["notes_kept"] == 1
    spans = load_prepared(tmp_path / "b").splits["train"][0]["full_spans"]
    assert ("pain_score", "gold") in {(s["label"], s["source"]) for s in spans}


def test_reviewed_notes_the_hash_puts_in_test_are_held_out_as_the_gold_split(tmp_path):
    tasks = []
    for i in range(30):
        text = TEXT.replace("three", f"{i + 2} long") + f" Seen by team {i}."
        tasks.append(_task(300 + i, text, [_annotation(i, _full_result(text))], patient_id=f"p{i}"))
    out = tmp_path / "ds"
    card = prepare("labelstudio", _write(tmp_path / "export.json", tasks), out, show_progress=False,
                   config=prepare_config(vocab_size=300, validation_fraction=0.2, test_fraction=0.3))
    data = load_prepared(out)
    assert card["splits"]["test"] == 0 and card["splits"]["gold"] == len(data.splits["gold"]) > 0
    assert sum(card["splits"].values()) == 30
    assert all(data.splits["gold"]["reviewed"]) and all(data.splits["train"]["reviewed"])
    assert "| gold |" in (out / "data_card.md").read_text()
