"""Training end to end on tiny synthetic data: every model kind, export/reload, fine-tuning,
resume after a kill, and two-process DDP on the CPU."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from safetensors.torch import load_file

from chartlnn.config import ConfigError, load_config
from chartlnn.preparing.builder import prepare
from chartlnn.inference.model import load
from chartlnn.models.tagger import Tagger
from chartlnn.config import shipped_config
from chartlnn.schema import validate_chart
from chartlnn.training.train import (StopOnNonFiniteLoss, TrainConfig, TrainError, model_config,
                                     pretrain, train, train_config_path)
from chartlnn.training.transfer import load_parent_weights
from conftest import FAST, TINY, prepare_config

SHIPPED = {"liquid": "liquid-small", "cfc": "cfc-small", "transformer": "transformer-small"}
CHARTLNN = str(Path(sys.executable).with_name("chartlnn"))


@pytest.mark.parametrize("name", sorted(shipped_config("model").parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_train_every_shipped_model_config_builds(name):
    config = model_config(name.stem)
    tagger = Tagger(vocab_size=100, n_section_tags=3, n_entity_tags=1, n_note_types=2, encoder=config)
    out = tagger(torch.randint(1, 100, (2, 7)), torch.ones(2, 7, dtype=torch.bool))
    assert out["section"].shape == (2, 7, 3) and out["note_type"].shape == (2, 2)


@pytest.mark.parametrize("name", sorted(shipped_config("train").parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_train_every_shipped_train_config_loads(name):
    assert isinstance(load_config(TrainConfig, train_config_path(name.stem)), TrainConfig)


def test_train_bad_model_config_names_the_problem():
    with pytest.raises(ConfigError, match="no model config 'huge'; shipped: cfc-small, liquid-small"):
        model_config("huge")
    with pytest.raises(ConfigError, match="colour"):
        model_config("liquid-small", {"colour": "blue"})
    with pytest.raises(ConfigError, match="char_buckets must be a whole number >= 0"):
        model_config("liquid-small", {"char_buckets": -1})


def test_train_with_character_ngrams_charts_from_the_saved_model(dataset, tmp_path):
    overrides = {**TINY["liquid"], "char_buckets": 64}
    train(dataset, tmp_path / "chars", config=FAST, model_overrides=overrides)
    model = load(tmp_path / "chars")
    assert torch.count_nonzero(model.tagger.char_embed.piece_ngrams) > 0
    chart = model.chart("Chief complaint: cough.\nMedications: lisinopril 10 mg daily.")
    validate_chart(chart)


@pytest.mark.parametrize("kind", ["cfc", "transformer"])
def test_train_other_kinds_end_to_end(kind, dataset, tmp_path):
    metrics = train(dataset, tmp_path / kind, model=SHIPPED[kind], config=FAST,
                    model_overrides=TINY[kind])
    assert 0.0 <= metrics["val/field_f1"] <= 1.0
    assert load(tmp_path / kind).config["model"]["kind"] == kind


def test_train_writes_a_loadable_model_directory(liquid_model):
    for name in ("model.safetensors", "config.yaml", "tokenizer.json", "schema.yaml", "metrics.json"):
        assert (liquid_model / name).exists(), name
    config = yaml.safe_load((liquid_model / "config.yaml").read_text())
    assert config["model"]["d_model"] == 16 and config["train"]["max_epochs"] == 2
    model = load(liquid_model)
    weights = load_file(str(liquid_model / "model.safetensors"))
    assert all(torch.equal(model.tagger.state_dict()[k], v) for k, v in weights.items())
    chart = model.chart("Pt is a 45 y/o male. BP 120/80. Takes aspirin 81 mg daily.", note_id="n")
    validate_chart(chart)
    assert chart["note_id"] == "n" and chart["model"]["encoder"] == "liquid"


def test_train_is_reproducible_with_a_seed(dataset, tmp_path):
    first = train(dataset, tmp_path / "a", config=FAST, model_overrides=TINY["liquid"])
    second = train(dataset, tmp_path / "b", config=FAST, model_overrides=TINY["liquid"])
    assert first == second
    weights = [load_file(str(tmp_path / run / "model.safetensors")) for run in ("a", "b")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_train_refuses_to_overwrite_a_model(dataset, liquid_model):
    with pytest.raises(TrainError, match="--overwrite"):
        train(dataset, liquid_model, config=FAST, model_overrides=TINY["liquid"])


def test_train_fine_tunes_from_a_model_with_its_tokenizer(liquid_model, tmp_path):
    new_data = tmp_path / "hospital"
    prepare("synthetic", None, new_data, options={"n": 30, "seed": 9}, tokenizer_from=liquid_model,
            show_progress=False, config=prepare_config(validation_fraction=0.3, test_fraction=0.1))
    metrics = train(new_data, tmp_path / "tuned", init=liquid_model, config=FAST)
    assert "val/field_f1" in metrics
    tuned = yaml.safe_load((tmp_path / "tuned" / "config.yaml").read_text())
    assert tuned["model"] == yaml.safe_load((liquid_model / "config.yaml").read_text())["model"]


def test_train_fine_tune_needs_the_model_tokenizer(dataset, liquid_model, tmp_path):
    other = tmp_path / "other"
    prepare("synthetic", None, other, options={"n": 30, "seed": 9}, show_progress=False,
            config=prepare_config(vocab_size=200, validation_fraction=0.3))
    with pytest.raises(TrainError, match="--tokenizer"):
        train(other, tmp_path / "tuned", init=liquid_model, config=FAST)


def test_train_from_a_pretrained_encoder(dataset, tmp_path):
    metrics = pretrain(dataset, tmp_path / "pre", config=FAST, model_overrides=TINY["liquid"])
    assert metrics["val/mlm_loss"] > 0
    config = yaml.safe_load((tmp_path / "pre" / "config.yaml").read_text())
    assert "labels" not in config and config["pretrained"]
    pretrained = load_file(str(tmp_path / "pre" / "model.safetensors"))
    tagger = Tagger(vocab_size=config["vocab_size"], n_section_tags=1, n_entity_tags=1, n_note_types=2,
                    encoder=config["model"])
    labels = {"section_tags": ["O"], "entity_tags": ["O"], "note_types": ["a", "b"]}
    transfer = load_parent_weights(tagger, pretrained, tmp_path / "pre", None, labels)
    assert transfer.kept == [] and transfer.dropped == []
    assert torch.equal(tagger.state_dict()["embed.weight"], pretrained["embed.weight"])
    assert train(dataset, tmp_path / "tuned", init=tmp_path / "pre", config=FAST)["val/field_f1"] >= 0


def _train_command(dataset, out, *extra):
    sets = ["max_epochs=3", "pretrain_minutes=0", "batch_size=4", "max_train_tokens=64", "accelerator=cpu",
            "checkpoint_every_n_steps=1", "model.d_model=16", "model.n_layers=1", *extra]
    return [CHARTLNN, "train", "--data", str(dataset), "--out", str(out),
            *[a for s in sets for a in ("--set", s)]]


def test_train_resumes_after_being_killed(dataset, tmp_path):
    out = tmp_path / "killed"
    command = _train_command(dataset, out, "devices=1", "max_epochs=40", "early_stopping_patience=100")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert last.exists() and not (out / "model.safetensors").exists()
    steps_before = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    assert (out / "model.safetensors").exists()
    assert steps_before > 0


@pytest.mark.skipif(sys.platform != "linux", reason="DDP on CPU is exercised on Linux")
def test_train_ddp_two_cpu_processes(dataset, tmp_path):
    out = tmp_path / "ddp"
    command = _train_command(dataset, out, "devices=2", "strategy=ddp", "max_epochs=1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.safetensors").exists()
    assert "MEMBER: 2/2" in result.stdout + result.stderr  # the second process really joined


def test_train_reads_notes_with_headers_at_the_kept_rate(dataset):
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.datamodule import collate

    examples = [load_prepared(dataset).splits["train"][i] for i in range(8)]
    headed = [ex["full_input_ids"] for ex in examples]
    torch.manual_seed(0)
    never = collate(examples, headers_kept_rate=0.0)
    always = collate(examples, headers_kept_rate=1.0)
    for i, ex in enumerate(examples):
        assert never["input_ids"][i, :len(ex["input_input_ids"])].tolist() == ex["input_input_ids"]
        assert always["input_ids"][i, :len(headed[i])].tolist() == headed[i]
    with pytest.raises(ConfigError, match="headers_kept_rate"):
        load_config(TrainConfig, overrides={"headers_kept_rate": 1.5})


def test_loaders_read_only_the_columns_collate_reads_and_batch_as_from_whole_rows(dataset):
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.datamodule import COLLATE_COLUMNS, TaggingDataModule, collate

    module = TaggingDataModule(dataset, batch_size=4, headers_kept_rate=0.5,
                               headers_partial_rate=0.5, section_swap=0.5, case_swap=0.5)
    module.setup()
    train, validation = module.train_dataloader(), module.val_dataloader()
    for loader in (train, validation):
        assert set(loader.dataset.column_names) <= set(COLLATE_COLUMNS)
    assert next(iter(train))["input_ids"].shape[0] == 4  # every rewrite finds what it reads
    whole = load_prepared(dataset).splits["validation"]
    first = next(iter(validation.batch_sampler))
    expected = collate([whole[i] for i in first])
    got = next(iter(validation))
    assert all(torch.equal(got[key], expected[key]) for key in expected)


def test_a_note_without_all_its_headers_is_its_input_view_and_without_some_lies_between(dataset):
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.datamodule import collate, without_some_headers

    train = load_prepared(dataset).splits["train"]
    examples = [ex for ex in (train[i] for i in range(len(train))) if ex["header_tokens"]][:8]
    assert examples, "the demo notes have headers"
    for ex in examples:
        full = (ex["full_input_ids"], ex["full_section_tags"], ex["full_entity_tags"])
        every = [list(r) for r in ex["header_tokens"]]
        torch.manual_seed(0)
        assert without_some_headers(*full, []) == tuple(map(list, full))
        with_none = without_some_headers(*full, every)  # a header stays with probability < 1 ...
        assert len(ex["input_input_ids"]) <= len(with_none[0]) <= len(full[0])
        for first, stop in every:  # ... headers are tagged O in both heads, so deleting is exact
            assert set(ex["full_section_tags"][first:stop]) == {0}
            assert set(ex["full_entity_tags"][first:stop]) == {0}
        kept = [i for i in range(len(full[0])) if not any(a <= i < b for a, b in every)]
        assert [full[0][i] for i in kept] == ex["input_input_ids"]
        assert [full[1][i] for i in kept] == ex["input_section_tags"]
        assert [full[2][i] for i in kept] == ex["input_entity_tags"]
    torch.manual_seed(1)
    batch = collate(examples * 8, headers_kept_rate=1.0, headers_partial_rate=1.0)
    real = batch["mask"].sum(1).tolist()
    partial = sum(len(ex["input_input_ids"]) < n < len(ex["full_input_ids"])
                  for ex, n in zip(examples * 8, real))
    assert partial > 0
    with pytest.raises(ConfigError, match="headers_partial_rate"):
        load_config(TrainConfig, overrides={"headers_partial_rate": -0.1})


def _sparse_fields_dataset(tmp_path, validation_fraction=0.2):
    """Notes in which most entity fields never occur and the allergen occurs once."""
    import csv

    rows = [{"id": f"n{i}", "text": f"CHIEF COMPLAINT: Cough for {i + 2} days.\n"
                                    f"MEDICATIONS: Aspirin {80 + i} mg daily.\n"
                                    + ("ALLERGIES: Penicillin.\n" if i == 0 else "") + "PLAN: Rest."}
            for i in range(30)]
    source = tmp_path / "sparse.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "sparse"
    prepare("csv", source, out, show_progress=False,
            config=prepare_config(vocab_size=300, validation_fraction=validation_fraction,
                                  test_fraction=0.0))
    return out


def test_train_entity_tag_weights_lift_rare_tags_and_cap_absent_ones(tmp_path):
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.train import ENTITY_WEIGHT_CAP, entity_tag_weights

    split = load_prepared(_sparse_fields_dataset(tmp_path)).splits["train"]
    names = split.features["input_entity_tags"].feature.names
    weights = dict(zip(names, entity_tag_weights(split, 0.5)))
    assert entity_tag_weights(split, 0.0) is None
    assert weights["O"] == 1.0
    assert 1.0 < weights["B-medication"] < weights["B-allergen"] <= ENTITY_WEIGHT_CAP
    assert weights["B-heart_rate"] == ENTITY_WEIGHT_CAP  # never seen: capped, not infinite


def test_train_section_tag_weights_lift_rare_sections_alike_for_b_and_i(tmp_path):
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.train import SECTION_WEIGHT_CAP, section_tag_weights

    split = load_prepared(_sparse_fields_dataset(tmp_path)).splits["train"]
    names = split.features["input_section_tags"].feature.names
    counts = dict.fromkeys(names, 0)
    for tags in split["input_section_tags"]:
        for tag in tags:
            counts[names[tag]] += 1
    weights = dict(zip(names, section_tag_weights(split, 0.5)))
    assert section_tag_weights(split, 0.0) is None
    assert min(weights.values()) == 1.0  # the most common field
    seen = [n for n in names if n.startswith("I-") and counts[n]]
    rarest, commonest = min(seen, key=counts.get), max(seen, key=counts.get)
    assert weights[rarest] > weights[commonest]
    field = rarest.partition("-")[2]
    assert weights[f"B-{field}"] == weights[f"I-{field}"]
    field_tokens = {n.partition("-")[2]: counts[f"B-{n[2:]}"] + counts[f"I-{n[2:]}"]
                    for n in names if n != "O"}
    unseen = [n for n in names if n != "O" and not field_tokens[n[2:]]]
    assert all(weights[n] == SECTION_WEIGHT_CAP for n in unseen)


def test_train_on_fields_absent_or_seen_once_with_dropout_and_balance(tmp_path):
    data = _sparse_fields_dataset(tmp_path)
    config = load_config(TrainConfig, overrides={**vars(FAST), "token_dropout": 0.2,
                                                 "entity_tag_balance": 0.5,
                                                 "section_tag_balance": 0.5,
                                                 "label_smoothing": 0.1})
    metrics = train(data, tmp_path / "model", model_overrides=TINY["liquid"], config=config)
    assert 0.0 <= metrics["val/field_f1"] <= 1.0
    chart = load(tmp_path / "model").chart("Aspirin 81 mg daily. Allergic to penicillin.")
    validate_chart(chart)
    with pytest.raises(ConfigError, match="token_dropout"):
        load_config(TrainConfig, overrides={"token_dropout": 1.0})
    with pytest.raises(ConfigError, match="label_smoothing"):
        load_config(TrainConfig, overrides={"label_smoothing": -0.1})


def test_train_without_validation_notes_is_one_clear_error(tmp_path):
    data = _sparse_fields_dataset(tmp_path, validation_fraction=0.0)
    with pytest.raises(TrainError, match="validation"):
        train(data, tmp_path / "model", model_overrides=TINY["liquid"], config=FAST)


def test_train_with_weight_averaging_exports_the_averaged_weights(dataset, tmp_path):
    config = load_config(TrainConfig, overrides={**vars(FAST), "ema_decay": 0.9})
    metrics = train(dataset, tmp_path / "ema", model_overrides=TINY["liquid"], config=config)
    plain = load_config(TrainConfig, overrides={**vars(FAST), "ema_decay": 0.0})
    train(dataset, tmp_path / "plain", model_overrides=TINY["liquid"], config=plain)
    exported = load_file(str(tmp_path / "ema" / "model.safetensors"))
    trained = load_file(str(tmp_path / "plain" / "model.safetensors"))
    assert any(not torch.equal(exported[k], trained[k]) for k in exported)  # same seed, averaged
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.training.datamodule import score_split

    validation = load_prepared(dataset).splits["validation"]
    scored = score_split(load(tmp_path / "ema"), validation)["field_f1"]
    assert abs(scored - metrics["val/field_f1"]) < 1e-6  # what was selected is what was saved
    with pytest.raises(ConfigError, match="ema_decay"):
        load_config(TrainConfig, overrides={"ema_decay": 1.0})


def test_train_keeps_the_last_weights_when_asked(dataset, tmp_path):
    def exported_and_checkpoint(keep, checkpoint):
        # patience 1: the run stops at its first epoch without a better F1, so its last is not its best
        config = load_config(TrainConfig, overrides={**vars(FAST), "ema_decay": 0.0, "keep": keep,
                                                     "max_epochs": 20, "early_stopping_patience": 1,
                                                     "checkpoint_every_n_steps": 1})
        out = tmp_path / keep
        train(dataset, out, model_overrides=TINY["liquid"], config=config)
        saved = torch.load(out / "checkpoints" / checkpoint, weights_only=True)["state_dict"]
        return load_file(str(out / "model.safetensors")), {k.removeprefix("net."): v for k, v in saved.items()}

    exported, last = exported_and_checkpoint("last", "last.ckpt")  # last.ckpt: after the final step
    assert exported.keys() == last.keys() and all(torch.equal(exported[k], last[k]) for k in last)
    exported, best = exported_and_checkpoint("best", "best.ckpt")
    assert all(torch.equal(exported[k], best[k]) for k in best)
    assert any(not torch.equal(last[k], best[k]) for k in best)
    with pytest.raises(ConfigError, match="keep must be best or last"):
        load_config(TrainConfig, overrides={"keep": "first"})


def test_train_takes_min_steps_past_max_epochs_and_early_stopping(dataset, tmp_path):
    # patience 1 would stop the run after its second epoch; one epoch is a few batches here
    config = load_config(TrainConfig, overrides={**vars(FAST), "max_epochs": 1, "min_steps": 25,
                                                 "early_stopping_patience": 1,
                                                 "checkpoint_every_n_steps": 1})
    train(dataset, tmp_path / "m", model_overrides=TINY["liquid"], config=config)
    last = torch.load(tmp_path / "m" / "checkpoints" / "last.ckpt", weights_only=True)
    assert 25 <= last["global_step"] < 25 + last["global_step"] // last["epoch"]
    assert yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())["train"]["max_epochs"] == 1
    with pytest.raises(ConfigError, match="min_steps must not be negative"):
        load_config(TrainConfig, overrides={"min_steps": -1})


@pytest.mark.parametrize("key", ["lr", "pretrain_lr", "head_lr_scale"])
def test_train_learning_rates_must_be_positive(key):
    with pytest.raises(ConfigError, match=f"{key} must be positive"):
        load_config(TrainConfig, overrides={key: 0.0})


class _DivergesAtStep3(L.LightningModule):
    """A real module whose loss turns NaN at its fourth step, as a training whose weights blew up."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        loss = (self.weight * batch[0]).sum()
        return loss * float("nan") if self.global_step >= 3 else loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_train_stops_when_the_loss_stops_being_finite():
    stopper = StopOnNonFiniteLoss()
    trainer = L.Trainer(max_epochs=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[stopper])
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(20, 1)), batch_size=2)
    trainer.fit(_DivergesAtStep3(), train_dataloaders=data)
    assert stopper.step == 4  # counted after the step that produced it
    assert trainer.global_step == 4  # not the 50 steps asked for


