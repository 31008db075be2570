"""The benchmark scripts still run against the code as it is: each on the tiny test model, with the
smallest settings, checking that it prints its table (the figures themselves belong to the
README, measured on real data)."""

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from chartlnn.preparing.sections import SectionLabeler

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_encoder_speed_builds_and_runs_every_model_as_shipped():
    encoder_speed = _load_benchmark("encoder_speed")
    ids = torch.randint(0, encoder_speed.VOCAB, (2, 40))
    mask = torch.ones(2, 40, dtype=torch.bool)
    for name in encoder_speed.MODELS:
        with torch.inference_mode():
            out = encoder_speed.Embedded(name).eval()(ids, mask)
        assert out.shape[:2] == (2, 40) and torch.isfinite(out).all(), name
        flops = encoder_speed.forward_flops(encoder_speed.Embedded(name).eval(), 64)
        assert flops["counted"] > 0, name  # the peak fraction divides by these
    assert encoder_speed._matmul_peak(1) > 1e8  # FLOP/s: any CPU this runs on does more


def test_decoding_levers_prints_every_variant_in_both_views(liquid_model, dataset):
    out = _run("decoding_levers.py", liquid_model, dataset)
    for variant in ("argmax", "+ valid BIO entities", "+ whole-word entities", "+ section runs",
                    "+ whole lines", "+ tidied mentions", "+ sections split at line starts",
                    "+ listed drugs made allergens", "+ sections split inside a line",
                    "+ whole numbers, paired pressures"):
        assert f"| {variant} | headerless |" in out and f"| {variant} | with headers |" in out


def test_character_variants_prints_every_rewrite_in_both_views(liquid_model, dataset):
    out = _run("character_variants.py", liquid_model, dataset)
    for rewrite in ("as written", "no-break spaces", "carriage returns for newlines",
                    "one paragraph", "tabs after colons", "bullets for list dashes",
                    "curly apostrophes"):
        assert f"| {rewrite} | headerless |" in out and f"| {rewrite} | with headers |" in out


def test_blas_buffers_times_every_encoder_product_cold_and_filled():
    out = _run("blas_buffers.py", "--rows", 64)
    for product in ("64 × 128 by 128 × 256", "64 × 256 by 256 × 128", "64 × 128 by 128 × 128"):
        assert f"| {product} | " in out, out


def test_teacher_disagreement_credits_each_side_with_what_gold_confirms():
    teacher_disagreement = _load_benchmark("teacher_disagreement")
    values = teacher_disagreement.EntityTally()
    gold = Counter({("medication", "a"): 1, ("medication", "b"): 1, ("age", "40"): 1})
    model = Counter({("medication", "a"): 2, ("medication", "c"): 1, ("age", "40"): 1})
    teacher = Counter({("medication", "b"): 1, ("age", "40"): 1})
    values.add_note(gold, model, teacher)
    med = values.per_field["medication"]
    # only the model: a twice (gold has one) and c; only the teacher: b, which gold has
    assert (med.model_only, med.model_only_right) == (3, 1)
    assert (med.teacher_only, med.teacher_only_right) == (1, 1)
    assert (med.model_right, med.teacher_right, med.agree) == (1, 1, 0)
    assert (values.total.gold, values.total.model, values.total.agree) == (3, 4, 1)

    sections = teacher_disagreement.SectionTally()
    sections.add_note(gold=["plan", "plan", "", "hpi"], model=["plan", "plan", "plan", "plan"],
                      teacher=["", "plan", "", "hpi"])
    assert sections.disagreements() == (1, 2, 0)  # token 1 the model's, tokens 3 and 4 the teacher's
    # plan: the model 4 tokens (2 right by gold), the teacher 1 (right), gold 2
    assert [round(x, 1) for x in sections.f1s("plan")] == [66.7, 66.7, 40.0]
    assert [round(x, 1) for x in sections.f1s(None)] == [57.1, 80.0, 33.3]


