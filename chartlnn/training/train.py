"""`chartlnn.training.train`: fit a tagger with Lightning on a prepared dataset and write a model directory.

Model directory::

    model.safetensors   the weights (never a pickle)
    config.yaml         the effective model and train config, label names, vocabulary size
    tokenizer.json      the dataset's tokenizer
    schema.yaml         the schema the labels follow
    metrics.json        validation metrics of the selected checkpoint
    MODEL_CARD.md       the Hugging Face model card: use, data counts, metrics, parent (no note text)
    checkpoints/        Lightning's last and best checkpoints (resume after an interruption)
    logs/               CSV (and TensorBoard, if installed) training logs

The selection rule is the same for every model: the checkpoint with the best validation
``field_f1`` (or, with ``keep: last``, the weights training ended with); early stopping on it; a
wall-clock budget (``max_minutes``) as a hard stop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import lightning as L
import numpy as np
import torch
import yaml
from torch import nn
from lightning.pytorch.callbacks import (EarlyStopping, ModelCheckpoint, RichProgressBar,
                                         TQDMProgressBar, WeightAveraging)
from lightning.pytorch.loggers import CSVLogger
from safetensors.torch import load_file, save_file

from chartlnn import __version__
from chartlnn.config import ConfigError, config_path, load_config, read_yaml
from chartlnn.errors import ChartlnnError
from chartlnn.preparing.dataset import load_prepared
from chartlnn.models import ENCODERS, build_encoder
from chartlnn.training.datamodule import TaggingDataModule
from chartlnn.training.model_card import TrainingRun, hardware, render_model_card
from chartlnn.tokenize import OUTSIDE
from chartlnn.training.modules import MaskedLMModule, TaggerModule
from chartlnn.training.transfer import TransferError, load_parent_weights

MONITOR = "val/field_f1"
ENTITY_WEIGHT_CAP = 10.0
"""No entity tag weighs more than this many "O" tokens, however rare it is."""
SECTION_WEIGHT_CAP = 10.0
"""No section field weighs more than this many tokens of the most common section."""


@dataclass
class TrainConfig:
    """How a model is fitted; the defaults are ``configs/train/default.yaml``."""

    KIND: ClassVar[str] = "train"
    max_epochs: int
    min_steps: int
    """Optimizer steps a run takes at least: epochs are added past ``max_epochs`` until a small
    training split (a few dozen reviewed notes) has had them, and early stopping waits for them
    (0: ``max_epochs`` alone). A fine-tune on 100 reviewed notes otherwise gets two thirds of the
    steps one on 200 gets, and stops still learning a new field."""
    max_minutes: float | None
    """Wall-clock budget; training stops when it is spent (None: no budget)."""
    pretrain_minutes: float
    """The first part of the budget spent on masked-token pretraining of the embedding and encoder
    on the training notes' text (0: none), the rest on tagging from there; a run with ``init``
    starts from that model instead and skips it."""
    batch_size: int
    max_train_tokens: int
    """Longer training notes are cut to a random window of this many tokens."""
    headers_kept_rate: float
    """Share of training notes read with their headers kept, drawn per note each epoch; the rest
    are read headerless. Both views teach the model to use a header when a note has one and to
    do without when it has none (validation reads notes headerless)."""
    headers_partial_rate: float
    """Share of the notes read with headers that keep only some of them: each header stays with a
    probability drawn per note from 0 to 1 (0: a note has all its headers or none). Real notes
    are often half-structured: a few headers, the rest dictated."""
    token_dropout: float
    """Share of training input tokens replaced by [UNK] (0: none), so tags are read from context too."""
    entity_tag_balance: float
    """Entity loss weight of gold tag t: (tokens tagged O / tokens tagged t) ** this, at most
    ENTITY_WEIGHT_CAP (0: plain cross-entropy). Lifts the rare fields (SpO2, routes, heights)."""
    label_smoothing: float
    """Share of each tag's training target spread over the other tags (0: one-hot targets): silver
    labels are not certain, and a model trained to certainty on them learns its notes by heart."""
    section_tag_balance: float
    """Section loss weight of field f's B and I tags (and of "O" as one more field): (tokens of
    the most common section / tokens of f) ** this, at most SECTION_WEIGHT_CAP (0: plain
    cross-entropy). Lifts sections few training notes have (hospital courses, surgical histories)."""
    mention_swap: float
    """Share of drug and allergen mentions in training notes replaced by another name from the
    field's lexicon, drawn afresh each epoch (0: off): the model learns a drug from its context,
    not only from the names in its training notes (:mod:`chartlnn.training.augment`)."""
    sig_swap: float
    """Share of route and frequency mentions in training notes rewritten in another form the
    normalizer reads ("p.o. b.i.d." → "by mouth BD"), drawn afresh each epoch (0: off): other
    hospitals write sigs their own way (:mod:`chartlnn.training.augment`)."""
    case_swap: float
    """Share of training notes read wholly in upper or in lower case, drawn afresh each epoch (0:
    off): some exports and dictation systems write notes in one case, and the tokenizer keeps
    case (:mod:`chartlnn.training.augment`)."""
    line_join: float
    """Share of training notes read as one paragraph, their line breaks left out, drawn afresh
    each epoch (0: off): dictations are often transcribed with sections run together
    (:mod:`chartlnn.training.augment`)."""
    mention_mask: float
    """Share of entity mentions in training notes read as [MASK] tokens, drawn afresh each epoch
    (0: off): their tags come from the context alone (:mod:`chartlnn.training.augment`)."""
    section_swap: float
    """Share of sections in training notes replaced by the same section of another training note,
    drawn afresh each epoch (0: off): the notes are recombined, so the model tells a section by
    its content, not by remembering the note (:mod:`chartlnn.training.augment`)."""
    ema_decay: float
    """Validate, select and export an exponential moving average of the weights with this decay
    per step (0: off, the weights as trained): the average smooths the last steps' noise."""
    gold_weight: float
    """Loss weight of every token of a fully reviewed note (Label Studio, complete gold files)
    against 1 for a silver-labeled note: a person's labels, and their "O", count for more."""
    lr: float
    """Peak learning rate of the embedding and encoder while tagging."""
    head_lr_scale: float
    """The output heads' learning rate over ``lr``: above 1 the heads, which start from nothing
    (a tagger's after pretraining, a fine-tune's new fields), learn faster than the pretrained
    trunk moves."""
    pretrain_lr: float
    """Peak learning rate of masked-token pretraining (``pretrain_minutes``, ``chartlnn pretrain``)."""
    weight_decay: float
    warmup_ratio: float
    gradient_clip: float
    early_stopping_patience: int
    """Epochs without a better validation field F1 before stopping."""
    keep: str
    """The weights the model directory gets: "best" (the epoch with the best validation field F1)
    or "last" (those training ended with). A fine-tune validates on a fifth of a few dozen
    reviewed notes, where the best epoch can be one before a new field was learned."""
    seed: int
    accelerator: str
    devices: int | str
    num_nodes: int
    strategy: str
    precision: str | None
    """None: bf16-mixed on a GPU, 32-bit on a CPU."""
    num_workers: int
    checkpoint_every_n_steps: int
    """How often last.ckpt is refreshed within an epoch (what a resumed run starts from)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.headers_kept_rate <= 1.0:
            raise ValueError("headers_kept_rate must be between 0 and 1")
        if not 0.0 <= self.headers_partial_rate <= 1.0:
            raise ValueError("headers_partial_rate must be between 0 and 1")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError("label_smoothing must be at least 0 and below 1")
        if not 0.0 <= self.token_dropout < 1.0:
            raise ValueError("token_dropout must be at least 0 and below 1")
        for name in ("entity_tag_balance", "section_tag_balance"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("mention_swap", "sig_swap", "case_swap", "line_join", "mention_mask",
                     "section_swap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("ema_decay must be at least 0 (off) and below 1")
        if self.gold_weight <= 0:
            raise ValueError("gold_weight must be positive")
        for name in ("lr", "pretrain_lr", "head_lr_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.pretrain_minutes < 0:
            raise ValueError("pretrain_minutes must not be negative")
        if self.min_steps < 0:
            raise ValueError("min_steps must not be negative")
        if self.keep not in ("best", "last"):
            raise ValueError(f"keep must be best or last, not {self.keep!r}")


class TrainError(ChartlnnError, ValueError):
    """A training request that cannot run as asked; the message says why and what to do."""


def model_config(name: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model YAML (a shipped name such as ``liquid-small``, or a path) plus overrides, checked by
    building it."""
    path = config_path("model", name)
    loaded = read_yaml(path)
    config = {**loaded, **(overrides or {})}
    kind = config.get("kind")
    if kind not in ENCODERS:
        raise ConfigError(f"{path}: kind must be one of {', '.join(ENCODERS)}, not {kind!r}")
    encoder = dict(config)
    buckets = encoder.pop("char_buckets", 0)
    if not isinstance(buckets, int) or isinstance(buckets, bool) or buckets < 0:
        raise ConfigError(f"{path}: char_buckets must be a whole number >= 0 (0: no character "
                          f"n-grams), not {buckets!r}")
    try:
        build_encoder(**encoder)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return config


