"""Dropout whose mask is drawn eight elements per random 64-bit number.

On a CPU, torch's dropout draws one random number per element (``bernoulli_``), and that was 13%
of a liquid model's training step, more than its whole scan. Here the mask comes from random
bytes, eight to a 64-bit draw, and an element is dropped when its byte falls below
``round(p * 256)``: the rate is ``p`` to the nearest 1/256 (0.1 drops 26/256 = 10.2%), and the
kept elements are scaled by 256 / (256 - that) so the expected output equals the input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

RANDOM_BITS = (-2**63, 2**63 - 1)


class ByteDropout(nn.Module):
    """``nn.Dropout`` with a mask from random bytes (see the module docstring); identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be at least 0 and below 1, got {p}")
        self.p = p
        self.threshold = round(p * 256)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        draws = torch.randint(*RANDOM_BITS, ((n + 7) // 8,), dtype=torch.int64, device=x.device)
        keep = draws.view(torch.uint8)[:n].view(x.shape) >= self.threshold
        return x * (keep * (256 / (256 - self.threshold))).to(x.dtype)
