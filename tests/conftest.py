from pathlib import Path

import pytest

from chartlnn.config import load_config
from chartlnn.preparing.builder import PrepareConfig, prepare
from chartlnn.schema import load_schema
from chartlnn.training.train import TrainConfig, train

TINY = {"liquid": {"d_model": 16, "n_layers": 1, "char_buckets": 64},
        "cfc": {"d_model": 16, "n_layers": 1, "backbone_units": 16},
        "transformer": {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "window": 64}}
"""Encoder sizes small enough to train in seconds."""


def prepare_config(**overrides) -> PrepareConfig:
    """The shipped prepare defaults with ``overrides``."""
    return load_config(PrepareConfig, overrides=overrides)


FAST = load_config(TrainConfig, overrides=dict(
    max_epochs=2, max_minutes=None, pretrain_minutes=0.0, batch_size=8, max_train_tokens=128,
    lr=5e-3, head_lr_scale=1.0, pretrain_lr=5e-3, weight_decay=0.01, warmup_ratio=0.05,
    gradient_clip=1.0, accelerator="cpu", devices=1, precision=None, early_stopping_patience=5,
    seed=13, num_workers=0, checkpoint_every_n_steps=2))
MTSAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "mtsamples" / "mtsamples.csv.gz"


def assert_one_line_failures(command: str, cases: list[tuple[list[str], str]], out: Path) -> None:
    """Each ``(args, message)``: ``chartlnn COMMAND ARGS -o OUT`` exits 1 with one line that holds
    ``message``, before it creates OUT."""
    from typer.testing import CliRunner

    from chartlnn.cli import app

    for args, message in cases:
        result = CliRunner().invoke(app, [command, *args, "-o", str(out)])
        assert result.exit_code == 1, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
        assert not out.exists()


@pytest.fixture(scope="session")
def schema():
    return load_schema()


@pytest.fixture(scope="session")
def mtsamples_path():
    if not MTSAMPLES.exists():
        pytest.skip("MTSamples data not present (../shared/data/mtsamples)")
    return MTSAMPLES


@pytest.fixture(scope="session")
def mtsamples_texts(mtsamples_path):
    """The text of the first 1,000 MTSamples notes."""
    from chartlnn.notes import Note
    from data_recipes import get_recipe

    return [r.text for r in get_recipe("mtsamples")(mtsamples_path) if isinstance(r, Note)][:1000]


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """A prepared dataset of 40 synthetic notes (gold labels, tiny vocabulary)."""
    out = tmp_path_factory.mktemp("data") / "ds"
    prepare("synthetic", None, out, options={"n": 40, "seed": 1}, show_progress=False,
            config=prepare_config(vocab_size=300, validation_fraction=0.2, test_fraction=0.1))
    return out


@pytest.fixture(scope="session")
def liquid_model(dataset, tmp_path_factory):
    """A tiny liquid model directory trained for two epochs on ``dataset``."""
    out = tmp_path_factory.mktemp("models") / "liquid"
    train(dataset, out, model="liquid-small", config=FAST, model_overrides=TINY["liquid"])
    return out


@pytest.fixture(scope="session")
def transformer_model(dataset, tmp_path_factory):
    """A tiny transformer model directory trained like ``liquid_model``."""
    out = tmp_path_factory.mktemp("models") / "transformer"
    train(dataset, out, model="transformer-small", config=FAST, model_overrides=TINY["transformer"])
    return out
