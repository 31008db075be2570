import gzip
import json

import pytest

from chartlnn.notes import Note, Reject
from data_recipes import RECIPES, RecipeError, get_recipe, recipe_options
from data_recipes import brat, csv_export, jsonl_export, mtsamples, text_dir


def _split(records):
    records = list(records)
    notes = [r for r in records if isinstance(r, Note)]
    rejects = [r for r in records if isinstance(r, Reject)]
    return notes, rejects


def test_recipes_registry_names_every_recipe():
    assert set(RECIPES) == {"synthetic", "mtsamples", "csv", "jsonl", "parquet", "brat", "labelstudio",
                            "text_dir"}
    assert "n" in recipe_options("synthetic")
    assert "id_column" in recipe_options("csv")
    with pytest.raises(RecipeError, match="unknown recipe 'nope'"):
        get_recipe("nope")


def test_recipes_csv_reads_columns_and_gold_spans(tmp_path):
    path = tmp_path / "export.csv"
    spans = json.dumps([{"start": 0, "end": 7, "field": "chief_complaint"}])
    path.write_text('note_key,body,patient_id,spans\n'
                    f'a1,"Cough. 2 days.",p1,"{spans.replace(chr(34), chr(34) * 2)}"\n'
                    'a2,"Fever, chills.",p1,\n', encoding="utf-8")
    notes, rejects = _split(csv_export.read(path, id_column="note_key", text_column="body"))
    assert [n.id for n in notes] == ["a1", "a2"] and not rejects
    assert notes[0].patient_id == "p1"
    span = notes[0].spans[0]
    assert (span.start, span.end, span.label, span.source) == (0, 7, "chief_complaint", "gold")
    assert notes[0].text[span.start:span.end] == "Cough. "[:7]


def test_recipes_csv_missing_column_names_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("id,note\n1,hello\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"export.csv: missing column\(s\) text"):
        list(csv_export.read(path))


def test_recipes_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(RecipeError, match="file not found"):
        list(csv_export.read(tmp_path / "nope.csv"))
    with pytest.raises(RecipeError, match="folder not found"):
        list(text_dir.read(tmp_path / "nope"))


def test_recipes_corrupt_gzip_is_one_clear_error(tmp_path):
    for recipe, name in ((csv_export, "export.csv.gz"), (jsonl_export, "export.jsonl.gz"),
                         (mtsamples, "mtsamples.csv.gz")):
        path = tmp_path / name
        path.write_bytes(b"this is not gzip at all")
        with pytest.raises(RecipeError, match=rf"{name}: .*BadGzipFile") as err:
            list(recipe.read(path))
        assert "\n" not in str(err.value)


def test_recipes_csv_bad_rows_are_rejected_with_row_numbers(tmp_path):
    path = tmp_path / "export.csv"
    rows = [b"id,text,spans", b"1,fine note,", b"2,,", b"3,\xff\xfe broken bytes,",
            b'4,short,"[{""start"": 3, ""end"": 99, ""field"": ""age""}]"',
            b'5,short,"not json"', b",no id,"]
    path.write_bytes(b"\n".join(rows) + b"\n")
    notes, rejects = _split(csv_export.read(path))
    assert [n.id for n in notes] == ["1"]
    reasons = {r.row: r.reason for r in rejects}
    assert reasons[3] == "empty note"
    assert reasons[4] == "text is not valid UTF-8"
    assert "outside the text" in reasons[5]
    assert reasons[6] == "spans column is not valid JSON"
    assert "no value in id column" in reasons[7]
    assert all("broken" not in r.reason and "short" not in r.reason for r in rejects)


def test_recipes_oversized_note_is_rejected(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({"id": "big", "text": "x" * 50}) + "\n", encoding="utf-8")
    notes, rejects = _split(jsonl_export.read(path, max_chars=10))
    assert not notes and "over the limit of 10" in rejects[0].reason


def test_recipes_jsonl_bad_lines_do_not_stop_the_file(tmp_path):
    path = tmp_path / "export.jsonl.gz"
    lines = [json.dumps({"id": "1", "text": "Note one.", "patient_id": "p9",
                         "spans": [{"start": 0, "end": 4, "label": "chief_complaint"}]}),
             "{not json", json.dumps(["a list"]), json.dumps({"id": "4", "body": "x"}), "",
             json.dumps({"id": "5", "text": "Note five."})]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    notes, rejects = _split(jsonl_export.read(path))
    assert [n.id for n in notes] == ["1", "5"]
    assert notes[0].patient_id == "p9" and notes[0].spans[0].label == "chief_complaint"
    assert [(r.row, r.reason) for r in rejects] == [
        (2, "line is not valid JSON"), (3, "line is not a JSON object"),
        (4, "no 'text' key (set it with -O text_column=...)")]


def test_recipes_text_dir_reads_nested_files_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("Second note.", encoding="utf-8")
    (tmp_path / "one.txt").write_bytes("\ufeffFirst note.".encode("utf-8"))
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    notes, rejects = _split(text_dir.read(tmp_path))
    assert [(n.id, n.text) for n in notes] == [("b/two", "Second note."), ("one", "First note.")]
    assert sorted((r.note_id, r.reason) for r in rejects) == [
        ("bad", "text is not valid UTF-8"), ("empty", "empty note")]


def test_recipes_text_dir_without_notes_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="no .txt files"):
        list(text_dir.read(tmp_path))


