"""`chartlnn annotate` on a tiny model: Label Studio and brat tasks hold exactly the model's chart
spans and read back through the recipes, uncertainty and random selection, rounds that never
repeat a note, counts that reconcile with bad records, and one-line CLI errors."""

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

from chartlnn.annotating.run import annotate
from chartlnn.charting import worker as chart_worker
from chartlnn.annotating.spans import value_text
from chartlnn.charting.run import chart
from chartlnn.cli import app
from chartlnn.deid import mask, scan
from chartlnn.inference.model import load
from chartlnn.notes import Note
from chartlnn.schema import ChartInvalid, load_schema
from data_recipes import brat as brat_recipe
from data_recipes import synthetic
from conftest import assert_one_line_failures

N_NOTES = 8


def _notes(n: int = N_NOTES, seed: int = 4) -> list[dict]:
    return [{"id": note.id, "text": note.text, "patient_id": f"p{i % 3}"}
            for i, note in enumerate(synthetic.read(n=n, seed=seed))]


def _jsonl(path: Path, rows: list[dict], extra: list[str] = ()) -> Path:
    path.write_text("".join([json.dumps(row) + "\n" for row in rows] + [line + "\n" for line in extra]),
                    encoding="utf-8")
    return path


def _manifest(out: Path) -> dict:
    return json.loads((out / "annotate_manifest.json").read_text(encoding="utf-8"))


def _exported(out: Path, round_number: int = 1) -> list[str]:
    return [note["note_id"] for note in _manifest(out)["rounds"][round_number - 1]["notes"]]


def _trimmed(span: dict) -> tuple[int, int, str] | None:
    """A chart span as a reviewer sees it: white space at its ends cut off; None when blank."""
    text = span["text"]
    lead = len(text) - len(text.lstrip())
    trimmed = text.strip()
    return (span["start"] + lead, span["start"] + lead + len(trimmed), trimmed) if trimmed else None


def _chart_spans(one: dict) -> set[tuple[str, int, int, str]]:
    return {(field, *_trimmed(span)) for family in ("sections", "entities")
            for field, spans in one[family].items() for span in spans if _trimmed(span)}


@pytest.fixture(scope="module")
def notes_file(tmp_path_factory) -> Path:
    return _jsonl(tmp_path_factory.mktemp("notes") / "notes.jsonl", _notes())


@pytest.fixture(scope="module")
def charts(liquid_model, notes_file, tmp_path_factory) -> dict[str, dict]:
    """What `chartlnn chart` makes of the notes, by note id: the spans the tasks must carry."""
    out = tmp_path_factory.mktemp("charts") / "out"
    chart(liquid_model, notes_file, out, workers=0)
    lines = (out / "charts.jsonl").read_text(encoding="utf-8").splitlines()
    return {one["note_id"]: one for one in map(json.loads, lines)}


def test_annotate_labelstudio_tasks_carry_the_chart_spans(liquid_model, notes_file, charts, tmp_path):
    summary = annotate(liquid_model, notes_file, tmp_path / "ls", select="all")
    assert (summary.records, summary.written, summary.rejected) == (N_NOTES, N_NOTES, 0)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in _notes()}
    assert [task["data"]["note_id"] for task in tasks] == list(rows)  # --select all: input order
    regions = 0
    for task in tasks:
        note_id = task["data"]["note_id"]
        assert task["data"] == {"text": rows[note_id]["text"], "note_id": note_id,
                                "patient_id": rows[note_id]["patient_id"]}
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == liquid_model.name and 0 <= prediction["score"] <= 1
        labeled = [r for r in prediction["result"] if r["type"] == "labels"]
        typed = [r for r in prediction["result"] if r["type"] == "textarea"]
        assert {(r["value"]["labels"][0], r["value"]["start"], r["value"]["end"], r["value"]["text"])
                for r in labeled} == _chart_spans(charts[note_id])
        assert len({r["id"] for r in labeled}) == len(labeled)
        for r in labeled:
            assert (r["from_name"], r["to_name"]) == ("label", "text") and 0 <= r["score"] <= 1
            assert task["data"]["text"][r["value"]["start"]:r["value"]["end"]] == r["value"]["text"]
        by_id = {r["id"]: r for r in labeled}
        expected_values = {(field, *_trimmed(span)[:2]): value_text(field, span["value"], span["unit"])
                           for field, spans in charts[note_id]["entities"].items() for span in spans
                           if _trimmed(span)}
        for r in typed:  # a value is linked to its span by the region id, offsets alike
            span = by_id[r["id"]]["value"]
            assert (r["from_name"], r["to_name"]) == ("value", "text")
            assert (r["value"]["start"], r["value"]["end"]) == (span["start"], span["end"])
            assert r["value"]["text"] == [expected_values[(span["labels"][0], span["start"], span["end"])]]
        assert len(typed) == sum(value is not None for value in expected_values.values())
        regions += len(labeled)
    assert regions > 0
    config = ET.parse(tmp_path / "ls" / "labeling_config.xml").getroot()
    schema = load_schema(liquid_model / "schema.yaml")
    labels = config.find("Labels")
    assert (config.tag, labels.get("name"), labels.get("toName")) == ("View", "label", "text")
    assert [label.get("value") for label in labels.findall("Label")] == [*schema.sections, *schema.entities]
    assert config.find("Text").attrib == {"name": "text", "value": "$text"}
    area = config.find("TextArea")
    assert (area.get("name"), area.get("toName"), area.get("perRegion")) == ("value", "text", "true")


