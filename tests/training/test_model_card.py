"""The model card: valid Hugging Face front matter, the metrics and data counts a model directory
knows, the parent of a fine-tune, and never a field of the data card that could quote a note."""

import json

import yaml

from chartlnn.preparing.builder import prepare
from chartlnn.training.model_card import TrainingRun, render_model_card
from chartlnn.training.train import train
from conftest import FAST, TINY, prepare_config

SENTINEL = "Patient Zebulon Quux"
"""Stands for note text; no card may contain it."""
RUN = TrainingRun(minutes=2.5, epochs=3, steps=42, parameters=123_456, encoder_parameters=100_000,
                  hardware="CPU (Test CPU), 1 process", precision="32-true")
CONFIG = {"chartlnn_version": "0.0.test", "data": "runs/ours",
          "model": {"kind": "liquid", "d_model": 16, "n_layers": 1, "dropout": 0.1},
          "train": {"max_epochs": 5, "max_minutes": 10.0, "lr": 0.005, "batch_size": 8, "seed": 13},
          "vocab_size": 300,
          "labels": {"section_tags": ["O"], "entity_tags": ["O"],
                     "note_types": ["soap", "discharge_summary"]}}
METRICS = {"val/loss": 1.25, "val/section/plan": 0.5, "val/entity/age": 0.75, "val/field_f1": 0.625,
           "val/section_token_f1": 0.5, "val/entity_f1": 0.75}


def _data_card() -> dict:
    """A data card in `prepare`'s shape whose free-text-capable places all hold the sentinel."""
    return {
        "recipe": "csv", "input": "export.csv",
        "schema": {"name": "default", "version": 1},
        "config": {"shift_note_types": [SENTINEL]},
        "counts": {"records_in": 110, "notes_kept": 100, "records_rejected": 10, "reconciles": True},
        "splits": {"train": 70, "validation": 20, "test": 10, "shift": 0},
        "mixed_into_train": {"synthetic": 500},
        "note_types": {"train": {"soap": 60, SENTINEL: 7, "(none)": 3}},
        "unknown_note_types": {SENTINEL: 7},
        "labels": {"age": {"notes": {"train": 41, "validation": 9, "test": 5, "shift": 0},
                           "notes_total": 55, "negated": 0,
                           "spans_by_source": {"gold": 12, "silver:pattern": 30}},
                   "plan": {"notes": {"train": 64, "validation": 18, "test": 9, "shift": 0},
                            "notes_total": 91, "negated": 0,
                            "spans_by_source": {"silver:header": 88}}},
        "length": {"chars": {"p50": 900}, "input_tokens": {"p50": 250}},
        "phi": {"mode": "mask", "notes_with_phi": 4, "masked_by_kind": {"DATE": 5, SENTINEL: 1},
                "gold_spans_lost": 1},
        "header_dropout": {"headers_removed": 300, "notes_without_headers": 12, "spans_lost": 0},
        "alignment": {"spans": 130, "spans_off_token_boundaries": 0},
        "unknown_gold_labels": {SENTINEL: 2},
        "rejects": {"total": 10, "by_reason": {f"duplicate of note {SENTINEL}": 10}},
        "example": SENTINEL,
    }


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_model_card_front_matter_is_yaml_with_the_validation_metrics():
    card = render_model_card("ours", CONFIG, METRICS, _data_card(), RUN)
    front = _front_matter(card)
    assert front["library_name"] == "chartlnn" and front["license"] == "other"
    assert "chartlnn" in front["tags"] and "liquid" in front["tags"]
    (entry,) = front["model-index"]
    (result,) = entry["results"]
    assert entry["name"] == "ours" and result["task"]["type"] == "token-classification"
    assert result["dataset"] == {"name": "csv: export.csv", "type": "csv", "split": "validation"}
    metrics = result["metrics"]
    assert metrics[0] == {"type": "f1", "value": 0.625, "name": "validation field F1 (macro over fields)"}
    assert {m["value"] for m in metrics} == set(METRICS.values())
    assert {m["type"] for m in metrics} == {"f1", "loss"} and all(m["name"] for m in metrics)


def test_model_card_sections_give_model_data_counts_training_and_evaluation():
    card = render_model_card("ours", CONFIG, METRICS, _data_card(), RUN)
    for heading in ("Intended use", "Model", "Training data", "Training", "Evaluation",
                    "Energy per chart", "Limitations"):
        assert f"\n## {heading}\n" in card, heading
    assert "Not for diagnosis" in card and "Parent model" not in card
    assert "| liquid | 16 | 1 | 123,456 | 100,000 | 300 |" in card
    assert "Recipe `csv`, input `export.csv`, prepared into `runs/ours`" in card
    assert "110 records in: 100 notes kept, 10 rejected" in card
    assert "| train | 70 |" in card and "| validation | 20 |" in card and "| test | 10 |" in card
    assert "500 notes from `synthetic`" in card
    assert "| age | 41 | 12 | 30 |" in card and "| plan | 64 | 0 | 88 |" in card
    assert "mode `mask`, 4 notes" in card and "DATE 5" in card and "gold spans lost to masks: 1" in card
    assert "Budget: 10 minutes; 3 epochs completed of at most 5, 42 optimizer steps, 2.5 minutes" in card
    assert "Kept: the checkpoint with the best validation score." in card
    assert "CPU (Test CPU), 1 process" in card and "| lr | 0.005 |" in card
    assert "| field F1 (macro over fields) | 0.6250 |" in card and "| age span F1 | 0.7500 |" in card
    assert "validation" in card and "token-level" in card and "chartlnn evaluate" in card
    assert "Not measured at training time; `chartlnn evaluate` measures it" in card
    assert "silver" in card.lower() and "Headerless" in card
    assert "soap 60" in card and "10 notes of a type outside the schema or without one" in card


