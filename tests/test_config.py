import dataclasses

import pytest
import yaml

from chartlnn.config import ConfigError, config_path, load_config, parse_overrides, shipped_config
from chartlnn.preparing.builder import PrepareConfig
from chartlnn.training.train import TrainConfig


@pytest.mark.parametrize("cls", [PrepareConfig, TrainConfig])
def test_config_shipped_defaults_hold_every_key(cls):
    """The YAML is the one place defaults live: every field comes from it."""
    raw = yaml.safe_load(shipped_config(cls.KIND).read_text())
    config = load_config(cls)
    assert set(raw) == {f.name for f in dataclasses.fields(config)}
    assert all(getattr(config, key) == value for key, value in raw.items())


def test_config_a_user_file_changes_only_what_it_names(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("vocab_size: 500\n")
    config = load_config(PrepareConfig, path)
    assert config.vocab_size == 500 and config.seed == load_config(PrepareConfig).seed


def test_config_overrides_are_parsed_as_yaml():
    overrides = parse_overrides(["vocab_size=4000", "phi=fail", "test_fraction=0.2"])
    config = load_config(PrepareConfig, overrides=overrides)
    assert (config.vocab_size, config.phi, config.test_fraction) == (4000, "fail", 0.2)


@pytest.mark.parametrize("overrides, message", [
    ({"vocab": 10}, "unknown key 'vocab'"),
    ({"vocab_size": "big"}, "vocab_size = 'big' is not"),
    ({"phi": "ignore"}, "phi = 'ignore'"),
    ({"test_fraction": 0.6, "validation_fraction": 0.5}, "must leave a train split"),
])
def test_config_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(PrepareConfig, overrides=overrides)


def test_config_bad_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(PrepareConfig, bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(PrepareConfig, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no train config 'fastest'; shipped: default, finetune, quick"):
        config_path("train", "fastest")


def test_config_bad_override_syntax():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["vocab_size"])
