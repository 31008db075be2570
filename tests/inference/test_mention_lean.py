"""Entity decoding leans toward mentions by MENTION_LEAN × the log of the tag weights the model
trained with, read from its config.yaml; a model that recorded none decodes as its network says."""

import shutil

import numpy as np
import yaml

from chartlnn.inference.model import MENTION_LEAN, load
from chartlnn.training.train import entity_tag_weights
from chartlnn.preparing.dataset import load_prepared

NOTE = "The patient is a 54-year-old man on aspirin 81 mg daily and lisinopril 10 mg daily."


def test_training_records_its_tag_weights_and_decoding_leans_on_them(liquid_model, dataset):
    config = yaml.safe_load((liquid_model / "config.yaml").read_text())
    train = load_prepared(dataset).splits["train"]
    weights = entity_tag_weights(train, config["train"]["entity_tag_balance"])
    assert config["entity_tag_weights"] == [float(w) for w in weights]
    assert len(weights) == len(config["labels"]["entity_tags"]) and max(weights) > 1
    model = load(liquid_model)
    assert np.allclose(model.entity_lean, MENTION_LEAN * np.log(weights), atol=1e-6)


def test_a_lean_toward_a_tag_decodes_more_of_it_and_no_weights_no_lean(liquid_model, tmp_path):
    model = load(liquid_model)
    ages = len(model.chart(NOTE)["entities"].get("age", []))
    tags = model.config["labels"]["entity_tags"]
    model.entity_lean = np.zeros(len(tags), dtype=np.float32)
    model.entity_lean[tags.index("B-age")] = 100.0  # outweighs any network
    assert len(model.chart(NOTE)["entities"].get("age", [])) > max(ages, 5)

    unweighted = tmp_path / "unweighted"
    shutil.copytree(liquid_model, unweighted)
    config = yaml.safe_load((unweighted / "config.yaml").read_text())
    del config["entity_tag_weights"]
    (unweighted / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    plain = load(unweighted)
    assert not plain.entity_lean.any()
    leaned = load(liquid_model)
    leaned.entity_lean = np.zeros_like(leaned.entity_lean)
    assert plain.chart(NOTE)["entities"] == leaned.chart(NOTE)["entities"]