def test_model_card_of_a_fine_tune_says_its_step_floor_and_that_it_kept_the_last_weights():
    config = {**CONFIG, "train": {**CONFIG["train"], "min_steps": 1200, "keep": "last"}}
    card = render_model_card("ours", config, METRICS, _data_card(), RUN)
    assert "3 epochs completed of at most 5 (and at least 1,200 steps), 42 optimizer steps" in card
    assert "Kept: the weights training ended with." in card and "| min_steps | 1200 |" in card


def test_model_card_never_prints_what_could_quote_a_note():
    card = render_model_card("ours", CONFIG, METRICS, _data_card(), RUN)
    assert SENTINEL not in card
    assert "duplicate of note" not in card  # reject reasons are counted, never quoted


def test_model_card_of_a_tagger_trained_from_a_pretrained_encoder_says_so():
    config = {**CONFIG, "parent": {"path": "runs/m/pretrained", "tokenizer_sha256": "cd" * 32,
                                   "pretrained_encoder": True}}
    parent = render_model_card("ours", config, METRICS, _data_card(), RUN).split("\n## Parent model\n")[1]
    assert "encoder pretrained on masked tokens in `runs/m/pretrained`" in parent
    assert "New fields" not in parent and "cd" * 32 in parent


def test_model_card_of_a_fine_tune_names_its_parent():
    config = {**CONFIG, "parent": {"path": "runs/models/base-liquid", "tokenizer_sha256": "ab" * 32}}
    card = render_model_card("ours", config, METRICS, _data_card(), RUN)
    parent = card.split("\n## Parent model\n")[1]
    assert "`runs/models/base-liquid`" in parent and "`base-liquid`" in parent and "ab" * 32 in parent


def test_model_card_without_a_data_card_says_so():
    card = render_model_card("ours", CONFIG, METRICS, None, RUN)
    assert "data card not found" in card
    assert _front_matter(card)["model-index"][0]["results"][0]["dataset"]["name"] == "runs/ours"


def test_model_card_of_a_pretrained_encoder_is_a_fill_mask_card():
    config = {k: v for k, v in CONFIG.items() if k != "labels"}
    card = render_model_card("pre", config, {"val/mlm_loss": 4.5}, _data_card(), RUN)
    result = _front_matter(card)["model-index"][0]["results"][0]
    assert result["task"]["type"] == "fill-mask"
    assert result["metrics"] == [{"type": "loss", "value": 4.5, "name": "validation masked-token loss"}]
    assert "charts nothing by itself" in card and SENTINEL not in card


def test_model_card_written_by_train_and_by_a_fine_tune(dataset, tmp_path):
    base = tmp_path / "base"
    train(dataset, base, config=FAST, model_overrides=TINY["liquid"])
    card = (base / "MODEL_CARD.md").read_text(encoding="utf-8")
    metrics = json.loads((base / "metrics.json").read_text())
    data_card = json.loads((dataset / "data_card.json").read_text())
    (result,) = _front_matter(card)["model-index"][0]["results"]
    assert result["dataset"]["name"] == "synthetic" and "no input file (generated notes)" in card
    listed = {m["value"] for m in result["metrics"]}
    assert round(metrics["val/field_f1"], 4) in listed and round(metrics["val/loss"], 4) in listed
    assert f"| train | {data_card['splits']['train']:,} |" in card
    assert f"| validation | {data_card['splits']['validation']:,} |" in card
    age = data_card["labels"]["age"]
    silver = sum(n for source, n in age["spans_by_source"].items() if source.startswith("silver"))
    assert f"| age | {age['notes']['train']:,} | {age['spans_by_source']['gold']:,} | {silver:,} |" in card
    assert "2 epochs completed" in card and "), 1 process" in card and "Parent model" not in card

    hospital = tmp_path / "hospital"
    prepare("synthetic", None, hospital, options={"n": 30, "seed": 9}, tokenizer_from=base,
            show_progress=False, config=prepare_config(validation_fraction=0.3, test_fraction=0.1))
    tuned = tmp_path / "tuned"
    train(hospital, tuned, init=base, config=FAST)
    parent = yaml.safe_load((tuned / "config.yaml").read_text())["parent"]
    assert parent["path"] == str(base) and len(parent["tokenizer_sha256"]) == 64
    card = (tuned / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"from `{base}`" in card and parent["tokenizer_sha256"] in card
    assert _front_matter(card)["model-index"][0]["name"] == "tuned"