def train_config_path(name: str | Path) -> Path:
    """``configs/train/NAME.yaml`` for a name, the path itself for a YAML path."""
    return config_path("train", name)


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{"lr": ..., "model.d_model": ...}`` → (train overrides, model overrides)."""
    train = {k: v for k, v in overrides.items() if not k.startswith("model.")}
    model = {k[len("model."):]: v for k, v in overrides.items() if k.startswith("model.")}
    return train, model


def train(data: str | Path, out: str | Path, *, model: str | Path = "liquid-small",
          config: TrainConfig | None = None, model_overrides: dict[str, Any] | None = None,
          init: str | Path | None = None, overwrite: bool = False,
          log: Callable[[str], None] = lambda message: None) -> dict[str, float]:
    """Fit a tagger on ``data``, write the model directory ``out``, return its validation metrics.

    ``init`` starts from a trained (or pretrained) model directory: its architecture is used and
    its weights loaded — the heads of the fields both schemas share carry over, new fields start
    fresh, removed ones are dropped, and ``log`` says which; the dataset must have been prepared
    with its tokenizer; config.yaml and the model card name it as the parent. A run whose ``out``
    holds a last checkpoint but no model yet resumes from that checkpoint.
    """
    config = config or load_config(TrainConfig)
    data, out = Path(data), Path(out)
    _prepare_out(out, overwrite)
    dataset = load_prepared(data)
    if init is None and config.pretrain_minutes:
        init, config = _pretrain_first(data, out, model, config, model_overrides, log)
    if init is not None:
        start = _read_model_dir(Path(init))
        _check_same_tokenizer(Path(init), data)
        encoder = start["config"]["model"]
        parent = {"path": str(init), "tokenizer_sha256": hashlib.sha256(
            (Path(init) / "tokenizer.json").read_bytes()).hexdigest()}
    else:
        encoder = model_config(model, model_overrides)
        parent = None
    features = dataset.splits["train"].features
    _check_splits(dataset, data)
    L.seed_everything(config.seed, workers=True, verbose=False)
    tagger = TaggerModule(
        vocab_size=dataset.tokenizer.get_vocab_size(),
        section_tags=features["input_section_tags"].feature.names,
        entity_tags=features["input_entity_tags"].feature.names,
        note_types=features["note_type"].names, encoder=encoder, lr=config.lr,
        weight_decay=config.weight_decay, warmup_ratio=config.warmup_ratio,
        budget_minutes=config.max_minutes, token_dropout=config.token_dropout,
        label_smoothing=config.label_smoothing,
        entity_tag_weights=entity_tag_weights(dataset.splits["train"], config.entity_tag_balance),
        section_tag_weights=section_tag_weights(dataset.splits["train"], config.section_tag_balance),
        gold_weight=config.gold_weight, head_lr_scale=config.head_lr_scale)
    _index_vocabulary(tagger.net, dataset.tokenizer)
    if init is not None:
        labels = {"section_tags": tagger.hparams.section_tags,
                  "entity_tags": tagger.hparams.entity_tags, "note_types": tagger.hparams.note_types}
        try:
            transfer = load_parent_weights(tagger.net, start["weights"], Path(init),
                                           start["config"].get("labels"), labels)
        except TransferError as exc:
            raise TrainError(str(exc)) from None
        log(transfer.describe(Path(init)))
        parent.update(transfer.as_dict())
    return _fit_and_export(tagger, data, out, config, encoder, MONITOR, "max", parent, log)


PRETRAINED = "pretrained"
"""Where in a model directory ``train`` keeps the encoder it pretrained (the model's parent)."""


def _pretrain_first(data: Path, out: Path, model: str | Path, config: TrainConfig,
                    model_overrides: dict[str, Any] | None, log: Callable[[str], None]
                    ) -> tuple[Path, TrainConfig]:
    """Masked-token pretraining for ``config.pretrain_minutes`` into out/pretrained (a resumed run
    that finds it there goes straight on), and the config for tagging in the rest of the budget.
    Each part records its own budget: the tagger's config.yaml names the pretrained one as parent."""
    if config.max_minutes is not None and config.pretrain_minutes >= config.max_minutes:
        raise TrainError(f"pretrain_minutes ({config.pretrain_minutes:g}) must leave part of "
                         f"max_minutes ({config.max_minutes:g}) for training the tagger")
    pretrained = out / PRETRAINED
    if (pretrained / "model.safetensors").exists():
        log(f"found the pretrained encoder in {pretrained}: training the tagger from it")
    else:
        log(f"masked-token pretraining for {config.pretrain_minutes:g} minutes on the training "
            f"notes' text, into {pretrained}")
        metrics = pretrain(data, pretrained, model=model, model_overrides=model_overrides,
                           config=dataclasses.replace(config, max_minutes=config.pretrain_minutes,
                                                      pretrain_minutes=0.0))
        log(f"pretrained: validation masked-token loss {metrics['val/mlm_loss']:.3f}")
    rest = None if config.max_minutes is None else config.max_minutes - config.pretrain_minutes
    return pretrained, dataclasses.replace(config, max_minutes=rest, pretrain_minutes=0.0)


def entity_tag_weights(split, balance: float) -> list[float] | None:
    """Per entity tag, (count of "O" / count of the tag) ** ``balance`` over the training split's
    headerless tags, capped at ENTITY_WEIGHT_CAP; "O" weighs 1. None when ``balance`` is 0."""
    if not balance:
        return None
    names, counts = _tag_counts(split, "input_entity_tags")
    outside = counts[names.index(OUTSIDE)]
    ratio = np.divide(outside, counts, out=np.full(len(names), np.inf), where=counts > 0)
    return [float(w) for w in np.minimum(ENTITY_WEIGHT_CAP, np.maximum(1.0, ratio) ** balance)]


def section_tag_weights(split, balance: float) -> list[float] | None:
    """Per section tag, (tokens of the most common section field / tokens of the tag's field) **
    ``balance`` over the training split's headerless tags, B and I of a field alike (weighing
    section starts apart would fragment sections), capped at SECTION_WEIGHT_CAP. None when
    ``balance`` is 0."""
    if not balance:
        return None
    names, counts = _tag_counts(split, "input_section_tags")
    fields = [name.partition("-")[2] or name for name in names]
    per_field = {field: sum(c for f, c in zip(fields, counts) if f == field) for field in fields}
    most = max(per_field.values())
    return [float(min(SECTION_WEIGHT_CAP, (most / per_field[f]) ** balance) if per_field[f]
                  else SECTION_WEIGHT_CAP) for f in fields]


def _tag_counts(split, column: str) -> tuple[list[str], np.ndarray]:
    """The tag names of a split's tag column and how many tokens carry each."""
    names = split.features[column].feature.names
    counts = np.zeros(len(names))
    for tags in split[column]:
        counts += np.bincount(tags, minlength=len(names))
    return names, counts


def pretrain(data: str | Path, out: str | Path, *, model: str | Path = "liquid-small",
             config: TrainConfig | None = None, model_overrides: dict[str, Any] | None = None,
             overwrite: bool = False) -> dict[str, float]:
    """Masked-token pretraining of the embedding and encoder on a prepared dataset's notes (labels
    unused); ``train --init out`` then fine-tunes from it. Returns the validation MLM loss."""
    config = config or load_config(TrainConfig)
    data, out = Path(data), Path(out)
    _prepare_out(out, overwrite)
    dataset = load_prepared(data)
    _check_splits(dataset, data)
    encoder = model_config(model, model_overrides)
    L.seed_everything(config.seed, workers=True, verbose=False)
    mlm = MaskedLMModule(vocab_size=dataset.tokenizer.get_vocab_size(), encoder=encoder,
                         lr=config.pretrain_lr, weight_decay=config.weight_decay,
                         warmup_ratio=config.warmup_ratio, budget_minutes=config.max_minutes)
    _index_vocabulary(mlm.net, dataset.tokenizer)
    return _fit_and_export(mlm, data, out, config, encoder, "val/mlm_loss", "min")


def _index_vocabulary(net: nn.Module, tokenizer) -> None:
    """Give a character n-gram embedding its vocabulary's pieces (saved with the weights)."""
    if net.char_embed is not None:
        vocab = tokenizer.get_vocab()
        net.char_embed.index(sorted(vocab, key=vocab.get))


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / "model.safetensors").exists() and not overwrite:
        raise TrainError(f"{out}: already holds a trained model (use --overwrite to replace it)")
    if overwrite and out.exists():
        shutil.rmtree(out)


