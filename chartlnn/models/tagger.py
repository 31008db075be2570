"""The tagger: token embedding → sequence encoder → one BIO head per label family + a note-type head.

A plain ``nn.Module`` for every encoder kind (liquid, cfc, transformer): inference loads it
without Lightning, and training wraps it (:mod:`chartlnn.training.modules`), so the baseline is
trained exactly like the liquid model: same heads, loss, optimizer, schedule and selection rule.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chartlnn.models import build_trunk, embed_tokens


class Tagger(nn.Module):
    """Tags every token with a section and an entity BIO tag and classifies the note type.

    Built from flat arguments; ``encoder`` holds the encoder's own keyword arguments (its YAML).
    """

    def __init__(self, vocab_size: int, n_section_tags: int, n_entity_tags: int, n_note_types: int,
                 encoder: dict[str, Any]) -> None:
        super().__init__()
        self.embed, self.char_embed, self.encoder, self.norm = build_trunk(vocab_size, encoder)
        d_model = self.norm.normalized_shape[0]
        self.section_head = nn.Linear(d_model, n_section_tags)
        self.entity_head = nn.Linear(d_model, n_entity_tags)
        self.note_type_head = nn.Linear(d_model, n_note_types)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.norm(self.encoder(embed_tokens(self, input_ids), mask))  # (B, T, C)
        weights = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)  # (B, C)
        return {"section": self.section_head(x), "entity": self.entity_head(x),
                "note_type": self.note_type_head(pooled)}