def test_train_pretrains_first_when_asked_and_names_it_the_parent(dataset, tmp_path):
    config = dataclasses.replace(FAST, max_minutes=5.0, pretrain_minutes=0.05, lr=2e-3,
                                 pretrain_lr=4e-3)
    lines = []
    train(dataset, tmp_path / "m", config=config, model_overrides=TINY["liquid"], log=lines.append)
    assert any("masked-token pretraining for 0.05 minutes" in line for line in lines)
    assert any("kept the pretrained embedding and encoder; the tagging heads of all" in line
               for line in lines)
    saved = yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())
    assert saved["parent"]["path"] == str(tmp_path / "m" / "pretrained") and saved["parent"]["pretrained_encoder"]
    assert saved["train"]["max_minutes"] == pytest.approx(4.95) and saved["train"]["pretrain_minutes"] == 0
    pretrained = yaml.safe_load((tmp_path / "m" / "pretrained" / "config.yaml").read_text())
    assert pretrained["train"]["max_minutes"] == 0.05
    for part, rate in (("pretrained", 4e-3), ("", 2e-3)):  # each phase at its own learning rate
        assert yaml.safe_load((tmp_path / "m" / part / "logs" / "hparams.yaml").read_text())["lr"] == rate
    validate_chart(load(tmp_path / "m").chart("Medications: lisinopril 10 mg daily."))
    with pytest.raises(TrainError, match="must leave part of max_minutes"):
        train(dataset, tmp_path / "n", config=dataclasses.replace(FAST, max_minutes=1.0, pretrain_minutes=1.0))