def _check_splits(dataset, data: Path) -> None:
    if len(dataset.splits["train"]) == 0 or len(dataset.splits["validation"]) == 0:
        raise TrainError(f"{data}: training needs notes in both the train and validation splits")


def _fit_and_export(module: L.LightningModule, data: Path, out: Path, config: TrainConfig,
                    encoder: dict[str, Any], monitor: str, mode: str,
                    parent: dict[str, Any] | None = None,
                    log: Callable[[str], None] = lambda message: None) -> dict[str, float]:
    """Fit (resuming from out/checkpoints/last.ckpt if a run was cut short), reload the best
    checkpoint (unless ``config.keep`` is "last"), measure it on validation, write the model
    directory (``parent``: the ``--init`` model's path and tokenizer hash, recorded in config.yaml)."""
    datamodule = TaggingDataModule(data, batch_size=config.batch_size,
                                   max_train_tokens=config.max_train_tokens,
                                   num_workers=config.num_workers, seed=config.seed,
                                   headers_kept_rate=config.headers_kept_rate,
                                   headers_partial_rate=config.headers_partial_rate,
                                   mention_swap=config.mention_swap,
                                   section_swap=config.section_swap,
                                   mention_mask=config.mention_mask,
                                   sig_swap=config.sig_swap, case_swap=config.case_swap,
                                   line_join=config.line_join)
    trainer = _trainer(config, out, monitor, mode, _epochs_for(config, datamodule))
    last = out / "checkpoints" / "last.ckpt"
    started = time.monotonic()
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if last.exists() else None)
    stopper = next(c for c in trainer.callbacks if isinstance(c, StopOnNonFiniteLoss))
    if stopper.step is not None:
        rate_key = "pretrain_lr" if isinstance(module, MaskedLMModule) else "lr"
        if not (out / "checkpoints" / "best.ckpt").exists():
            raise TrainError(f"{out}: the training loss stopped being finite at step {stopper.step}, "
                             "before the first validation; nothing to keep (try a lower "
                             f"--set {rate_key}=...)")
        log(f"the training loss stopped being finite at step {stopper.step}: the run ended there "
            "and keeps its best checkpoint from before it")
    run = TrainingRun(minutes=(time.monotonic() - started) / 60,
        epochs=trainer.current_epoch, steps=trainer.global_step,
        parameters=sum(p.numel() for p in module.net.parameters()),
        encoder_parameters=sum(p.numel() for p in module.net.encoder.parameters()),
        hardware=hardware(trainer.strategy.root_device, trainer.num_devices * trainer.num_nodes),
        precision=str(trainer.precision))
    # A weight-averaged checkpoint keeps the average as its state_dict; with the callback still
    # there, loading it would put the un-averaged weights back. Without it, best is what loads;
    # the last weights are already in the module (the callback put the average there at the end).
    trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, WeightAveraging)]
    keep_last = config.keep == "last" and stopper.step is None  # never weights gone non-finite
    results = trainer.validate(module, datamodule=datamodule,
                               ckpt_path=None if keep_last else "best", verbose=False)
    metrics = {k: float(v) for k, v in results[0].items()}
    if trainer.is_global_zero:
        _export(out, module, encoder, config, data, metrics, parent, run)
    return metrics


