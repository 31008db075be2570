"""The batch charting job on tiny inputs: every input format, rejects, PHI modes, workers, FHIR,
the manifest's refusal, and resume after `kill -9` (byte-identical outputs)."""

import csv
import gzip
import json
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from chartlnn.charting.run import ChartRunError, chart
from chartlnn.charting.worker import Charter
from chartlnn.cli import app
from chartlnn.schema import validate_chart
from data_recipes import RecipeError, parquet_export, synthetic
from conftest import assert_one_line_failures

CHARTLNN = str(Path(sys.executable).with_name("chartlnn"))
run = partial(chart, workers=0)
"""In this process: a worker pool costs seconds to start; one test covers it."""
PHI_NOTE = "CHIEF COMPLAINT: Cough.\nCall 555-123-4567 about the visit on 01/15/2020.\nPLAN: Rest."


def _notes(n: int, seed: int = 3) -> list[dict]:
    return [{"id": note.id, "text": note.text} for note in synthetic.read(n=n, seed=seed)]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _differences(a, b, path: str = "") -> list[str]:
    """Where two charts differ; confidences may differ by 1e-3: a process with two threads and a
    worker with one sum a matrix product in another order, which can move a probability's last
    rounded digit."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [d for key in a for d in _differences(a[key], b[key], f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}/{i}")]
    if path.endswith("/confidence") and isinstance(a, float) and isinstance(b, float):
        return [] if abs(a - b) <= 1e-3 else [path]
    return [] if a == b else [path]


def _assert_same_charts(here: Path, pool: Path) -> None:
    assert _differences(_lines(here), _lines(pool)) == []


def _inputs(folder: Path, rows: list[dict]) -> dict[str, Path]:
    """The same notes as CSV, CSV.gz, JSONL, Parquet and a folder of .txt files."""
    folder.mkdir()
    with open(folder / "notes.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
    (folder / "notes.csv.gz").write_bytes(gzip.compress((folder / "notes.csv").read_bytes()))
    _jsonl(folder / "notes.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), folder / "notes.parquet")
    texts = folder / "txt"
    texts.mkdir()
    for row in rows:
        (texts / f"{row['id']}.txt").write_text(row["text"], encoding="utf-8")
    return {name: folder / name for name in ("notes.csv", "notes.csv.gz", "notes.jsonl",
                                             "notes.parquet", "txt")}


def test_charting_reads_every_format_into_the_same_valid_charts(liquid_model, tmp_path):
    rows = sorted(_notes(7), key=lambda row: row["id"])  # the .txt folder reads in name order
    outputs = {}
    for name, source in _inputs(tmp_path / "in", rows).items():
        summary = run(liquid_model, source, tmp_path / name, shard_size=3, batch_size=2)
        assert (summary.records, summary.charted, summary.rejected) == (7, 7, 0), name
        assert summary.reconciled
        charts = _lines(tmp_path / name / "charts.jsonl")
        for one in charts:
            validate_chart(one)
        assert [c["note_id"] for c in charts] == [row["id"] for row in rows], name
        assert not (tmp_path / name / "parts").exists()
        outputs[name] = (tmp_path / name / "charts.jsonl").read_bytes()
    assert len(set(outputs.values())) == 1  # the same notes chart the same in every format


def test_charting_rejects_bad_notes_and_goes_on(liquid_model, tmp_path):
    good = _notes(3)
    limit = max(len(row["text"]) for row in good)
    source = tmp_path / "notes.jsonl"
    lines = [json.dumps(good[0]), json.dumps({"id": "empty", "text": "  \n"}), "{not json",
             json.dumps({"id": "long", "text": "word " * limit}), json.dumps(good[1])]
    source.write_bytes("\n".join(lines).encode() + b'\n{"id": "latin1", "text": "caf\xe9"}\n'
                       + json.dumps(good[2]).encode() + b"\n")
    summary = run(liquid_model, source, tmp_path / "out", options={"max_chars": limit})
    assert (summary.records, summary.charted, summary.rejected) == (7, 3, 4)
    charts = _lines(tmp_path / "out" / "charts.jsonl")
    assert [c["note_id"] for c in charts] == [row["id"] for row in good]
    rejects = _lines(tmp_path / "out" / "rejects.jsonl")
    assert [(r["row"], r["note_id"]) for r in rejects] == [(2, "empty"), (3, None), (4, "long"),
                                                           (6, "latin1")]
    reasons = [r["reason"] for r in rejects]
    assert reasons[0] == "empty note" and "not valid JSON" in reasons[1]
    assert f"over the limit of {limit}" in reasons[2] and "not valid UTF-8" in reasons[3]
    assert "word" not in (tmp_path / "out" / "rejects.jsonl").read_text()


def test_charting_unusable_input_or_model_is_one_line_before_any_work(liquid_model, tmp_path):
    source = _jsonl(tmp_path / "notes.jsonl", _notes(2))
    cases = [
        (["-m", str(liquid_model), "-i", str(tmp_path / "missing.jsonl")],
         "missing.jsonl: input not found"),
        (["-m", str(tmp_path), "-i", str(source)], "not a model directory"),
        (["-m", str(liquid_model), "-i", str(tmp_path / "notes.docx")], "cannot tell the format"),
        (["-m", str(liquid_model), "-i", str(source), "-O", "colour=red"], "has no option colour"),
        (["-m", str(liquid_model), "-i", str(source), "--phi", "keep"], "phi must be one of"),
    ]
    assert_one_line_failures("chart", cases, tmp_path / "out")


def test_charting_counts_that_do_not_reconcile_fail_the_command(liquid_model, tmp_path,
                                                               monkeypatch):
    source = _jsonl(tmp_path / "notes.jsonl", _notes(3))
    charter = Charter.__call__
    monkeypatch.setattr(Charter, "__call__", lambda self, notes: charter(self, notes)[1:])
    result = CliRunner().invoke(app, ["chart", "-m", str(liquid_model), "-i", str(source),
                                      "-o", str(tmp_path / "out"), "--workers", "0"])
    assert result.exit_code == 1
    assert "3 notes in but 2 charted + 0 rejected: the counts do not reconcile" in result.output


def test_charting_phi_mask_flag_and_reject(liquid_model, tmp_path):
    source = _jsonl(tmp_path / "notes.jsonl", [{"id": "p1", "text": PHI_NOTE}])
    for mode in ("mask", "flag", "reject"):
        summary = run(liquid_model, source, tmp_path / mode, phi=mode)
        charts = (tmp_path / mode / "charts.jsonl").read_text(encoding="utf-8")
        rejects = (tmp_path / mode / "rejects.jsonl").read_text(encoding="utf-8")
        assert "555-123-4567" not in rejects and "01/15/2020" not in rejects
        if mode == "reject":
            assert (summary.charted, summary.rejected) == (0, 1)
            assert "residual PHI found (PHONE, DATE)" in json.loads(rejects)["reason"]
        else:
            assert (summary.charted, summary.rejected) == (1, 0)
            assert json.loads(charts)["phi"] == {"PHONE": 1, "DATE": 1}
    masked = json.loads((tmp_path / "mask" / "charts.jsonl").read_text(encoding="utf-8"))
    spans = [span for family in ("sections", "entities") for found in masked[family].values()
             for span in found]
    assert spans and all(PHI_NOTE[s["start"]:s["end"]] == s["text"] for s in spans)
    assert all("[PHONE]" not in s["text"] and "[DATE]" not in s["text"] for s in spans)


def test_charting_phi_mask_keeps_the_notes_coordinates(liquid_model, tmp_path, mtsamples_path):
    """The model reads the masked copy; every span of every chart points into the note as given."""
    from data_recipes import get_recipe

    from chartlnn.notes import Note

    with_phi = [r for r in get_recipe("mtsamples")(mtsamples_path) if isinstance(r, Note)
                and "/" in r.text and any(ch.isdigit() for ch in r.text)][:150]
    source = _jsonl(tmp_path / "notes.jsonl", [{"id": n.id, "text": n.text} for n in with_phi])
    run(liquid_model, source, tmp_path / "out", phi="mask")
    texts = {n.id: n.text for n in with_phi}
    masked_notes = checked = 0
    for line in (tmp_path / "out" / "charts.jsonl").read_text(encoding="utf-8").splitlines():
        chart = json.loads(line)
        masked_notes += bool(chart["phi"])
        for family in ("sections", "entities"):
            for found in chart[family].values():
                for span in found:
                    assert texts[chart["note_id"]][span["start"]:span["end"]] == span["text"]
                    checked += 1
    assert masked_notes > 10 and checked > 300


def test_charting_refuses_to_mix_runs_and_overwrite_starts_over(liquid_model, tmp_path):
    first = _jsonl(tmp_path / "a.jsonl", _notes(2))
    other = _jsonl(tmp_path / "b.jsonl", _notes(3))
    out = tmp_path / "out"
    run(liquid_model, first, out)
    with pytest.raises(ChartRunError, match="different input"):
        run(liquid_model, other, out)
    with pytest.raises(ChartRunError, match="different --phi"):
        run(liquid_model, first, out, phi="flag")
    assert run(liquid_model, other, out, overwrite=True).charted == 3
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("x")
    with pytest.raises(ChartRunError, match="holds other files"):
        run(liquid_model, first, tmp_path / "mine", overwrite=True)


def test_charting_workers_make_the_same_charts_and_fhir_bundles(liquid_model, tmp_path):
    rows = _notes(10)
    source = _jsonl(tmp_path / "notes.jsonl", rows)
    run(liquid_model, source, tmp_path / "here", shard_size=4, batch_size=2, fmt="fhir")
    run(liquid_model, source, tmp_path / "pool", shard_size=4, batch_size=2, fmt="fhir", workers=2)
    for name in ("rejects.jsonl", "bundles.ndjson"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    _assert_same_charts(tmp_path / "here" / "charts.jsonl", tmp_path / "pool" / "charts.jsonl")
    bundles = _lines(tmp_path / "here" / "bundles.ndjson")
    assert len(bundles) == 10 and {b["resourceType"] for b in bundles} == {"Bundle"}
    # The note text stays out of every resource but the Composition, whose section narratives
    # hold the section texts by design (and never the whole note at once).
    others = json.dumps([entry["resource"] for bundle in bundles for entry in bundle["entry"]
                         if entry["resource"]["resourceType"] != "Composition"])
    assert all(row["text"][:60] not in others for row in rows)
    assert all(row["text"] not in json.dumps(bundle) for row, bundle in zip(rows, bundles))


def test_charting_parquet_reader_binary_text_and_missing_column(tmp_path):
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "c"], "body": [b"Cough.", b"caf\xe9", b""]}), path)
    records = list(parquet_export.read(path, id_column="key", text_column="body"))
    assert records[0].id == "a" and records[0].text == "Cough."
    assert [(r.row, r.reason) for r in records[1:]] == [(2, "text is not valid UTF-8"),
                                                         (3, "empty note")]
    with pytest.raises(RecipeError, match=r"notes.parquet: missing column\(s\) id, text"):
        list(parquet_export.read(path))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(RecipeError, match="bad.parquet: not a readable Parquet file"):
        list(parquet_export.read(tmp_path / "bad.parquet"))


def test_charting_resumes_after_kill_9_with_identical_outputs(liquid_model, tmp_path):
    source = tmp_path / "notes.jsonl"
    rows = [json.dumps(row) for row in _notes(30)]
    source.write_text("\n".join(rows[:15] + ["{broken"] + rows[15:]) + "\n", encoding="utf-8")
    reference = tmp_path / "reference"
    run(liquid_model, source, reference, shard_size=2)
    out = tmp_path / "out"
    command = [CHARTLNN, "chart", "-m", str(liquid_model), "-i", str(source), "-o", str(out),
               "--shard-size", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while (process.poll() is None and time.time() < deadline
           and not any(p.name.isdigit() for p in (out / "parts").glob("*"))):
        time.sleep(0.01)
    workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "summary.json").exists(), "the run ended before it could be killed"
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers)
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "30 charted, 1 rejected" in resumed.stderr and "from an earlier run" in resumed.stderr
    finished = {name: (out / name).read_bytes() for name in ("charts.jsonl", "rejects.jsonl")}
    assert finished["rejects.jsonl"] == (reference / "rejects.jsonl").read_bytes()
    # The same charts in the same order; a confidence's last rounded digit may differ between
    # processes (seen: 0.0851 against 0.0852), as _differences allows.
    _assert_same_charts(reference / "charts.jsonl", out / "charts.jsonl")
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already finished: 31 notes in" in again.stderr
    assert finished == {name: (out / name).read_bytes() for name in finished}


def test_charting_later_notes_with_a_used_id_are_rejected(liquid_model, tmp_path):
    source = _jsonl(tmp_path / "notes.jsonl", [{"id": "same", "text": "PLAN: Rest."},
                                               {"id": "other", "text": "PLAN: Fluids."},
                                               {"id": "same", "text": "PLAN: Walk."},
                                               {"id": "same", "text": "PLAN: Sleep."}])
    summary = run(liquid_model, source, tmp_path / "out", fmt="fhir")
    assert (summary.records, summary.charted, summary.rejected) == (4, 2, 2)
    assert [c["note_id"] for c in _lines(tmp_path / "out" / "charts.jsonl")] == ["same", "other"]
    assert [r["reason"] for r in _lines(tmp_path / "out" / "rejects.jsonl")] == [
        "duplicate note id: input record 1 has it"] * 2
    urls = [e["fullUrl"] for b in _lines(tmp_path / "out" / "bundles.ndjson") for e in b["entry"]]
    assert len(urls) == len(set(urls))


def test_charting_a_file_cut_short_says_what_was_kept(liquid_model, tmp_path):
    lines = "".join(json.dumps(note) + "\n" for note in _notes(40)).encode()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(lines)[: len(gzip.compress(lines)) * 7 // 10])
    with pytest.raises(ChartRunError, match=r"cannot read the file .*; the \d+ shard\(s\) charted before it are kept"):
        run(liquid_model, cut, tmp_path / "a", shard_size=5)
    with pytest.raises(ChartRunError, match=r"cannot read the file .*; nothing was charted"):
        run(liquid_model, cut, tmp_path / "b", shard_size=1000)


def test_charting_an_output_folder_that_cannot_be_made_is_one_line(liquid_model, tmp_path):
    source = _jsonl(tmp_path / "notes.jsonl", [{"id": "1", "text": "PLAN: Rest."}])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["chart", "-m", str(liquid_model), "-i", str(source),
                                      "-o", str(blocker / "out"), "--workers", "0"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "cannot write it (Not a directory)" in result.output


def test_charting_an_edit_that_keeps_size_and_time_is_still_a_changed_input(liquid_model, tmp_path):
    import os

    source = _jsonl(tmp_path / "notes.jsonl", [{"id": "1", "text": "PLAN: Rest."}])
    run(liquid_model, source, tmp_path / "out")
    stat = source.stat()
    source.write_text(source.read_text().replace("Rest", "Walk"))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(ChartRunError, match="different input"):
        run(liquid_model, source, tmp_path / "out")


def test_charting_with_int8_weights_in_workers_and_in_process(liquid_model, tmp_path):
    from chartlnn.inference.model import ModelDirError, load

    source = _jsonl(tmp_path / "notes.jsonl", _notes(6))
    here = run(liquid_model, source, tmp_path / "here", batch_size=2, int8=True)
    run(liquid_model, source, tmp_path / "pool", batch_size=2, int8=True, workers=2)
    assert here.charted == 6
    _assert_same_charts(tmp_path / "here" / "charts.jsonl", tmp_path / "pool" / "charts.jsonl")
    for one in _lines(tmp_path / "here" / "charts.jsonl"):
        validate_chart(one)
    assert load(liquid_model, int8=True).tagger.entity_head.__class__.__module__.startswith(
        "torch.ao.nn.quantized")
    with pytest.raises(ModelDirError, match="int8 weights run on the CPU only"):
        load(liquid_model, device="cuda", int8=True)
    with pytest.raises(ChartRunError, match="different --int8"):  # not resumed in fp32
        run(liquid_model, source, tmp_path / "here", batch_size=2)