def test_recipes_brat_maps_types_negation_and_fragments(tmp_path):
    text = "Allergic to penicillin. Denies latex allergy. BP 120/80."
    (tmp_path / "n1.txt").write_text(text, encoding="utf-8")
    (tmp_path / "n1.ann").write_text(
        "T1\tDrug_Allergy 12 22\tpenicillin\n"
        "T2\tDrug_Allergy 31 36\tlatex\n"
        "A1\tNegation T2\n"
        "T3\tVitals 49 52;53 55\t120 80\n"
        "T4\tOther 0 8\tAllergic\n"
        "#1\tAnnotatorNotes T1\tnote\n", encoding="utf-8")
    (tmp_path / "n2.txt").write_text("No annotations file.", encoding="utf-8")
    (tmp_path / "n3.txt").write_text("Short.", encoding="utf-8")
    (tmp_path / "n3.ann").write_text("T1\tDrug_Allergy 2 80\tx\n", encoding="utf-8")
    records = list(brat.read(tmp_path, label_map="Drug_Allergy:allergen,Vitals:bp_systolic"))
    notes, rejects = _split(records)
    assert [n.id for n in notes] == ["n1"]
    note = notes[0]
    assert [(note.text[s.start:s.end], s.label) for s in note.spans] == [
        ("penicillin", "allergen"), ("latex", "allergen"), ("120", "bp_systolic"), ("80", "bp_systolic")]
    assert note.spans[1].attrs["negated"] is True and "negated" not in note.spans[0].attrs
    assert note.spans[2].attrs["group"] == note.spans[3].attrs["group"]
    assert note.meta["unmapped_annotations"] == 1
    assert note.spans[0].attrs["value"] == "note"  # AnnotatorNotes: the reviewer's value
    assert "complete" not in note.meta
    assert sorted(r.reason for r in rejects) == [
        "gold span 'allergen' 2:80 is outside the text (6 chars)", "no .ann file beside the .txt"]


def test_recipes_brat_joins_a_span_cut_at_line_breaks_and_reads_typed_values(tmp_path):
    text = "PLAN: Rest.\nFluids.\n\nT 101.3 F. Pulse 88."
    plan_end, temp = text.index("Fluids.") + 7, text.index("101.3 F")
    pulse = text.index("88")
    (tmp_path / "n.txt").write_text(text, encoding="utf-8")
    (tmp_path / "n.ann").write_text(
        f"T1\tplan 6 11;12 {plan_end}\tRest. Fluids.\n"
        f"T2\ttemperature {temp} {temp + 7}\t101.3 F\n"
        "#1\tAnnotatorNotes T2\t38.5 Cel\n"
        f"T3\theart_rate {pulse} {pulse + 2}\t88\n"
        "#2\tAnnotatorNotes T3\t90\n", encoding="utf-8")
    (note,) = brat.read(tmp_path, reviewed=True)
    assert [(s.label, note.text[s.start:s.end]) for s in note.spans] == [
        ("plan", "Rest.\nFluids."), ("temperature", "101.3 F"), ("heart_rate", "88")]
    assert note.spans[1].attrs["value"] == 38.5  # typed, read by the field's normalizer
    assert note.spans[2].attrs["value"] == 90.0  # a bare number is taken in the schema's unit
    assert note.meta["complete"] is True
    (tmp_path / "n.ann").write_text(
        f"T1\theart_rate {pulse} {pulse + 2}\t88\n#1\tAnnotatorNotes T1\tfast\n", encoding="utf-8")
    (reject,) = brat.read(tmp_path)
    assert reject.reason == ".ann line 2: the value typed for its heart_rate span cannot be read as one"


def test_recipes_brat_default_map_lowercases_types(tmp_path):
    (tmp_path / "n.txt").write_text("Age 45.", encoding="utf-8")
    (tmp_path / "n.ann").write_text("T1\tAge 4 6\t45\n", encoding="utf-8")
    (note,) = brat.read(tmp_path)
    assert note.spans[0].label == "age"


def test_recipes_brat_malformed_ann_line_is_rejected(tmp_path):
    (tmp_path / "n.txt").write_text("Age 45.", encoding="utf-8")
    (tmp_path / "n.ann").write_text("T1\tAge four six\t45\n", encoding="utf-8")
    (reject,) = brat.read(tmp_path)
    assert isinstance(reject, Reject) and reject.reason == ".ann line 1: offsets are not 'start end'"


def test_recipes_mtsamples_restores_line_breaks_without_moving_offsets():
    raw = ("HISTORY:,  Pain.,MEDICATIONS: , Aspirin 81 mg, 1,000 units.,1.  Item one.,2.  Item two."
           ", ,PLAN:, Rest.")
    restored = mtsamples.restore_line_breaks(raw)
    assert len(restored) == len(raw)
    assert restored == ("HISTORY:\n  Pain.\nMEDICATIONS: \n Aspirin 81 mg, 1,000 units.\n1.  Item one."
                        "\n2.  Item two.\n \nPLAN:\n Rest.")


