"""The baseline encoder: a small pre-norm transformer, (B, T, d_model) → (B, T, d_model).

Attention is ``F.scaled_dot_product_attention`` with a key-padding mask, positions are sinusoidal
within a window of ``window`` tokens. A note longer than the window is cut into overlapping
windows on a fixed grid (stride ``window * 3 // 4``, starts 0, s, 2s, ...); each token takes its
output from the window whose centre is nearest, so every token sees at least ``(window - s) / 2``
tokens of context on each side (except at the note's ends). The grid and the choice depend only
on the note's own length, never on the padded batch length, so padding changes nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from chartlnn.models.dropout import ByteDropout


def sinusoids(length: int, dim: int) -> Tensor:
    """The fixed sine/cosine position table of Vaswani et al. 2017: (length, dim)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (length, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


class Block(nn.Module):
    """Pre-norm transformer block: self-attention then a GELU MLP, each with a residual."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.drop = ByteDropout(dropout)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        """x (N, W, C); key_mask (N, 1, 1, W) bool, True where a key may be attended to."""
        n, w, c = x.shape
        qkv = self.qkv(self.norm1(x)).view(n, w, 3, self.n_heads, c // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (N, heads, W, head dim) each
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=dropout)  # like q
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(n, w, c)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """Pre-norm transformer encoder with windowed attention for notes longer than ``window``."""

    def __init__(self, d_model: int, n_layers: int, n_heads: int, d_ff: int, window: int, dropout: float):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        if window < 4:
            raise ValueError(f"window must be at least 4 tokens, got {window}")
        self.window = window
        self.stride = window * 3 // 4
        self.register_buffer("positions", sinusoids(window, d_model), persistent=False)
        self.drop = ByteDropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def encode(self, x: Tensor, mask: Tensor) -> Tensor:
        """Full attention within each row: x (N, W, C) with W ≤ window, mask (N, W) → (N, W, C)."""
        x = self.drop(x + self.positions[: x.shape[1]])
        # Right padding: a row's first key is real unless the whole row is padding; unmasking it
        # there keeps softmax finite for padded rows and changes nothing for real tokens.
        key_mask = mask.clone()
        key_mask[:, 0] = True
        key_mask = key_mask[:, None, None, :]  # (N, 1, 1, W)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.norm(x)

    def recurrence_flops_per_token(self) -> int:
        """No recurrence: attention's FLOPs are matmuls, which torch counts."""
        return 0

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, d_model) float, mask (B, T) bool with True at real tokens (right padding)."""
        batch, steps, dim = x.shape
        if steps <= self.window:
            return self.encode(x, mask)
        w, s = self.window, self.stride
        n_windows = -(-(steps - w) // s) + 1
        pad = (n_windows - 1) * s + w - steps
        xs = F.pad(x, (0, 0, 0, pad)).unfold(1, w, s)  # (B, n, C, W)
        ms = F.pad(mask, (0, pad)).unfold(1, w, s)  # (B, n, W)
        ys = self.encode(xs.transpose(2, 3).reshape(-1, w, dim), ms.reshape(-1, w))  # (B * n, W, C)
        # Each token's most central window among the note's own windows.
        lengths = mask.sum(1, keepdim=True)  # (B, 1)
        last = (lengths - w).clamp(min=0).add(s - 1).div(s, rounding_mode="floor")  # (B, 1): its last window
        i = torch.arange(steps, device=x.device).unsqueeze(0)  # (1, T)
        nearest = (2 * i - w + 1 + s).div(2 * s, rounding_mode="floor")  # k: k * s + (w - 1) / 2 ≈ i
        k = torch.minimum(nearest.clamp(min=0), last)  # (B, T)
        index = (k * w + i - k * s).unsqueeze(-1).expand(batch, steps, dim)  # (B, T, C) into (n * W)
        return ys.view(batch, n_windows * w, dim).gather(1, index)
