import pytest

from chartlnn.config import ConfigError, load_config, parse_overrides
from chartlnn.dataset_builder import DEFAULT_CONFIG, PrepareConfig


def test_config_shipped_prepare_yaml_loads():
    config = load_config(PrepareConfig, DEFAULT_CONFIG)
    assert config == PrepareConfig()


def test_config_overrides_are_parsed_as_yaml():
    overrides = parse_overrides(["vocab_size=4000", "phi=fail", "test_fraction=0.2"])
    config = load_config(PrepareConfig, DEFAULT_CONFIG, overrides)
    assert (config.vocab_size, config.phi, config.test_fraction) == (4000, "fail", 0.2)


@pytest.mark.parametrize("overrides, message", [
    ({"vocab": 10}, "unknown key 'vocab'"),
    ({"vocab_size": "big"}, "vocab_size = 'big' is not"),
    ({"phi": "ignore"}, "phi = 'ignore'"),
    ({"test_fraction": 0.6, "validation_fraction": 0.5}, "must leave a train split"),
])
def test_config_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(PrepareConfig, DEFAULT_CONFIG, overrides)


def test_config_bad_override_syntax():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["vocab_size"])
