"""The tagger: token embedding → sequence encoder → one BIO head per label family + a note-type head.

One LightningModule for every encoder kind (liquid, cfc, transformer), so the baseline is trained
exactly like the liquid model: same heads, loss, optimizer, schedule and selection rule.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from chartlnn.data import PAD_TAG
from chartlnn.evaluate import batch_tag_names, field_f1
from chartlnn.models import build_trunk
from chartlnn.models.optim import adamw_warmup_cosine


class Tagger(L.LightningModule):
    """Tags every token with a section and an entity BIO tag and classifies the note type.

    Built from flat arguments; ``encoder`` holds the encoder's own keyword arguments (its YAML).
    """

    def __init__(self, vocab_size: int, section_tags: list[str], entity_tags: list[str],
                 note_types: list[str], encoder: dict[str, Any], lr: float = 2e-3,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.05,
                 note_type_weight: float = 0.2, budget_minutes: float | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.embed, self.encoder, self.norm = build_trunk(vocab_size, encoder)
        d_model = self.norm.normalized_shape[0]
        self.section_head = nn.Linear(d_model, len(section_tags))
        self.entity_head = nn.Linear(d_model, len(entity_tags))
        self.note_type_head = nn.Linear(d_model, len(note_types))
        self._val_outputs: list[list[list[list[str]]]] = []

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.norm(self.encoder(self.embed(input_ids), mask))  # (B, T, C)
        weights = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)  # (B, C)
        return {"section": self.section_head(x), "entity": self.entity_head(x),
                "note_type": self.note_type_head(pooled)}

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self(batch["input_ids"], batch["mask"])
        section = F.cross_entropy(out["section"].flatten(0, 1).float(), batch["section_tags"].flatten(),
                                  ignore_index=PAD_TAG)
        entity = F.cross_entropy(out["entity"].flatten(0, 1).float(), batch["entity_tags"].flatten(),
                                 ignore_index=PAD_TAG)
        loss = section + entity
        if (batch["note_type"] >= 0).any():
            loss = loss + self.hparams.note_type_weight * F.cross_entropy(
                out["note_type"].float(), batch["note_type"], ignore_index=-1)
        return loss, out

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, out = self._loss(batch)
        self.log("val/loss", loss, batch_size=batch["input_ids"].shape[0])
        self._val_outputs.append(batch_tag_names(batch, out, self.hparams.section_tags,
                                                 self.hparams.entity_tags))

    def on_validation_epoch_end(self) -> None:
        columns = [sum((o[i] for o in self._val_outputs), []) for i in range(4)]
        self._val_outputs.clear()
        for name, value in field_f1(*columns).items():
            self.log(f"val/{name}", value, prog_bar=name == "field_f1")

    def configure_optimizers(self) -> dict[str, Any]:
        budget = self.hparams.budget_minutes * 60 if self.hparams.budget_minutes else None
        return adamw_warmup_cosine(self, self.hparams.lr, self.hparams.weight_decay,
                                   self.hparams.warmup_ratio, int(self.trainer.estimated_stepping_batches),
                                   budget)
