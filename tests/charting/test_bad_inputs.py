"""Hostile but realistic input through `chartlnn chart`: every case ends with exit status 0 or
one error line, no traceback, records in = charted + rejected, and the sentence hidden in every
bad record appears in no byte the run printed or wrote.

The cases are generated here, small; the 195k-character and 2M-character notes live in
benchmarks/long_notes.py.
"""

import gzip
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from chartlnn.cli import app

SECRET = "Secret line, on warfarin."
GOOD = "CHIEF COMPLAINT: Cough.\nPLAN: Rest and fluids."


def _jsonl(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def _good(note_id: str) -> bytes:
    return json.dumps({"id": note_id, "text": GOOD}).encode()


def _cases(root: Path) -> dict[str, Path]:
    """Case name → the input path it writes under ``root``."""
    files: dict[str, bytes] = {
        "no-header.csv": f'1,"Pt is 54yo. {SECRET}"\n'.encode(),
        "open-quote.csv": f'id,text\na,"oops\nb,"HPI: pain.\n{SECRET}\nPLAN: rest."\n'.encode(),
        "bad-records.jsonl": _jsonl([
            _good("ok1"),
            b'{"id": "caf\xe9", "text": "' + SECRET.encode() + b'"}',
            json.dumps({"id": "s", "text": SECRET + " \ud800"}).encode(),
            b'{"id": "n", "text": "' + SECRET.encode() + b'", "x": ' + b"9" * 5000 + b"}",
            b'{"id": "d", "text": "' + SECRET.encode() + b'", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            b'{"id": "null", "text": null}', b'{"id": "num", "text": 42}', b'{"id": "list", "text": ["a"]}',
            json.dumps({"id": "nul", "text": SECRET + "\x00"}).encode(),
            b'{"id": "broken", "text": "' + SECRET.encode(),
            json.dumps({"id": "empty", "text": "   "}).encode(),
            _good("ok2")]),
        "bom-crlf.csv": ("\ufeffid,text\r\n1,\"" + GOOD + "\"\r\n").encode(),
        "cr-only.csv": ("id,text\r1,\"" + GOOD + "\"\r").encode(),
        "wide.csv": (",".join(["id", "text"] + [f"c{i}" for i in range(10_000)]) + "\n"
                     + ",".join(["1", '"' + GOOD + '"'] + [""] * 10_000) + "\n").encode(),
        "duplicates.jsonl": _jsonl([_good("same"), json.dumps({"id": "same", "text": SECRET}).encode()]),
        "unicode.jsonl": _jsonl([json.dumps({"id": "u", "text": "HPI: ألم في الصدر. 胸痛. 🫀 Pain."},
                                            ensure_ascii=False).encode()]),
        "<img src=x onerror=alert(1)>.jsonl": _jsonl([json.dumps(
            {"id": "<img src=x onerror=alert(1)>", "text": "PLAN: <script>alert(1)</script> rest."}).encode()]),
        "empty.jsonl": b"",
        "fake.jsonl.gz": b"not gzip at all " + SECRET.encode(),
        "fake.parquet": SECRET.encode() * 4,
    }
    paths = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        paths[name] = root / name
    whole = gzip.compress(_jsonl([_good(f"g{i}") for i in range(50)] + [json.dumps({"id": "z", "text": SECRET}).encode()]))
    (root / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    paths["truncated.jsonl.gz"] = root / "truncated.jsonl.gz"
    folder = root / "folder"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.txt").write_text(GOOD)
    (folder / "nested" / "b.txt").write_bytes(b"\xff\xfe " + SECRET.encode())
    (folder / "empty.txt").write_text("")
    os.symlink(folder, folder / "nested" / "loop")
    paths["folder"] = folder
    return paths


def _written(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()) if out.exists() else b""


def test_bad_inputs_never_crash_leak_or_lose_a_note(liquid_model, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    outcomes = {}
    for name, path in _cases(inputs).items():
        out = tmp_path / "out" / name.replace("<", "_").replace(">", "_")
        result = CliRunner().invoke(app, ["chart", "-m", str(liquid_model), "-i", str(path), "-o", str(out),
                                          "--workers", "0", "--format", "fhir"])
        printed = result.output
        assert result.exit_code in (0, 1), (name, printed)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert "Traceback" not in printed, name
        assert SECRET not in printed and SECRET.encode() not in _written(out), name
        if result.exit_code == 1:
            assert len(printed.strip().splitlines()) == 1 or "error:" in printed, (name, printed)
        else:
            summary = json.loads((out / "summary.json").read_text())
            assert summary["records"] == summary["charted"] + summary["rejected"], name
        outcomes[name] = (result.exit_code,
                          json.loads((out / "summary.json").read_text()) if result.exit_code == 0 else None)
    refused = ("no-header.csv", "open-quote.csv", "fake.jsonl.gz", "fake.parquet", "truncated.jsonl.gz")
    assert all(outcomes[name][0] == 1 for name in refused)
    counts = {name: (s["records"], s["charted"], s["rejected"]) for name, (_, s) in outcomes.items() if s}
    assert counts["bad-records.jsonl"] == (12, 2, 10)
    assert counts["folder"] == (3, 1, 2)  # not UTF-8 and empty rejected; the link loop read once
    assert counts["duplicates.jsonl"] == (2, 1, 1)
    assert counts["bom-crlf.csv"] == counts["cr-only.csv"] == counts["wide.csv"] == (1, 1, 0)
    assert counts["empty.jsonl"] == (0, 0, 0)


def _recipe(path: Path) -> str:
    if path.is_dir():
        return "text_dir"
    suffixes = [s for s in path.suffixes if s != ".gz"]
    return {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}[suffixes[-1]]


def test_bad_inputs_prepare_keeps_the_same_contract(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, path in _cases(inputs).items():
        out = tmp_path / "prepared" / name.replace("<", "_").replace(">", "_")
        result = CliRunner().invoke(app, ["prepare", _recipe(path), "-i", str(path), "-o", str(out)])
        printed = result.output
        assert result.exit_code in (0, 1), (name, printed)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert "Traceback" not in printed and SECRET not in printed, name
        assert SECRET.encode() not in _written(out), name
        if result.exit_code == 0:
            counts = json.loads((out / "data_card.json").read_text())["counts"]
            assert counts["reconciles"], name