def mean_then_ema(decay: float) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The averaging step of :class:`MeanThenEMA` (torch's ``AveragedModel`` ``avg_fn``): the
    running mean for the first 1 / (1 - decay) updates, the exponential moving average after.
    Integer buffers are copied, not averaged: 2/3 k + 1/3 k in float32 can round below k, and an
    index truncated a little more at every step wrecks the model."""

    @torch.no_grad()
    def update(average: torch.Tensor, current: torch.Tensor, averaged: torch.Tensor) -> torch.Tensor:
        if not average.is_floating_point():  # an index (the n-gram table's): never averaged
            return current
        weight = min(decay, 1.0 - 1.0 / (int(averaged) + 1))
        return weight * average + (1.0 - weight) * current

    return update


class MeanThenEMA(WeightAveraging):
    """Validate, select and export the weights averaged by :func:`mean_then_ema` after every
    step. Lightning's EMA starts from the first step's weights and keeps decay ** t of them: after
    the 276 steps of a short fine-tune that is 76% of the parent, so a field the parent did not
    have was never learned. A long run ends about where the plain EMA does."""

    def __init__(self, decay: float) -> None:
        super().__init__(use_buffers=True, avg_fn=mean_then_ema(decay))


class StopOnNonFiniteLoss(L.Callback):
    """Ends a run whose training loss stopped being a number: every step after it would be NaN
    too, and the best checkpoint, saved before it, is what the model directory gets."""

    def __init__(self) -> None:
        self.step: int | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss).all():
            self.step = trainer.global_step
            trainer.should_stop = True


def _epochs_for(config: TrainConfig, datamodule: TaggingDataModule) -> int:
    """``max_epochs``, raised until the training split has had ``min_steps`` batches."""
    if not config.min_steps:
        return config.max_epochs
    datamodule.setup("fit")
    batches = len(datamodule.train_dataloader())
    return max(config.max_epochs, -(-config.min_steps // max(1, batches)))


def _trainer(config: TrainConfig, out: Path, monitor: str = MONITOR, mode: str = "max",
             max_epochs: int | None = None) -> L.Trainer:
    on_gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    precision = config.precision or ("bf16-mixed" if on_gpu else "32-true")
    progress = RichProgressBar() if sys.stderr.isatty() else TQDMProgressBar(refresh_rate=50)
    loggers = [CSVLogger(out / "logs", name="", version="")]
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401  (the logger needs it installed)

        loggers.append(TensorBoardLogger(out / "logs", name="", version="tensorboard"))
    except ImportError:
        pass
    return L.Trainer(
        max_epochs=max_epochs or config.max_epochs, min_steps=config.min_steps or None,
        max_time={"minutes": config.max_minutes} if config.max_minutes else None,
        accelerator=config.accelerator, devices=config.devices, num_nodes=config.num_nodes,
        strategy=config.strategy, precision=precision, gradient_clip_val=config.gradient_clip,
        deterministic=False, use_distributed_sampler=False, logger=loggers, log_every_n_steps=10,
        enable_model_summary=False,
        callbacks=[
            ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=monitor, mode=mode,
                            save_top_k=1),
            # A last.ckpt every few steps too, so a run killed mid-epoch loses minutes, not epochs.
            ModelCheckpoint(dirpath=out / "checkpoints", save_top_k=0, save_last=True,
                            every_n_train_steps=config.checkpoint_every_n_steps),
            EarlyStopping(monitor=monitor, mode=mode, patience=config.early_stopping_patience),
            StopOnNonFiniteLoss(),
            progress,
            *([MeanThenEMA(config.ema_decay)] if config.ema_decay else []),
        ],
    )


def _export(out: Path, module: L.LightningModule, encoder: dict[str, Any], config: TrainConfig,
            data: Path, metrics: dict[str, float], parent: dict[str, Any] | None,
            run: TrainingRun) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in module.net.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    hp = module.hparams
    effective = {"chartlnn_version": __version__, "model": encoder, "train": dataclasses.asdict(config),
                 "vocab_size": hp.vocab_size, "data": str(data)}
    if isinstance(module, TaggerModule):
        effective["labels"] = {"section_tags": list(hp.section_tags), "entity_tags": list(hp.entity_tags),
                               "note_types": list(hp.note_types)}
        if hp.entity_tag_weights:  # what decoding leans on (chartlnn.inference.model.MENTION_LEAN)
            effective["entity_tag_weights"] = [float(w) for w in hp.entity_tag_weights]
    else:
        effective["pretrained"] = "masked-token prediction; fine-tune with `chartlnn train --init`"
    if parent is not None:
        effective["parent"] = parent
    (out / "config.yaml").write_text(yaml.safe_dump(effective, sort_keys=False), encoding="utf-8")
    shutil.copy(data / "tokenizer.json", out / "tokenizer.json")
    shutil.copy(data / "schema.yaml", out / "schema.yaml")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    card_file = data / "data_card.json"
    data_card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.exists() else None
    (out / "MODEL_CARD.md").write_text(render_model_card(out.name, effective, metrics, data_card, run),
                                       encoding="utf-8")


def _read_model_dir(path: Path) -> dict[str, Any]:
    missing = [n for n in ("model.safetensors", "config.yaml", "tokenizer.json") if not (path / n).exists()]
    if missing:
        raise TrainError(f"{path}: not a model directory (missing {', '.join(missing)})")
    return {"config": yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")),
            "weights": load_file(str(path / "model.safetensors"))}


def _check_same_tokenizer(model_dir: Path, data: Path) -> None:
    if (model_dir / "tokenizer.json").read_bytes() != (data / "tokenizer.json").read_bytes():
        raise TrainError(f"{data} was not prepared with {model_dir}'s tokenizer; prepare it again with "
                         f"`chartlnn prepare ... --tokenizer {model_dir}`")


