import csv
import json

import pytest

from chartlnn.preparing.dataset import load_prepared
from chartlnn.preparing.builder import NothingUsable, PhiFound, Source, prepare
from chartlnn.tokenize import tags_to_spans

from conftest import prepare_config

SECRET = "Zebulon"


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "patient_id", "text"])
        writer.writeheader()
        writer.writerows(rows)


def _word(i):
    """A made-up word of letters only (digits would split it into several tokens)."""
    return "qx" + "".join("abcdefghij"[int(d)] for d in str(i)) + "word"


def _notes(n):
    """Notes each carrying a made-up word of their own three times (so it could enter the vocab)."""
    return [{"id": f"n{i}", "patient_id": f"p{i % (n // 2)}",
             "text": (f"CHIEF COMPLAINT: Cough {_word(i)} {_word(i)} {_word(i)}.\n"
                      f"HISTORY OF PRESENT ILLNESS: A {40 + i}-year-old woman with BP 12{i % 10}/8{i % 10}.\n"
                      f"MEDICATIONS: Aspirin 81 mg p.o. daily.\nALLERGIES: NKDA.\nPLAN: Rest.")}
            for i in range(n)]


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    prepare("synthetic", None, out, options={"n": 60, "seed": 3}, show_progress=False,
            config=prepare_config(vocab_size=400, validation_fraction=0.15, test_fraction=0.15))
    return out


def test_dataset_builder_synthetic_writes_a_complete_dataset(synthetic_dir):
    data = load_prepared(synthetic_dir)
    counts = data.card["counts"]
    assert counts["records_in"] == 60 and counts["reconciles"]
    assert sum(len(data.splits[s]) for s in data.splits) == counts["notes_kept"]
    assert all(len(data.splits[s]) > 0 for s in ("train", "validation", "test"))
    assert (synthetic_dir / "data_card.md").read_text().startswith("# Data card — synthetic")
    assert data.tokenizer.get_vocab_size() <= 400


def test_dataset_builder_both_views_carry_the_same_span_texts(synthetic_dir):
    data = load_prepared(synthetic_dir)
    for example in data.splits["train"]:
        full = [(example["text"][s["start"]:s["end"]], s["label"]) for s in example["full_spans"]]
        headerless = [(example["input_text"][s["start"]:s["end"]], s["label"])
                      for s in example["input_spans"]]
        assert full == headerless
        assert len(example["input_text"]) <= len(example["text"])


def test_dataset_builder_tags_decode_back_to_the_spans(synthetic_dir):
    data = load_prepared(synthetic_dir)
    names = data.splits["train"].features["input_section_tags"].feature.names
    off = data.card["alignment"]["spans_off_token_boundaries"]
    assert off == 0
    for example in data.splits["train"]:
        tags = [names[t] for t in example["input_section_tags"]]
        assert len(tags) == len(example["input_input_ids"]) == len(example["input_offsets"])
        decoded = tags_to_spans([tuple(o) for o in example["input_offsets"]], tags)
        sections = [(s["start"], s["end"], s["label"]) for s in example["input_spans"]
                    if s["label"] in data.schema.sections]
        assert decoded == sections


def test_dataset_builder_tokenizer_sees_the_train_split_only(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(40))
    out = tmp_path / "out"
    prepare("csv", source, out, config=prepare_config(vocab_size=2000, min_frequency=2),
            show_progress=False)
    data = load_prepared(out)
    vocab = data.tokenizer.get_vocab()
    for split in ("train", "validation", "test"):
        for note_id in data.splits[split]["id"]:
            assert (_word(int(note_id[1:])) in vocab) == (split == "train")


def test_dataset_builder_reads_carriage_returns_as_line_ends(tmp_path):
    """Notes from a system that ends lines with a carriage return alone get the labels and tokens
    of the same notes ended with newlines (the header patterns and the tokenizer read lines)."""
    rows = _notes(20)
    _write_csv(tmp_path / "lf.csv", rows)
    _write_csv(tmp_path / "cr.csv", [{**r, "text": r["text"].replace("\n", "\r")} for r in rows])
    prepare("csv", tmp_path / "lf.csv", tmp_path / "lf", show_progress=False,
            config=prepare_config(vocab_size=400))
    prepare("csv", tmp_path / "cr.csv", tmp_path / "cr", tokenizer_from=tmp_path / "lf",
            show_progress=False)  # one tokenizer: WordPiece training breaks ties in any order
    lf, cr = load_prepared(tmp_path / "lf"), load_prepared(tmp_path / "cr")
    assert sum(r["text"].count("\n") for r in rows) > 60
    for split in lf.splits:
        for column in ("full_spans", "input_spans", "full_input_ids", "input_input_ids"):
            assert cr.splits[split][column] == lf.splits[split][column], (split, column)


