"""Domain pretraining: the tagger's embedding and encoder learn to fill in masked tokens.

Parameter names match :class:`chartlnn.models.tagger.Tagger` (``embed``, ``encoder``, ``norm``), so
``chartlnn train --init PRETRAINED_DIR`` starts a tagger from them; the output layer (``lm_head``)
is not carried over.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chartlnn.models import build_trunk, embed_tokens
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


class MaskedLM(nn.Module):
    """Embedding → encoder → norm → a vocabulary head: logits (B, T, V) for every position, or
    (N, V) for the N positions of ``at`` (B, T) bool: the loss needs only the masked ones, and
    the head over the vocabulary costs more than the encoder, so training asks for those alone."""

    def __init__(self, vocab_size: int, encoder: dict[str, Any]) -> None:
        super().__init__()
        self.embed, self.char_embed, self.encoder, self.norm = build_trunk(vocab_size, encoder)
        self.lm_head = nn.Linear(self.norm.normalized_shape[0], vocab_size)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor,
                at: torch.Tensor | None = None) -> torch.Tensor:
        features = self.norm(self.encoder(embed_tokens(self, input_ids), mask))  # (B, T, d_model)
        return self.lm_head(features if at is None else features[at])
