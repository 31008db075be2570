"""The LightningModules: the plain models of :mod:`chartlnn.models` with their loss, validation
scores and optimizer. ``.net`` is the ``nn.Module`` a model directory stores (its state dict
keys are the net's own, so inference loads them without Lightning)."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from chartlnn.models.masked_lm import MaskedLM, mask_tokens
from chartlnn.models.tagger import Tagger
from chartlnn.tag_scores import field_f1
from chartlnn.tokenize import SPECIAL_TOKENS, UNK
from chartlnn.training.datamodule import PAD_TAG, batch_tag_names
from chartlnn.training.optim import adamw_warmup_cosine


class TaggerModule(L.LightningModule):
    """Trains a :class:`Tagger`: cross-entropy on both BIO heads, plus the note type (weighted).

    ``token_dropout`` replaces that share of training input tokens with ``[UNK]``, so a tag has to
    be read from the context as well as from the word itself: unseen drug names and spellings are
    what the model meets in other hospitals' notes. ``entity_tag_weights`` (one per entity tag, or
    None) weighs the entity loss per gold tag, so rare fields are not drowned by "O";
    ``section_tag_weights`` does the same for sections, so rare sections are not drowned by the
    common ones; ``label_smoothing`` spreads that share of each training target over the other
    tags (validation scores against the plain targets).
    ``gold_weight`` weighs every token of a fully reviewed note (its "O" is a person's, not the
    rules' silence) against 1 for a silver-labeled one. ``head_lr_scale`` multiplies the output
    heads' learning rate (:func:`chartlnn.training.optim.adamw_warmup_cosine`).
    """

    def __init__(self, vocab_size: int, section_tags: list[str], entity_tags: list[str],
                 note_types: list[str], encoder: dict[str, Any], lr: float = 2e-3,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.05,
                 note_type_weight: float = 0.2, budget_minutes: float | None = None,
                 token_dropout: float = 0.0, entity_tag_weights: list[float] | None = None,
                 gold_weight: float = 1.0, section_tag_weights: list[float] | None = None,
                 label_smoothing: float = 0.0, head_lr_scale: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = Tagger(vocab_size, len(section_tags), len(entity_tags), len(note_types), encoder)
        for name, weights in (("entity_weight", entity_tag_weights), ("section_weight", section_tag_weights)):
            self.register_buffer(name, None if weights is None
                                 else torch.tensor(weights, dtype=torch.float32), persistent=False)
        self._val_outputs: list[list[list[list[str]]]] = []

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(input_ids, mask)

    def _loss(self, batch: dict[str, torch.Tensor], train: bool = False
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ids = batch["input_ids"]
        if train and self.hparams.token_dropout:
            dropped = (torch.rand(ids.shape, device=ids.device) < self.hparams.token_dropout) & batch["mask"]
            ids = ids.masked_fill(dropped, SPECIAL_TOKENS.index(UNK))
        out = self(ids, batch["mask"])
        notes = torch.where(batch["reviewed"], self.hparams.gold_weight, 1.0)  # (B,)
        smoothing = self.hparams.label_smoothing if train else 0.0
        section = _tag_loss(out["section"], batch["section_tags"], notes, self.section_weight, smoothing)
        entity = _tag_loss(out["entity"], batch["entity_tags"], notes, self.entity_weight, smoothing)
        loss = section + entity
        if (batch["note_type"] >= 0).any():
            loss = loss + self.hparams.note_type_weight * F.cross_entropy(
                out["note_type"].float(), batch["note_type"], ignore_index=-1)
        return loss, out

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch, train=True)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, out = self._loss(batch)
        self.log("val/loss", loss, batch_size=batch["input_ids"].shape[0])
        self._val_outputs.append(batch_tag_names(batch, out, self.hparams.section_tags,
                                                 self.hparams.entity_tags))

    def on_fit_start(self) -> None:
        self._started = time.monotonic()

    def on_validation_epoch_end(self) -> None:
        columns = [sum((o[i] for o in self._val_outputs), []) for i in range(4)]
        self._val_outputs.clear()
        for name, value in field_f1(*columns).items():
            self.log(f"val/{name}", value, prog_bar=name == "field_f1")
        if self.trainer.state.fn == "fit":  # minutes so far: the learning curve's x axis
            self.log("val/train_minutes", (time.monotonic() - self._started) / 60)

    def configure_optimizers(self) -> dict[str, Any]:
        return _optimizer(self)


def _tag_loss(logits: torch.Tensor, tags: torch.Tensor, note_weight: torch.Tensor,
              tag_weight: torch.Tensor | None = None, smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over real tokens (B, T), each weighted by its note's weight (B,) and its gold
    tag's weight: the weighted mean, as ``F.cross_entropy(weight=...)`` takes it."""
    real = tags != PAD_TAG
    targets = tags.clamp(min=0)
    per_token = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none",
                                label_smoothing=smoothing)  # (B, T)
    weight = note_weight.unsqueeze(1) * real
    if tag_weight is not None:
        weight = weight * tag_weight[targets]
    return (per_token * weight).sum() / weight.sum().clamp(min=1e-8)


class MaskedLMModule(L.LightningModule):
    """Trains a :class:`MaskedLM` on masked-token prediction (labels unused)."""

    def __init__(self, vocab_size: int, encoder: dict[str, Any], lr: float = 2e-3,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.05, mask_rate: float = 0.15,
                 budget_minutes: float | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = MaskedLM(vocab_size, encoder)

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, targets = mask_tokens(batch["input_ids"], batch["mask"], self.hparams.vocab_size,
                                   self.hparams.mask_rate)
        chosen = targets != -100
        if not chosen.any():  # a short batch can draw no token to mask: nothing to learn from it
            return self.net.lm_head.weight.sum() * 0.0
        logits = self.net(ids, batch["mask"], at=chosen)  # (N, V): the masked positions only
        return F.cross_entropy(logits.float(), targets[chosen])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/mlm_loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("val/mlm_loss", self._loss(batch), prog_bar=True,
                 batch_size=batch["input_ids"].shape[0])

    def configure_optimizers(self) -> dict[str, Any]:
        return _optimizer(self)


def _optimizer(module: L.LightningModule) -> dict[str, Any]:
    hp = module.hparams
    budget = hp.budget_minutes * 60 if hp.budget_minutes else None
    return adamw_warmup_cosine(module, hp.lr, hp.weight_decay, hp.warmup_ratio,
                               int(module.trainer.estimated_stepping_batches), budget,
                               hp.get("head_lr_scale", 1.0))