def test_dataset_builder_patients_stay_in_one_split(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(40))
    prepare("csv", source, tmp_path / "out", show_progress=False)
    data = load_prepared(tmp_path / "out")
    split_of = {}
    for split in data.splits:
        for patient in data.splits[split]["patient_id"]:
            assert split_of.setdefault(patient, split) == split


def test_dataset_builder_rejects_duplicates_and_bad_notes_and_reconciles(tmp_path):
    rows = _notes(6)
    rows.append({"id": "copy", "patient_id": "", "text": rows[0]["text"].upper()})
    rows.append({"id": "n1", "patient_id": "", "text": "A different note with a reused id."})
    rows.append({"id": "empty", "patient_id": "", "text": "  "})
    source = tmp_path / "notes.csv"
    _write_csv(source, rows)
    card = prepare("csv", source, tmp_path / "out", show_progress=False)
    assert card["counts"] == {"records_in": 9, "notes_kept": 6, "records_rejected": 3,
                              "reconciles": True}
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "out" / "rejects.jsonl").open()]
    assert reasons == ["duplicate of note n0 (same normalized text)",
                       "duplicate note id (the first note with it is kept)", "empty note"]
    where = [(r["source"], r["row"]) for r in map(json.loads, (tmp_path / "out" / "rejects.jsonl").open())]
    assert where == [(str(source), 8), (str(source), 9), (str(source), 10)]  # the header is row 1


def test_dataset_builder_masks_residual_phi_and_counts_it(tmp_path):
    rows = _notes(4)
    rows[0]["text"] += " Call 555-123-4567 or mail pat@example.org."
    source = tmp_path / "notes.csv"
    _write_csv(source, rows)
    card = prepare("csv", source, tmp_path / "out", show_progress=False)
    assert card["phi"]["notes_with_phi"] == 1
    assert card["phi"]["masked_by_kind"] == {"PHONE": 1, "EMAIL": 1}
    data = load_prepared(tmp_path / "out")
    texts = [t for split in data.splits.values() for t in split["text"]]
    assert not any("555-123-4567" in t or "example.org" in t for t in texts)
    assert any("[PHONE]" in t and "[EMAIL]" in t for t in texts)


def test_dataset_builder_phi_fail_lists_note_ids_not_text(tmp_path):
    rows = _notes(4)
    rows[2]["text"] += " SSN 123-45-6789."
    source = tmp_path / "notes.csv"
    _write_csv(source, rows)
    with pytest.raises(PhiFound) as err:
        prepare("csv", source, tmp_path / "out", config=prepare_config(phi="fail"), show_progress=False)
    assert "n2" in str(err.value) and "123-45-6789" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_dataset_builder_nothing_usable_is_an_error(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, [{"id": "a", "patient_id": "", "text": ""}])
    with pytest.raises(NothingUsable, match="no usable notes \\(1 rejected: empty note\\)"):
        prepare("csv", source, tmp_path / "out", show_progress=False)


def test_dataset_builder_reuses_a_model_tokenizer_and_schema(synthetic_dir, tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(10))
    prepare("csv", source, tmp_path / "out", tokenizer_from=synthetic_dir, show_progress=False)
    assert (tmp_path / "out" / "tokenizer.json").read_text() == \
        (synthetic_dir / "tokenizer.json").read_text()
    assert (tmp_path / "out" / "schema.yaml").read_text() == (synthetic_dir / "schema.yaml").read_text()


def test_dataset_builder_never_logs_or_prints_note_text(tmp_path, capsys, caplog):
    rows = _notes(6)
    rows[1]["text"] += f" {SECRET} 555-123-4567"
    rows.append({"id": "bad", "patient_id": "", "text": f"{SECRET} " * 100})
    source = tmp_path / "notes.csv"
    _write_csv(source, rows)
    caplog.set_level("DEBUG")
    prepare("csv", source, tmp_path / "out", options={"max_chars": 400}, show_progress=True)
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err + caplog.text
    assert SECRET not in (tmp_path / "out" / "rejects.jsonl").read_text()
    assert SECRET not in (tmp_path / "out" / "data_card.md").read_text()


