"""Character-aware input: the hashed character n-grams of each token's whole word, added to its
token embedding.

WordPiece cuts a rare drug name into pieces that mean nothing alone (``ser ##o ##qu ##el``), and
the pieces of an unseen one were never trained at all. Every piece of a word gets the mean of the
word's pieces' n-gram vectors, so "-olol", "-pril" or "-statin" and the shape of a number are in
view of each of them, and unseen words share statistics with the words they resemble. The n-grams
of each vocabulary piece are computed once from the tokenizer (:meth:`CharNgramEmbedding.index`)
and kept as buffers, so a saved model needs no tokenizer to rebuild them; a lookup per piece and a
mean per word are all it adds at inference, next to the encoder's cost.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from chartlnn.tokenize import CONTINUATION, SPECIAL_TOKENS

NGRAM_SIZES = (3, 4, 5)


def piece_ngrams(piece: str, sizes: Sequence[int] = NGRAM_SIZES) -> list[str]:
    """A vocabulary piece's features: its lowercased character n-grams (``<`` marks a word's start)
    and its shape (``Xx``, ``d``: letters and digits as classes, runs collapsed)."""
    continues = piece.startswith(CONTINUATION)
    body = piece[len(CONTINUATION):] if continues else piece
    marked = ("" if continues else "<") + body.lower()
    grams = [marked[i:i + n] for n in sizes for i in range(len(marked) - n + 1)]
    return ["shape:" + _shape(body)] + (grams or [marked])


def _shape(text: str) -> str:
    classes = ["d" if c.isdigit() else "X" if c.isupper() else "x" if c.isalpha() else c
               for c in text]
    return "".join(c for i, c in enumerate(classes) if i == 0 or c != classes[i - 1])


class CharNgramEmbedding(nn.Module):
    """(B, T) token ids → (B, T, d_model): the mean over the token's word of its pieces' summed
    n-gram vectors. ``buckets`` hashed n-gram rows (row 0 is padding); at most ``per_piece``
    features per piece (longer pieces keep their first ones: the shape and the short n-grams)."""

    def __init__(self, vocab_size: int, d_model: int, buckets: int, per_piece: int = 24) -> None:
        super().__init__()
        self.buckets = buckets
        self.weight = nn.Parameter(torch.randn(buckets + 1, d_model) * 0.02)
        with torch.no_grad():
            self.weight[0].zero_()
        self.register_buffer("piece_ngrams", torch.zeros(vocab_size, per_piece, dtype=torch.long))
        self.register_buffer("continues_word", torch.zeros(vocab_size, dtype=torch.bool))

    def index(self, pieces: Sequence[str]) -> None:
        """Fill the per-piece n-gram rows and word-continuation flags from the vocabulary
        (``pieces[id]``), before training; a loaded model has them already. Special tokens
        ([PAD], [UNK], [MASK]) have none."""
        table = torch.zeros_like(self.piece_ngrams)
        for i, piece in enumerate(pieces):
            if piece in SPECIAL_TOKENS:
                continue
            rows = [1 + zlib.crc32(g.encode()) % self.buckets for g in piece_ngrams(piece)]
            rows = rows[:table.shape[1]]
            table[i, :len(rows)] = torch.tensor(rows)
        self.piece_ngrams.copy_(table)
        self.continues_word.copy_(torch.tensor([p.startswith(CONTINUATION) for p in pieces]))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        unique, inverse = torch.unique(input_ids, return_inverse=True)
        per_piece = F.embedding_bag(self.piece_ngrams[unique], self.weight, mode="sum",
                                    padding_idx=0)  # (U, C)
        x = per_piece[inverse]  # (B, T, C)
        starts = ~self.continues_word[input_ids]  # (B, T): a word starts at every non-## piece
        word = starts.long().cumsum(1) - 1  # (B, T): word index within the row
        word = word.clamp(min=0).unsqueeze(-1)  # a leading ## piece joins the first word
        sums = torch.zeros_like(x).scatter_add_(1, word.expand_as(x), x)
        counts = torch.zeros(x.shape[:2] + (1,), dtype=x.dtype, device=x.device).scatter_add_(
            1, word, torch.ones_like(x[..., :1]))
        return (sums / counts.clamp(min=1)).gather(1, word.expand_as(x))
