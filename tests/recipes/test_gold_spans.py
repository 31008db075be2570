"""Gold labels from a span file keyed by note id (no note text in it), through the mtsamples recipe."""

import csv
import hashlib
import json

import pytest

from chartlnn.notes import GOLD, Note, Reject
from chartlnn.preparing.labeler import NoteLabeler
from data_recipes import RecipeError, get_recipe
from data_recipes.gold_spans import read_gold

TEXT = "CHIEF COMPLAINT: Cough.,MEDICATIONS: Lisinopril 10 mg daily."
NOTE = TEXT.replace(".,", ".\n")  # what the recipe restores


def _csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "description", "medical_specialty", "sample_name", "transcription", "keywords"])
        writer.writerows(rows)
    return path


def _gold(path, note_id, text, spans):
    record = {"note_id": note_id, "text_sha1": hashlib.sha1(text.encode()).hexdigest(),
              "chars": len(text), "spans": spans}
    path.write_text(json.dumps(record) + "\n")
    return path


def _span(field, phrase, **extra):
    start = NOTE.index(phrase)
    return {"start": start, "end": start + len(phrase), "field": field, **extra}


def test_gold_spans_attach_to_their_note_and_replace_silver(tmp_path, schema):
    source = _csv(tmp_path / "mt.csv", [["1", "", "Office Notes", "a", TEXT, ""],
                                        ["2", "", "Office Notes", "b", "PLAN: rest.", ""]])
    gold = _gold(tmp_path / "gold.jsonl", "1", NOTE, [
        _span("chief_complaint", "Cough."), _span("medication", "Lisinopril", value="lisinopril", group=1)])
    records = list(get_recipe("mtsamples")(source, gold=str(gold)))
    first, second = records
    assert first.meta["complete"] and [s.source for s in first.spans] == [GOLD, GOLD]
    assert first.spans[1].attrs == {"value": "lisinopril", "group": 1}
    assert isinstance(second, Note) and not second.spans and "complete" not in second.meta
    labeled = NoteLabeler(schema).label(first)
    assert [(s.label, s.source) for s in labeled.sections] == [("chief_complaint", GOLD)]
    assert [(s.label, s.source) for s in labeled.entities] == [("medication", GOLD)]  # no silver dose
    only = list(get_recipe("mtsamples")(source, gold=str(gold), only_gold=True))
    assert isinstance(only[0], Note) and only[1] == Reject(str(source), "no gold labels", 3, "2")


def test_gold_spans_refuse_changed_text_and_bad_files(tmp_path):
    source = _csv(tmp_path / "mt.csv", [["1", "", "Office Notes", "a", TEXT, ""]])
    stale = _gold(tmp_path / "stale.jsonl", "1", NOTE + " edited", [])
    (record,) = get_recipe("mtsamples")(source, gold=str(stale))
    assert isinstance(record, Reject) and "text differs" in record.reason
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"note_id": "1"}\n')
    with pytest.raises(RecipeError, match=r"bad.jsonl: line 1: not a gold span record"):
        list(get_recipe("mtsamples")(source, gold=str(bad)))
    past = _gold(tmp_path / "past.jsonl", "1", NOTE, [{"start": 0, "end": 999, "field": "plan"}])
    with pytest.raises(RecipeError, match="ends past its"):
        list(get_recipe("mtsamples")(source, gold=str(past)))
    with pytest.raises(RecipeError, match="only_gold=true needs gold=FILE"):
        list(get_recipe("mtsamples")(source, only_gold=True))


@pytest.mark.parametrize("split, count, spans", [("test", 60, 1026), ("validation", 40, 425)])
def test_gold_spans_the_shipped_mtsamples_gold_matches_its_notes(mtsamples_path, split, count, spans):
    from pathlib import Path

    gold = Path(__file__).resolve().parents[2] / "benchmarks" / "gold" / f"mtsamples-{split}.jsonl"
    notes = [r for r in get_recipe("mtsamples")(mtsamples_path, gold=str(gold), only_gold=True)
             if isinstance(r, Note)]
    assert len(notes) == count and all(n.meta["complete"] for n in notes)
    assert sum(len(n.spans) for n in notes) == spans
    assert all(n.text[s.start:s.end] == n.text[s.start:s.end].strip() != "" for n in notes
               for s in n.spans)


def test_gold_spans_the_shipped_mtsamples_gold_files_label_different_notes():
    from pathlib import Path

    gold = Path(__file__).resolve().parents[2] / "benchmarks" / "gold"
    test, validation = (set(read_gold(gold / f"mtsamples-{split}.jsonl"))
                        for split in ("test", "validation"))
    assert len(test) == 60 and len(validation) == 40 and not test & validation
