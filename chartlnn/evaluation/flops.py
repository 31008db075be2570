"""FLOPs of one tagger forward pass over one note, the figure printed beside joules per chart.

Convention, the same for every encoder kind:

- ``counted``: matrix products, as ``torch.utils.flop_counter.FlopCounterMode`` credits them
  (2 FLOPs per multiply-add of every Linear, batched matmul and attention product; bias adds
  are not counted). Attention runs on the math backend while counting: CPU's fused attention
  kernel has no formula in FlopCounterMode (it would count as 0), and the math backend's two
  batched matmuls are the FLOPs every fused kernel is credited with.
- ``recurrence``: the elementwise work of the liquid and CfC recurrences, which has no matmul
  and so escapes the counter, taken from the code by formula: each encoder reports its own
  (``recurrence_flops_per_token``). Each multiply, add, subtract,
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
    recurrence = n_tokens * tagger.encoder.recurrence_flops_per_token()
    return {"counted": counted, "recurrence": recurrence, "total": counted + recurrence}