def test_weight_average_is_the_mean_of_a_short_run_then_an_ema():
    from torch import nn
    from torch.optim.swa_utils import AveragedModel

    from chartlnn.training.train import mean_then_ema

    decay = 0.75  # the mean for the first 1 / (1 - 0.75) = 4 updates, then the EMA
    layer = nn.Linear(1, 1, bias=False)
    average = AveragedModel(layer, avg_fn=mean_then_ema(decay), use_buffers=True)
    seen = []
    for value in (8.0, 0.0, 4.0, 4.0, 2.0, 6.0):
        with torch.no_grad():
            layer.weight.fill_(value)
        average.update_parameters(layer)
        seen.append(value)
        if len(seen) == 4:
            assert average.module.weight.item() == pytest.approx(sum(seen) / 4)  # not 8's share
    assert average.module.weight.item() == pytest.approx(decay * (decay * 4.0 + 0.25 * 2.0) + 0.25 * 6.0)


def test_weight_average_never_averages_an_index():
    from torch.optim.swa_utils import AveragedModel

    from chartlnn.models.char_ngrams import CharNgramEmbedding
    from chartlnn.training.train import mean_then_ema

    table = CharNgramEmbedding(vocab_size=4000, d_model=4, buckets=8192)
    table.piece_ngrams.copy_(torch.arange(4000 * table.piece_ngrams.shape[1]).view(4000, -1))
    average = AveragedModel(table, avg_fn=mean_then_ema(0.999), use_buffers=True)
    for _ in range(50):
        average.update_parameters(table)
    assert torch.equal(average.module.piece_ngrams, table.piece_ngrams)