def test_annotate_labelstudio_accepted_predictions_import_as_gold(liquid_model, notes_file, charts,
                                                                  tmp_path):
    """Label Studio copies an accepted prediction into an annotation: the import reads it back."""
    labelstudio_recipe = pytest.importorskip("data_recipes.labelstudio")
    annotate(liquid_model, notes_file, tmp_path / "ls", select="all")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    for number, task in enumerate(tasks, 1):
        task["id"] = number
        task["annotations"] = [{"id": number, "result": task["predictions"][0]["result"],
                                "was_cancelled": False}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    notes = list(labelstudio_recipe.read(export, schema=liquid_model / "schema.yaml"))
    assert all(isinstance(note, Note) for note in notes), [n for n in notes if not isinstance(n, Note)]
    for note in notes:
        assert {(s.label, s.start, s.end, note.text[s.start:s.end]) for s in note.spans} == \
            _chart_spans(charts[note.id])
        for span in note.spans:
            if "value" in span.attrs:
                (found,) = [e for e in charts[note.id]["entities"][span.label]
                            if _trimmed(e) and _trimmed(e)[:2] == (span.start, span.end)]
                assert span.attrs["value"] == found["value"]


def test_annotate_brat_files_round_trip_through_the_brat_recipe(liquid_model, tmp_path):
    rows = _notes(4)
    rows.append({"id": "ward 3/odd#1", "text": rows[0]["text"].replace("\n", "\r\n")})
    source = _jsonl(tmp_path / "notes.jsonl", rows)
    chart(liquid_model, source, tmp_path / "charts", workers=0)
    charts = {one["note_id"]: one for one in map(
        json.loads, (tmp_path / "charts" / "charts.jsonl").read_text(encoding="utf-8").splitlines())}
    summary = annotate(liquid_model, source, tmp_path / "brat", fmt="brat", select="all")
    assert summary.written == 5 and summary.tasks == str(tmp_path / "brat")
    files = {n["note_id"]: n["file"] for n in _manifest(tmp_path / "brat")["rounds"][0]["notes"]}
    assert files["syn-000001"] == "syn-000001"
    assert re.fullmatch(r"note-[0-9a-f]{16}", files["ward 3/odd#1"])  # not a safe file name
    read = {note.id: note for note in brat_recipe.read(tmp_path / "brat")}
    assert set(read) == set(files.values())
    texts = {row["id"]: row["text"] for row in rows}
    for note_id, stem in files.items():
        note = read[stem]
        assert note.text == texts[note_id]  # \r\n kept: offsets stay valid
        # a span across lines is written as one fragment per line and read back as one span
        assert {(s.label, s.start, s.end, note.text[s.start:s.end])
                for s in note.spans} == _chart_spans(charts[note_id])
        for field, found in charts[note_id]["entities"].items():
            for mention in (m for m in found if _trimmed(m)):
                read_back = next(s for s in note.spans if (s.label, s.start) ==
                                 (field, _trimmed(mention)[0]))
                if value_text(field, mention["value"], mention["unit"]) is not None:
                    assert read_back.attrs["value"] == mention["value"]
        ann = (tmp_path / "brat" / f"{stem}.ann").read_text(encoding="utf-8")
        values = [value_text(field, span["value"], span["unit"])
                  for field, found in charts[note_id]["entities"].items() for span in found
                  if _trimmed(span)]
        assert len(re.findall(r"^#\d+\tAnnotatorNotes T\d+\t", ann, re.M)) == \
            sum(value is not None for value in values)
    conf = (tmp_path / "brat" / "annotation.conf").read_text(encoding="utf-8").splitlines()
    schema = load_schema(liquid_model / "schema.yaml")
    sections = [line for line in conf if line.startswith("[")]
    assert sections == ["[entities]", "[relations]", "[events]", "[attributes]"]
    entities = conf[conf.index("[entities]") + 1:conf.index("[relations]")]
    assert [line for line in entities if line] == [*schema.sections, *schema.entities]


def _uncertainty(model, text: str) -> float:
    """The stated measure, from the model's own per-token output on the text it reads: per head,
    1 - the mean of its five lowest chosen-tag probabilities; the two heads averaged."""
    tagged = model.tag([model.encode(mask(text, scan(text)).text)])[0]
    heads = [1.0 - float(np.mean(sorted(probs.tolist())[:5]))
             for probs in (tagged.section_prob, tagged.entity_prob)]
    return (heads[0] + heads[1]) / 2


def test_annotate_uncertainty_picks_the_least_sure_notes(liquid_model, notes_file, tmp_path):
    summary = annotate(liquid_model, notes_file, tmp_path / "out", n=3)
    assert (summary.written, summary.not_selected, summary.skipped) == (3, N_NOTES - 3, 0)
    model = load(liquid_model)
    measured = {row["id"]: _uncertainty(model, row["text"]) for row in _notes()}
    chosen = _exported(tmp_path / "out")
    ranked = sorted(measured, key=lambda note_id: -measured[note_id])
    left_out = max(measured[i] for i in measured if i not in chosen)
    assert all(measured[i] >= left_out - 1e-5 for i in chosen)
    assert [measured[i] for i in chosen] == sorted((measured[i] for i in chosen), reverse=True)
    assert set(chosen) == set(ranked[:3]) or abs(measured[ranked[2]] - measured[ranked[3]]) < 1e-5
    stored = {n["note_id"]: n["uncertainty"] for n in _manifest(tmp_path / "out")["rounds"][0]["notes"]}
    assert all(abs(stored[i] - measured[i]) < 1e-5 for i in chosen)
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text(encoding="utf-8"))
    assert [t["data"]["note_id"] for t in tasks] == chosen
    assert all(abs(t["predictions"][0]["score"] - (1 - measured[t["data"]["note_id"]])) < 1e-3
               for t in tasks)


