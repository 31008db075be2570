"""A fine-tune whose schema adds and drops fields: shared heads carry over by tag name, new
fields start fresh, removed ones are dropped, and the run and the model card say which."""

import pytest
import torch
import yaml

from chartlnn.inference.model import load
from chartlnn.models.tagger import Tagger
from chartlnn.preparing.builder import prepare
from chartlnn.schema import DEFAULT_SCHEMA, load_schema, validate_chart
from chartlnn.training.train import train
from chartlnn.training.transfer import load_parent_weights
from conftest import FAST, prepare_config

ENCODER = {"kind": "liquid", "d_model": 8, "n_layers": 1, "mlp_ratio": 2.0, "dropout": 0.0, "chunk": 4}
PARENT = {"section_tags": ["O", "B-plan", "I-plan", "B-allergies", "I-allergies"],
          "entity_tags": ["O", "B-age", "I-age", "B-spo2", "I-spo2"], "note_types": ["a", "b"]}
CHILD = {"section_tags": ["O", "B-allergies", "I-allergies", "B-plan", "I-plan"],
         "entity_tags": ["O", "B-age", "I-age", "B-pain_score", "I-pain_score"],
         "note_types": ["a", "b"]}


def _tagger(labels):
    return Tagger(50, len(labels["section_tags"]), len(labels["entity_tags"]),
                  len(labels["note_types"]), ENCODER)


def test_heads_carry_over_by_tag_name_not_position(tmp_path):
    torch.manual_seed(0)
    parent, child = _tagger(PARENT), _tagger(CHILD)
    fresh_row = child.entity_head.weight[3].clone()
    transfer = load_parent_weights(child, parent.state_dict(), tmp_path, PARENT, CHILD)
    assert (transfer.kept, transfer.added, transfer.dropped) == (
        ["allergies", "plan", "age"], ["pain_score"], ["spo2"])
    for new, old in ((1, 3), (2, 4), (3, 1), (4, 2)):  # sections swapped places
        assert torch.equal(child.section_head.weight[new], parent.section_head.weight[old])
        assert torch.equal(child.section_head.bias[new], parent.section_head.bias[old])
    assert torch.equal(child.entity_head.weight[1], parent.entity_head.weight[1])  # B-age
    assert torch.equal(child.entity_head.weight[3], fresh_row)  # B-pain_score: fresh
    parent_encoder = parent.encoder.state_dict()
    assert all(torch.equal(v, parent_encoder[k]) for k, v in child.encoder.state_dict().items())
    assert transfer.describe(tmp_path).endswith(
        "heads of 3 shared fields; new fields start fresh: pain_score; dropped (not in this "
        "schema): spo2")


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = Tagger(50, 5, 5, 2, {**ENCODER, "d_model": 16})
    with pytest.raises(ValueError, match="do not fit this model"):
        load_parent_weights(_tagger(CHILD), other.state_dict(), tmp_path, PARENT, CHILD)


def test_a_fine_tune_with_a_new_field_says_what_it_kept(liquid_model, tmp_path):
    schema_file = tmp_path / "hospital.yaml"
    raw = yaml.safe_load(DEFAULT_SCHEMA.read_text())
    raw["name"] = "hospital"
    del raw["entities"]["spo2"]
    raw["entities"]["pain_score"] = {"description": "Pain on a 0-10 scale.", "unit": "1"}
    schema_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    data = tmp_path / "hospital"
    prepare("synthetic", None, data, options={"n": 30, "seed": 9}, tokenizer_from=liquid_model,
            schema=load_schema(schema_file), show_progress=False,
            config=prepare_config(validation_fraction=0.3, test_fraction=0.1))
    said = []
    train(data, tmp_path / "tuned", init=liquid_model, config=FAST, log=said.append)
    assert len(said) == 1 and "new fields start fresh: pain_score" in said[0]
    assert "dropped (not in this schema): spo2" in said[0]
    card = (tmp_path / "tuned" / "MODEL_CARD.md").read_text()
    assert "New fields (heads trained from scratch) (1): pain_score" in card
    assert "Parent's fields this model no longer has (1): spo2" in card
    model = load(tmp_path / "tuned")
    assert "B-pain_score" in model.config["labels"]["entity_tags"]
    assert "B-spo2" not in model.config["labels"]["entity_tags"]
    validate_chart(model.chart("Pain 6/10. BP 120/80. SpO2 97%.", note_id="n"))
