"""FLOPs of one tagger forward pass over one note, the figure printed beside joules per chart.

Convention, the same for every encoder kind:

- ``counted``: matrix products, as ``torch.utils.flop_counter.FlopCounterMode`` credits them
  (2 FLOPs per multiply-add of every Linear, batched matmul and attention product; bias adds
  are not counted). Attention runs on the math backend while counting: CPU's fused attention
  kernel has no formula in FlopCounterMode (it would count as 0), and the math backend's two
  batched matmuls are the FLOPs every fused kernel is credited with.
- ``recurrence``: the elementwise work of the liquid and CfC recurrences, which has no matmul
  and so escapes the counter, taken from the code by formula. Each multiply, add, subtract,
  reciprocal and each transcendental (exp, log-sigmoid, sigmoid, tanh) is 1 FLOP; a running sum
  is 1 add per element; sign flips, clamps, selects (``where``), casts and copies are 0.
- Not counted for any model: embedding lookups, LayerNorm, GELU, residual adds, dropout,
  pooling and attention's softmax (a few FLOPs per attention score, against 4 × head dim in its
  two matmuls). So the transformer's ``recurrence`` is 0 and the comparison is like for like:
  every model's matmuls plus the recurrence that replaces attention.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from chartlnn.models.liquid import CfCEncoder, LiquidEncoder
from chartlnn.models.transformer import TransformerEncoder

LIQUID_FLOPS_PER_CHANNEL = 11
"""Per direction, token and state channel of a ``LiquidLayer``: the gates, then ``liquid_scan``.

Gates 4: log-sigmoid (log a), sigmoid (1 - a), tanh (g), the product (1 - a) · g. Scan 7: the
running sum of log a, its exp, the reciprocal, b times it, the running sum of that, adding the
chunk's start state, times the decay. The scan's carry between chunks (2 FLOPs per channel per
chunk, at most 2 / chunk per token) and its padding to a whole chunk are left out, so the count
is exactly linear in tokens.
"""
CFC_FLOPS_PER_CHANNEL = 8
"""Per direction, token and state channel of a ``BiCfC`` step: tanh of ff1 and of ff2 (2),
time_a + time_b and its sigmoid (2), ff1 · (1 - t) + t · ff2 (4)."""
CFC_FLOPS_PER_BACKBONE_UNIT = 3
"""Per direction, token, backbone layer and unit: lecun_tanh, 1.7159 · tanh(0.666 · x)."""


def _recurrence_flops_per_token(encoder: nn.Module) -> int:
    """Elementwise recurrence FLOPs per token, all layers and both directions (module docstring)."""
    if isinstance(encoder, LiquidEncoder):
        return sum(2 * LIQUID_FLOPS_PER_CHANNEL * block.liquid.hidden for block in encoder.blocks)
    if isinstance(encoder, CfCEncoder):
        return sum(2 * (CFC_FLOPS_PER_CHANNEL * layer.fwd.ff1.out_features
                        + CFC_FLOPS_PER_BACKBONE_UNIT * sum(b.out_features for b in layer.fwd.backbone))
                   for layer in encoder.layers)
    if isinstance(encoder, TransformerEncoder):
        return 0
    raise TypeError(f"no FLOP formula for encoder {type(encoder).__name__}; "
                    "expected LiquidEncoder, CfCEncoder or TransformerEncoder")


def forward_flops(tagger: nn.Module, n_tokens: int) -> dict[str, int]:
    """FLOPs of one forward pass over one note of n_tokens: {"counted": ..., "recurrence": ..., "total": ...}

    ``tagger`` is a ``Tagger`` (``embed``, ``encoder``, heads); the note is n_tokens random ids
    in a batch of 1, run on the tagger's device without gradients. The module docstring has
    what each figure holds.
    """
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be at least 1, got {n_tokens}")
    device = next(tagger.parameters()).device
    ids = torch.randint(1, tagger.embed.num_embeddings, (1, n_tokens),
                        generator=torch.Generator().manual_seed(0)).to(device)  # (1, T), 0 is padding
    mask = torch.ones(1, n_tokens, dtype=torch.bool, device=device)  # (1, T)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), counter:
        tagger(ids, mask)
    counted = counter.get_total_flops()
    recurrence = n_tokens * _recurrence_flops_per_token(tagger.encoder)
    return {"counted": counted, "recurrence": recurrence, "total": counted + recurrence}