def test_teacher_disagreement_scores_without_the_by_design_regions(schema):
    teacher_disagreement = _load_benchmark("teacher_disagreement")
    text = ("PREOPERATIVE DIAGNOSIS: Appendicitis.\nPROCEDURE: Appendectomy.\n"
            "INDICATIONS FOR SURGERY: Pain.\nPLAN: Home.")
    spans = teacher_disagreement.by_design_spans(SectionLabeler(schema), text)
    assert [text[s.start:s.end] for s in spans] == ["Appendicitis.", "Pain."]

    sections = teacher_disagreement.SectionTally()
    sections.add_note(gold=["", "", "plan"], model=["assessment", "assessment", "plan"],
                      teacher=["assessment", "", "plan"], by_design=[True, False, False])
    assert sections.by_design_tokens() == 1
    # every token: the model 1 right of 3 given, the teacher 1 of 2; without the first token, of 2 and 1
    assert [round(x, 1) for x in sections.f1s(None)][:2] == [50.0, 66.7]
    assert [round(x, 1) for x in sections.f1s(None, without_by_design=True)][:2] == [66.7, 100.0]


def test_teacher_disagreement_prints_both_views(liquid_model, dataset):
    out = _run("teacher_disagreement.py", liquid_model, dataset)
    for view in ("headerless", "with headers"):
        assert f"## {view}: entity values" in out and f"## {view}: section tokens" in out
    assert out.count("| **all fields** |") == 4, out[-1000:]
    assert out.count("Without the ") == 2, out[-1000:]


def test_uncertainty_measures_ranks_the_pool_under_every_measure(liquid_model):
    out = _run("uncertainty_measures.py", liquid_model, "--pool", 12, "--test", 2)
    for measure in ("random (expected)", "mean over every token (before)",
                    "5 least-sure tokens per head (shipped)", "note length (tokens)"):
        assert f"| {measure} | " in out, out[-1000:]
    assert "12 pool notes (uk house style)" in out


@pytest.mark.parametrize("script, reads_data, expected", [
    ("learning_curve.py", False, ["| epoch | minutes | field F1", "best field F1"]),
    ("int8_check.py", True, ["fp32: entity value F1", "int8 (dynamic, linear layers): entity value F1"]),
])
def test_model_benchmarks_run_on_a_small_model(script, reads_data, expected, liquid_model, dataset):
    out = _run(script, liquid_model, *([dataset] if reads_data else []))
    assert all(line in out for line in expected), out[-1000:]


def test_learning_curve_counts_a_pretrained_models_minutes_from_its_pretraining(tmp_path):
    learning_curve = _load_benchmark("learning_curve")
    pretrained, tuned, trained = tmp_path / "pre", tmp_path / "tuned", tmp_path / "trained"
    for directory in (pretrained, tuned, trained):
        directory.mkdir()
    (pretrained / "config.yaml").write_text(yaml.safe_dump(
        {"pretrained": "masked-token prediction", "train": {"max_minutes": 15}}))
    (tuned / "config.yaml").write_text(yaml.safe_dump({"parent": {"path": str(pretrained)}}))
    (trained / "config.yaml").write_text(yaml.safe_dump({"parent": {"path": str(tuned)}}))
    assert learning_curve.pretraining_minutes(tuned) == 15.0
    assert learning_curve.pretraining_minutes(trained) == 0.0  # a fine-tune of a tagger
    assert learning_curve.pretraining_minutes(pretrained) == 0.0


def test_entity_prior_prints_a_row_per_alpha_in_both_views(liquid_model, dataset):
    out = _run("entity_prior.py", liquid_model, dataset, dataset, "--alphas=-1,0,1")
    for alpha in ("-1", "0", "1"):
        assert out.count(f"| {alpha} | headerless |") == out.count(f"| {alpha} | with headers |") == 2
    assert out.count(", test split (") == 2
    assert ", validation split (" in _run("entity_prior.py", liquid_model, dataset, "--alphas=0",
                                          "--split", "validation")


def test_weight_average_of_a_model_with_itself_charts_as_the_model(liquid_model, tmp_path):
    from chartlnn.inference.model import load

    weight_average = _load_benchmark("weight_average")
    weight_average.average([liquid_model, liquid_model], tmp_path / "soup")
    text = "Chief complaint: cough.\nMedications: lisinopril 10 mg p.o. daily.\nBP 128/82."
    soup, original = load(tmp_path / "soup").chart(text), load(liquid_model).chart(text)
    assert (soup["entities"], soup["sections"]) == (original["entities"], original["sections"])


def test_weight_average_refuses_models_of_another_network(liquid_model, transformer_model,
                                                          tmp_path):
    weight_average = _load_benchmark("weight_average")
    with pytest.raises(SystemExit, match="not the same network"):
        weight_average.average([liquid_model, transformer_model], tmp_path / "soup")
    with pytest.raises(SystemExit, match="not a model directory"):
        weight_average.average([liquid_model, tmp_path], tmp_path / "soup")
    assert not (tmp_path / "soup").exists()