def test_annotate_random_is_a_seeded_reproducible_sample(liquid_model, notes_file, tmp_path):
    picks = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8), ("d", 9), ("e", 10)):
        summary = annotate(liquid_model, notes_file, tmp_path / name, select="random", n=3, seed=seed)
        assert (summary.written, summary.not_selected) == (3, N_NOTES - 3)
        picks[name] = _exported(tmp_path / name)
    ids = [row["id"] for row in _notes()]
    assert picks["a"] == picks["b"]
    assert len({tuple(p) for p in picks.values()}) > 1
    for chosen in picks.values():
        assert chosen == [i for i in ids if i in chosen]  # written in input order


def test_annotate_later_rounds_skip_notes_already_exported(liquid_model, notes_file, tmp_path):
    first = annotate(liquid_model, notes_file, tmp_path / "ls", n=3)
    second = annotate(liquid_model, notes_file, tmp_path / "ls", n=3)
    assert (first.round, second.round) == (1, 2)
    assert (second.written, second.skipped, second.not_selected) == (3, 3, N_NOTES - 6)
    assert second.tasks == str(tmp_path / "ls" / "tasks-round2.json")
    round2 = json.loads((tmp_path / "ls" / "tasks-round2.json").read_text(encoding="utf-8"))
    assert [t["data"]["note_id"] for t in round2] == _exported(tmp_path / "ls", 2)
    assert not set(_exported(tmp_path / "ls", 1)) & set(_exported(tmp_path / "ls", 2))
    brat_dir = tmp_path / "brat"
    third = annotate(liquid_model, notes_file, brat_dir, fmt="brat", n=1, skip_from=[tmp_path / "ls"])
    fourth = annotate(liquid_model, notes_file, brat_dir, fmt="brat", skip_from=[tmp_path / "ls"])
    assert (third.skipped, fourth.skipped, fourth.written) == (6, 7, 1)
    assert fourth.tasks == str(brat_dir / "round-2")
    assert (brat_dir / "round-2" / "annotation.conf").exists()
    exported = (_exported(tmp_path / "ls", 1) + _exported(tmp_path / "ls", 2)
                + _exported(brat_dir, 1) + _exported(brat_dir, 2))
    assert sorted(exported) == sorted(row["id"] for row in _notes())  # each note exactly once
    read = sorted(note.id for note in brat_recipe.read(brat_dir))
    assert read == sorted([_exported(brat_dir, 1)[0], "round-2/" + _exported(brat_dir, 2)[0]])
    nothing_left = annotate(liquid_model, notes_file, tmp_path / "ls", skip_from=[brat_dir])
    assert (nothing_left.written, nothing_left.skipped) == (0, N_NOTES)


