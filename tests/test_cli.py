import json

from typer.testing import CliRunner

from chartlnn.cli import app
from chartlnn.schema import load_schema

runner = CliRunner()


def _csv(path, rows):
    path.write_text("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in rows), encoding="utf-8")
    return path


NOTES = [(i, f"CHIEF COMPLAINT: Cough for {i} days.\nMEDICATIONS: Aspirin 81 mg daily.\nPLAN: Rest.")
         for i in range(12)]


def test_cli_prepare_then_inspect(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES + [(99, "")])
    out = tmp_path / "ds"
    result = runner.invoke(app, ["prepare", "csv", "--input", str(source), "--out", str(out),
                                 "--set", "vocab_size=500"])
    assert result.exit_code == 0, result.output
    assert "12 notes kept" in result.output and "1 rejected" in result.output
    card = json.loads((out / "data_card.json").read_text())
    assert card["config"]["vocab_size"] == 500
    shown = runner.invoke(app, ["inspect", str(out)])
    assert shown.exit_code == 0 and "Data card" in shown.output and "empty note" in shown.output
    as_json = runner.invoke(app, ["inspect", str(out), "--json"])
    assert json.loads(as_json.output)["counts"]["notes_kept"] == 12
    assert f"schema default v{load_schema().version};" in result.output


def test_cli_prepare_says_when_the_schema_comes_with_the_tokenizer(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES)
    first = runner.invoke(app, ["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "a"),
                                "--set", "vocab_size=500"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "b"),
                                "--tokenizer", str(tmp_path / "a")])
    assert again.exit_code == 0, again.output
    shown = f"schema default v{load_schema().version} from {tmp_path / 'a'} (--schema to use another)"
    assert shown in " ".join(again.output.split())
    card = json.loads((tmp_path / "b" / "data_card.json").read_text())
    assert card["schema"]["from"] == str(tmp_path / "a")
    assert f"(from `{tmp_path / 'a'}`)" in (tmp_path / "b" / "data_card.md").read_text()


def test_cli_errors_are_one_line_and_exit_1(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES)
    cases = [
        (["prepare", "csv", "--out", str(tmp_path / "a")], "recipe 'csv' needs --input"),
        (["prepare", "csv", "--input", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "b")],
         "missing.csv: file not found"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "c"), "-O", "colour=red"],
         "recipe 'csv' has no option colour"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "d"), "--set", "vocab=1"],
         "unknown key 'vocab'"),
        (["prepare", "nope", "--input", str(source), "--out", str(tmp_path / "e")], "unknown recipe 'nope'"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "f"), "-O", "text_column=body"],
         "missing column(s) body"),
        (["inspect", str(tmp_path)], "no data_card.json here"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "g"), "--mix", "synthetic,m=3"],
         "recipe 'synthetic' has no option m"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "h"), "--mix", "jsonl"],
         "recipe 'jsonl' needs an input: --mix jsonl:PATH"),
        (["prepare", "csv", "--input", str(source), "--out", str(tmp_path / "i"), "--mix", "jsonl:nope.jsonl"],
         "nope.jsonl: file not found"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert result.output.strip().count("\n") == 0, result.output


def test_cli_prepare_mixes_another_source_into_train(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES)
    out = tmp_path / "ds"
    result = runner.invoke(app, ["prepare", "csv", "-i", str(source), "-o", str(out),
                                 "--mix", "synthetic,n=20,seed=2", "--set", "vocab_size=500"])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "data_card.json").read_text())
    assert card["mixed_into_train"] == {"synthetic": 20} and card["counts"]["notes_kept"] == 32


def test_cli_refuses_to_overwrite_without_flag(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES)
    out = tmp_path / "ds"
    assert runner.invoke(app, ["prepare", "csv", "-i", str(source), "-o", str(out)]).exit_code == 0
    again = runner.invoke(app, ["prepare", "csv", "-i", str(source), "-o", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert runner.invoke(app, ["prepare", "csv", "-i", str(source), "-o", str(out),
                               "--overwrite"]).exit_code == 0


def test_cli_phi_fail_refuses(tmp_path):
    source = _csv(tmp_path / "notes.csv", NOTES + [(50, "Call 555-123-4567 today.")])
    result = runner.invoke(app, ["prepare", "csv", "-i", str(source), "-o", str(tmp_path / "ds"),
                                 "--phi", "fail"])
    assert result.exit_code == 1 and "50" in result.output and "555-123-4567" not in result.output


def test_cli_recipes_lists_options():
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0
    assert "mtsamples" in result.output and "id_column='id'" in result.output


def test_cli_demo_runs_on_synthetic_notes(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--notes", "30"])
    assert result.exit_code == 0, result.output
    assert "Data card — synthetic" in result.output
    assert (tmp_path / "demo" / "dataset" / "data_card.json").exists()


def test_cli_evaluate_writes_and_prints_the_report(dataset, liquid_model, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--data", str(dataset), "--model", str(liquid_model),
                                 "--out", str(out), "--repeats", "1", "--window-seconds", "0.05",
                                 "--long-tokens", "", "--resamples", "20", "--no-rules"])
    assert result.exit_code == 0, result.output
    assert "Accuracy, headerless" in result.output and (out / "report.md").exists()
    missing = runner.invoke(app, ["evaluate", "--data", str(dataset), "--model", str(liquid_model),
                                  "--baseline", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert missing.exit_code == 1 and "nope: not a model directory" in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_cli_show_writes_an_html_page(liquid_model, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("45 year old male with cough.\nAspirin 81 mg daily.\n", encoding="utf-8")
    result = runner.invoke(app, ["show", str(note), "--model", str(liquid_model)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "note.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "note.txt: chart by liquid" in page
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe bad")
    failed = runner.invoke(app, ["show", str(bad), "--model", str(liquid_model)])
    assert failed.exit_code == 1 and "not valid UTF-8" in failed.output