def test_dataset_builder_mtsamples_end_to_end(mtsamples_path, tmp_path):
    card = prepare("mtsamples", mtsamples_path, tmp_path / "out", show_progress=False)
    assert card["counts"]["reconciles"] and card["counts"]["records_in"] == 4999
    assert card["counts"]["notes_kept"] >= 2300
    for name in card["labels"]:
        if name in ("chief_complaint", "medications", "allergies", "physical_exam", "plan"):
            assert card["labels"][name]["notes_total"] >= 30


def test_dataset_builder_mixed_sources_go_to_the_train_split_only(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(40))
    card = prepare("csv", source, tmp_path / "out", show_progress=False,
                   mix=[Source("synthetic", None, {"n": 30, "seed": 5})])
    data = load_prepared(tmp_path / "out")
    assert card["mixed_into_train"] == {"synthetic": 30}
    assert card["counts"]["records_in"] == 70 and card["counts"]["reconciles"]
    held_out = [i for s in ("validation", "test") for i in data.splits[s]["id"]]
    assert held_out and all(i.startswith("n") for i in held_out)
    assert sum(not i.startswith("n") for i in data.splits["train"]["id"]) == 30
    assert "30 notes from `synthetic`" in (tmp_path / "out" / "data_card.md").read_text()


def test_dataset_builder_shift_note_types_are_set_aside_whatever_the_hash(tmp_path):
    rows = [{**row, "note_type": "discharge_summary" if i % 4 == 0 else "progress_soap"}
            for i, row in enumerate(_notes(40))]
    source = tmp_path / "notes.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "patient_id", "text", "note_type"])
        writer.writeheader()
        writer.writerows(rows)
    card = prepare("csv", source, tmp_path / "out", show_progress=False,
                   config=prepare_config(shift_note_types=["discharge_summary"]))
    data = load_prepared(tmp_path / "out")
    assert card["splits"]["shift"] == 10
    assert set(data.splits["shift"]["id"]) == {f"n{i}" for i in range(0, 40, 4)}
    assert card["note_types"]["shift"] == {"discharge_summary": 10}
    assert all("discharge_summary" not in card["note_types"][s] for s in ("train", "validation", "test"))


def test_dataset_builder_shift_specialties_set_aside_every_note_filed_under_them(tmp_path):
    source = tmp_path / "mtsamples.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "description", "medical_specialty", "sample_name",
                         "transcription", "keywords"])
        for i, note in enumerate(_notes(40)):
            specialty = "Cardiovascular / Pulmonary" if i % 5 == 0 else "Orthopedic"
            writer.writerow([str(i), "", specialty, "Consult", note["text"], ""])
            if i % 10 == 1:  # the same note filed under a held-out specialty as well
                writer.writerow([f"{i}b", "", "Cardiovascular / Pulmonary", "Consult", note["text"],
                                 ""])
    card = prepare("mtsamples", source, tmp_path / "out", show_progress=False,
                   config=prepare_config(shift_specialties=["Cardiovascular / Pulmonary"]))
    shift = set(load_prepared(tmp_path / "out").splits["shift"]["id"])
    assert shift == {str(i) for i in range(40) if i % 5 == 0 or i % 10 == 1}
    assert card["splits"]["shift"] == 12 and card["counts"]["reconciles"]


def test_dataset_builder_mixed_notes_of_a_shift_type_are_held_out_and_counted(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(20))
    card = prepare("csv", source, tmp_path / "out", show_progress=False,
                   config=prepare_config(shift_note_types=["discharge_summary"]),
                   mix=[Source("synthetic", None, {"n": 40, "seed": 5})])
    held = card["rejects"]["by_reason"].get(
        "note type held out for the shift split (a mixed-in source only trains)", 0)
    assert held > 0 and card["mixed_into_train"] == {"synthetic": 40 - held}
    assert card["counts"]["reconciles"] and card["splits"]["shift"] == 0
    assert "discharge_summary" not in card["note_types"]["train"]


def test_dataset_builder_mixed_notes_of_a_shift_type_train_when_asked(tmp_path):
    source = tmp_path / "notes.csv"
    _write_csv(source, _notes(20))
    card = prepare("csv", source, tmp_path / "out", show_progress=False,
                   config=prepare_config(shift_note_types=["discharge_summary"], mix_shift_types=True),
                   mix=[Source("synthetic", None, {"n": 40, "seed": 5})])
    assert card["mixed_into_train"] == {"synthetic": 40} and not card["rejects"]["total"]
    assert card["note_types"]["train"]["discharge_summary"] > 0  # only the mixed-in source's
    assert card["splits"]["shift"] == 0