def test_annotate_counts_reconcile_with_bad_records(liquid_model, tmp_path, monkeypatch):
    rows = _notes()
    source = _jsonl(tmp_path / "notes.jsonl", rows,
                    [json.dumps({"id": "empty", "text": "  \n"}), "{not json",
                     json.dumps({"id": rows[0]["id"], "text": "another note with a used id"})])
    annotate(liquid_model, source, tmp_path / "out", select="all", n=1)  # exports rows[0]
    validate = chart_worker.validate_chart

    def refuse_one(one):
        if one["note_id"] == rows[1]["id"]:
            raise ChartInvalid("chart invalid at $.sections: made up by the test")
        validate(one)

    monkeypatch.setattr(chart_worker, "validate_chart", refuse_one)  # the check annotate shares with chart
    summary = annotate(liquid_model, source, tmp_path / "out", n=2)
    assert summary.records == N_NOTES + 3 and summary.reconciled
    assert (summary.written, summary.rejected, summary.skipped) == (2, 4, 1)
    assert summary.not_selected == N_NOTES - 1 - 1 - 2
    rejects = [json.loads(line) for line in
               (tmp_path / "out" / "rejects-round2.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["row"], r["note_id"]) for r in rejects] == [
        (None, rows[1]["id"]), (N_NOTES + 1, "empty"), (N_NOTES + 2, None), (None, rows[0]["id"])]
    assert "duplicate note id" in rejects[3]["reason"]
    text = json.dumps(rejects)
    assert not any(row["text"][:30] in text for row in rows) and "another note" not in text
    counts = _manifest(tmp_path / "out")["rounds"][1]["counts"]
    assert counts == {"records": N_NOTES + 3, "written": 2, "rejected": 4,
                      "not_selected": N_NOTES - 4, "skipped": 1}


def test_annotate_cli_summary_and_one_line_errors(liquid_model, notes_file, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["annotate", "-m", str(liquid_model), "-i", str(notes_file),
                                      "-o", str(out), "-n", "2", "--format", "brat"])
    assert result.exit_code == 0, result.output
    assert (f"round 1: {N_NOTES} notes in: 2 tasks written, 0 rejected (see {out / 'rejects.jsonl'}), "
            f"{N_NOTES - 2} not selected, 0 skipped as exported before") in " ".join(result.output.split())
    assert not any(row["text"][:30] in result.output for row in _notes())
    cases = [
        (["-m", str(tmp_path), "-i", str(notes_file)], "not a model directory"),
        (["-m", str(liquid_model), "-i", str(notes_file), "--format", "xml"],
         "--format must be one of labelstudio, brat"),
        (["-m", str(liquid_model), "-i", str(notes_file), "--select", "best"],
         "--select must be one of uncertainty, random, all"),
        (["-m", str(liquid_model), "-i", str(tmp_path / "missing.jsonl")], "input not found"),
        (["-m", str(liquid_model), "-i", str(notes_file), "--skip-from", str(tmp_path)],
         "no annotate_manifest.json"),
    ]
    assert_one_line_failures("annotate", cases, tmp_path / "fresh")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("not a round", encoding="utf-8")
    result = CliRunner().invoke(app, ["annotate", "-m", str(liquid_model), "-i", str(notes_file),
                                      "-o", str(tmp_path / "full")])
    assert result.exit_code == 1 and "holds files but no annotate_manifest.json" in result.output
