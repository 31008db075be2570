"""The optimizer and schedule every model trains with: AdamW, linear warm-up, cosine decay."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn


def adamw_warmup_cosine(module: nn.Module, lr: float, weight_decay: float, warmup_ratio: float,
                        total_steps: int, budget_seconds: float | None = None,
                        head_lr_scale: float = 1.0) -> dict[str, Any]:
    """Lightning's ``configure_optimizers`` answer. No weight decay on biases, norms, embeddings;
    the learning rate ends at 5% of its peak. The output heads (parameters named ``*_head.*``)
    learn at ``head_lr_scale`` times ``lr``: a fine-tune's new fields start from nothing there
    while the trunk is already trained.

    With a wall-clock budget the warm-up and the cosine each run on whichever is further along,
    steps or time, so a model trained for "15 minutes" gets its whole schedule in them however
    fast it is (the fair way to compare models of different speed under one budget), and a large
    ``max_epochs`` beside a short budget does not leave it warming up the whole run.
    """
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, parameter in module.named_parameters():
        decays = parameter.ndim >= 2 and "embed" not in name
        groups.setdefault((decays, "_head." in name), []).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": params, "weight_decay": weight_decay if decays else 0.0,
          "lr": lr * (head_lr_scale if head else 1.0)}
         for (decays, head), params in sorted(groups.items())], lr=lr)
    total = max(1, total_steps)
    warmup = max(1, int(total * warmup_ratio))

    started = time.monotonic()

    def factor(step: int) -> float:
        elapsed = time.monotonic() - started
        warm = (step + 1) / warmup
        if budget_seconds and warmup_ratio > 0:
            warm = max(warm, elapsed / (warmup_ratio * budget_seconds))
        if warm < 1:
            return warm
        progress = max(0.0, (step - warmup) / max(1, total - warmup))
        if budget_seconds:
            progress = max(progress, elapsed / budget_seconds)
        progress = min(1.0, progress)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