def test_recipes_mtsamples_note_types_from_specialty_and_title():
    assert mtsamples.note_type_for({"Surgery", "Orthopedic"}, "Knee arthroscopy") == "operative_procedure"
    assert mtsamples.note_type_for({"Neurology"}, "MRI Brain") == "radiology"
    assert mtsamples.note_type_for({"Neurology"}, "Neurology Consult") == "hp_consult"
    assert mtsamples.note_type_for({"Letters", "Orthopedic"}, "Ortho letter") == "letter"
    assert mtsamples.note_type_for({"Dermatology"}, "Rash") == "other"


def test_recipes_mtsamples_small_file_dedupes_and_rejects(tmp_path):
    path = tmp_path / "mt.csv"
    path.write_text(
        "note_id,description,medical_specialty,sample_name,transcription,keywords\n"
        "0,d, Surgery,Appendectomy,\"PROCEDURE:, Appendectomy.\",k\n"
        "1,d, Gastroenterology,Appendectomy,\"PROCEDURE:, Appendectomy.\",k\n"
        "2,d, Radiology,CT,,k\n", encoding="utf-8")
    notes, rejects = _split(mtsamples.read(path))
    assert [(n.id, n.note_type, n.meta["specialties"]) for n in notes] == [
        ("0", "operative_procedure", ["Gastroenterology", "Surgery"])]
    assert notes[0].text == "PROCEDURE:\n Appendectomy."
    assert [(r.row, r.reason) for r in rejects] == [(3, "duplicate transcription of note 0"),
                                                   (4, "empty note")]


def test_recipes_mtsamples_real_file(mtsamples_path):
    notes, rejects = _split(mtsamples.read(mtsamples_path))
    assert len(notes) + len(rejects) == 4999
    assert 2300 <= len(notes) <= 2357
    assert sum(r.reason == "empty note" for r in rejects) == 33
    types = {n.note_type for n in notes}
    assert {"hp_consult", "operative_procedure", "radiology", "discharge_summary", "letter"} <= types


def test_recipes_csv_without_a_header_row_never_echoes_its_first_row(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('1,"Pt is 54yo, lives at 12 Elm St, on warfarin"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as error:
        list(csv_export.read(path))
    message = str(error.value)
    assert "first row has 2 cell(s) and does not look like a header row" in message
    assert "Elm" not in message and "warfarin" not in message and "54yo" not in message


def test_recipes_jsonl_hostile_records_are_rejected_one_by_one(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [b'{"id": "caf\xe9", "text": "Cough."}',  # not UTF-8 in the id
             b'{"id": "2", "text": "a \\ud800 b"}',  # a lone surrogate escape in the text
             b'{"id": "3", "text": "x", "n": ' + b"9" * 5000 + b"}",
             b'{"id": "4", "text": "x", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
             b'{"id": "5", "text": "Note.", "spans": [{"start": 0, "end": 4, "field": "plan", "attrs": [1]}]}',
             b'{"id": "6", "text": "Note.", "spans": [{"start": false, "end": true, "field": "plan"}]}',
             b'{"id": "7", "text": "Fine note."}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    notes, rejects = _split(jsonl_export.read(path))
    assert [n.id for n in notes] == ["7"]
    assert [(r.row, r.reason) for r in rejects] == [
        (1, "id column 'id' is not valid UTF-8"), (2, "text is not valid UTF-8"),
        (3, "line has a number too long or nesting too deep to read"),
        (4, "line has a number too long or nesting too deep to read"),
        (5, "span #0 attrs must be an object"),
        (6, "span #0 needs integer start, end and a field name")]


def test_recipes_text_dir_an_unreadable_file_is_one_reject(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("PLAN: Rest.")
    (tmp_path / "b.txt").write_text("PLAN: Walk.")
    read_bytes = type(tmp_path).read_bytes

    def refuse_a(path):  # as root no permission bit makes a file unreadable: refuse it here
        if path.name == "a.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(type(tmp_path), "read_bytes", refuse_a)
    notes, rejects = _split(text_dir.read(tmp_path))
    assert [n.id for n in notes] == ["b"]
    assert [(r.note_id, r.reason) for r in rejects] == [("a", "cannot read the file (Permission denied)")]


@pytest.mark.parametrize("content", [
    'id,text\na,"oops\nb,"HPI: pain.\nSecret line, on warfarin.\nPLAN: rest."\n',  # closed too early
    'id,text\na,fine\nb,"never closed\nSecret line, on warfarin.\n',  # runs to the end
])
def test_recipes_csv_an_open_quote_never_turns_note_text_into_ids(tmp_path, content):
    path = tmp_path / "u.csv"
    path.write_text(content, encoding="utf-8")
    records = []
    with pytest.raises(RecipeError, match="not well-formed CSV") as error:
        for record in csv_export.read(path):
            records.append(record)
    assert "Secret" not in str(error.value) and "warfarin" not in str(error.value)
    assert all("Secret" not in (r.id if isinstance(r, Note) else r.note_id or "") for r in records)
