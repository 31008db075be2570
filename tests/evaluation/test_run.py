"""`chartlnn evaluate` end to end on tiny synthetic data, and its refusals before any work."""

import json
from dataclasses import asdict

import pytest

from chartlnn.evaluation.run import EvaluateError, evaluate, length_buckets, long_note
from chartlnn.inference.model import load
from chartlnn.preparing.dataset import load_prepared
from chartlnn.preparing.builder import prepare
from conftest import prepare_config

QUICK = dict(repeats=1, window_seconds=0.05, scaling_repeats=1, scaling_window_seconds=0.01,
             long_tokens=(300,), resamples=50)


def test_comparison_writes_the_report(dataset, liquid_model, transformer_model, tmp_path):
    out = tmp_path / "report"
    report = evaluate(dataset, [liquid_model, transformer_model], out, **QUICK)
    test_notes = len(load_prepared(dataset).splits["test"])
    assert [s.name for s in report.systems] == ["liquid", "transformer", "rules"]
    for name in ("liquid", "transformer", "rules"):
        for view in ("input", "full"):
            scores = report.accuracy[name][view]
            assert scores.notes + sum(scores.skipped.values()) == test_notes
            low, high = scores.headline["entity_value"]["ci95"]
            assert 0 <= low <= scores.headline["entity_value"]["f1"] <= high <= 1
            assert sum(t["notes"] for t in scores.by_note_type.values()) == scores.notes
    assert "difference_ci95" in report.accuracy["liquid"]["input"].headline["section_token"]
    for view in ("input", "full"):  # the model under test against its teacher, paired
        low, high = report.accuracy["liquid"][view].headline["entity_value"]["rules_difference_ci95"]
        assert -1 <= low <= high <= 1
    assert "rules_difference_ci95" not in report.accuracy["transformer"]["input"].headline["entity_value"]
    for name in ("liquid", "transformer"):
        cost = report.cost[name]
        assert cost.provenance in ("measured:nvml", "measured:rapl", "estimated:cpu-time")
        assert cost.j_per_chart.median > 0 and cost.flops_per_chart["total"] > 0
        last = report.scaling[name][-1]
        assert last.synthetic and last.mean_tokens == 300
    for name, path in (("liquid", liquid_model), ("transformer", transformer_model)):
        assert report.cost[name].params == sum(p.numel() for p in load(path).tagger.parameters())
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(asdict(report)))
    markdown = (out / "report.md").read_text()
    assert "## Accuracy, headerless (the real task)" in markdown and "| rules |" in markdown
    assert "Entity value F1, liquid − rules, paired" in markdown
    assert "## Per note type (micro F1, headerless / with headers)" in markdown
    for plot in ("f1_vs_energy", "time_vs_length", "per_field_f1"):
        assert (out / "plots" / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(EvaluateError, match="already there"):
        evaluate(dataset, [liquid_model], out, **QUICK)


def test_comparison_refuses_a_model_with_another_tokenizer(liquid_model, tmp_path):
    other = tmp_path / "other"
    prepare("synthetic", None, other, options={"n": 20, "seed": 3}, show_progress=False,
            config=prepare_config(vocab_size=200, validation_fraction=0.2, test_fraction=0.2))
    with pytest.raises(EvaluateError, match="tokenizer differs"):
        evaluate(other, [liquid_model], tmp_path / "r", **QUICK)
    assert not (tmp_path / "r").exists()


def test_comparison_refuses_missing_baseline_and_empty_split(dataset, liquid_model, tmp_path):
    with pytest.raises(EvaluateError, match="not a model directory"):
        evaluate(dataset, [liquid_model, tmp_path / "missing"], tmp_path / "r", **QUICK)
    with pytest.raises(EvaluateError, match="no split 'holdout'"):
        evaluate(dataset, [liquid_model], tmp_path / "r", split="holdout", **QUICK)
    empty = tmp_path / "empty"
    prepare("synthetic", None, empty, options={"n": 10, "seed": 3}, tokenizer_from=liquid_model,
            show_progress=False, config=prepare_config(validation_fraction=0.2, test_fraction=0.0))
    with pytest.raises(EvaluateError, match="test split is empty"):
        evaluate(empty, [liquid_model], tmp_path / "r", **QUICK)


def test_comparison_length_buckets_and_long_notes(dataset):
    data = load_prepared(dataset)
    notes = data.splits["train"]
    counts = [len(ids) for ids in notes["input_input_ids"]]
    buckets = length_buckets(notes["input_text"], notes["id"], counts)
    assert sum(len(texts) for _, texts, _, _ in buckets) == len(counts)
    from chartlnn.tokenize import encode

    text = long_note(notes["input_text"], data.tokenizer, 1000)
    assert len(encode(data.tokenizer, text)[0]) == 1000


def test_comparison_uses_the_held_out_reviewed_notes_when_there_are_any(liquid_model, tmp_path):
    tasks = []
    for i in range(16):
        text = f"PLAN: Rest {i} days. Aspirin 81 mg daily."
        start = text.index("Rest")
        region = {"id": f"r{i}", "from_name": "label", "to_name": "text", "type": "labels",
                  "value": {"start": start, "end": len(text), "text": text[start:],
                            "labels": ["plan"]}}
        tasks.append({"id": i, "data": {"text": text, "patient_id": f"p{i}"},
                      "annotations": [{"id": i, "result": [region], "was_cancelled": False,
                                       "updated_at": "2024-05-02T10:00:00Z"}]})
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    data = tmp_path / "reviewed"
    prepare("labelstudio", export, data, tokenizer_from=liquid_model, show_progress=False,
            config=prepare_config(validation_fraction=0.2, test_fraction=0.4))
    held_out = len(load_prepared(data).splits["gold"])
    said = []
    report = evaluate(data, [liquid_model], tmp_path / "r", log=said.append, **QUICK)
    assert held_out > 0 and report.settings.split == "gold" and report.data.notes == held_out
    assert said[0].startswith(f"charting {held_out} gold notes")
    assert report.machine.torch_threads == 1  # charted and metered as one `chart` worker does
