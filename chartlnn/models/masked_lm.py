"""Domain pretraining: the tagger's embedding and encoder learn to fill in masked tokens.

Parameter names match :class:`chartlnn.models.tagger.Tagger` (``embed``, ``encoder``, ``norm``), so
``chartlnn train --init PRETRAINED_DIR`` starts a tagger from them; the output layer (``lm_head``)
is not carried over.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from chartlnn.models import build_trunk
from chartlnn.models.optim import adamw_warmup_cosine
from chartlnn.tokenize import MASK, SPECIAL_TOKENS

MASK_ID = SPECIAL_TOKENS.index(MASK)


def mask_tokens(input_ids: torch.Tensor, mask: torch.Tensor, vocab_size: int,
                rate: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style corruption: of ``rate`` of the real tokens, 80% become [MASK], 10% a random
    token, 10% stay. Returns (corrupted ids (B, T), targets (B, T) with -100 where not chosen)."""
    chosen = (torch.rand(input_ids.shape, device=input_ids.device) < rate) & mask  # (B, T)
    targets = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    roll = torch.rand(input_ids.shape, device=input_ids.device)
    corrupted = torch.where(chosen & (roll < 0.8), torch.full_like(input_ids, MASK_ID), input_ids)
    random_ids = torch.randint(len(SPECIAL_TOKENS), vocab_size, input_ids.shape, device=input_ids.device)
    corrupted = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, corrupted)
    return corrupted, targets


class MaskedLM(L.LightningModule):
    def __init__(self, vocab_size: int, encoder: dict[str, Any], lr: float = 2e-3,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.05, mask_rate: float = 0.15,
                 budget_minutes: float | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.embed, self.encoder, self.norm = build_trunk(vocab_size, encoder)
        d_model = self.norm.normalized_shape[0]
        self.lm_head = nn.Linear(d_model, vocab_size)

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, targets = mask_tokens(batch["input_ids"], batch["mask"], self.hparams.vocab_size,
                                   self.hparams.mask_rate)
        x = self.norm(self.encoder(self.embed(ids), batch["mask"]))  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/mlm_loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("val/mlm_loss", self._loss(batch), prog_bar=True,
                 batch_size=batch["input_ids"].shape[0])

    def configure_optimizers(self) -> dict[str, Any]:
        budget = self.hparams.budget_minutes * 60 if self.hparams.budget_minutes else None
        return adamw_warmup_cosine(self, self.hparams.lr, self.hparams.weight_decay,
                                   self.hparams.warmup_ratio, int(self.trainer.estimated_stepping_batches),
                                   budget)
