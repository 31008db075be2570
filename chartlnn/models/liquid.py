"""The liquid (CfC-family) encoders: token embeddings (B, T, d_model) → contextual features.

Two models, one family (Hasani et al., "Closed-form continuous-time neural networks", Nature
Machine Intelligence 2022):

- ``CfCEncoder`` (kind "cfc"): the closed-form continuous-time cell exactly as the reference
  implementation ``ncps.torch.CfCCell`` computes it in its default mode, run token by token.
  Per step, with ``ts`` the elapsed time (1 per token, ncps's default timespan)::

      z      = backbone([x_t, h_{t-1}])                  # Linear + lecun_tanh, backbone_layers times
      t      = sigmoid(time_a(z) * ts + time_b(z))       # the time gate
      h_t    = tanh(ff1(z)) * (1 - t) + t * tanh(ff2(z))

- ``LiquidEncoder`` (kind "liquid", the default): the same closed form with the state taken out
  of the heads, so the time gate depends on the token alone and the update is elementwise. Per
  direction and channel, from h_0 = 0::

      a_t    = sigmoid(max(time(x_t), -20))              # time(x) = time_a(x) * ts + time_b(x), ts = 1
      g_t    = tanh(ff1(x_t))
      h_t    = a_t * h_{t-1} + (1 - a_t) * g_t

  This is CfC's ``h = ff1 * (1 - t_interp) + t_interp * ff2`` with ``t_interp → a_t`` and
  ``ff2 → h_{t-1}``: what the time gate keeps is the memory, and ``ff1`` is the value the state
  relaxes to as elapsed time grows. The heads read x_t alone (no backbone over [x_t, h_{t-1}]:
  the block's MLP and the layer below play that role). With ts fixed at 1, CfC's
  ``time_a(x) * ts + time_b(x)`` is one linear map of x, so it is one head ``time`` here. The
  floor at -20 (a_t ≥ 2e-9, a state weight below float32 resolution) bounds -log a_t for the
  scan. Because a_t does not depend on h, the gates for the whole note come from one matmul and
  the recurrence runs as a chunked scan (``liquid_scan``), linear in T with no length cap;
  ``liquid_scan_reference`` is the same recurrence as a plain loop over tokens.

Both run bidirectionally (a second pass over the reversed note) under right padding: a padded
step keeps the state (a = 1, no input), so a reversed pass starting in the padding reaches the
note's last token with the same zero state it would have without padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from chartlnn.kernels.scan_library import TIME_FLOOR
from chartlnn.models.dropout import ByteDropout
from chartlnn.models.native_scan import compiled_scan_runs, liquid_states

MAX_CHUNK = 32
"""Longest scan chunk: 32 steps × 20 (the most -log a_t can be) stays below float64's exp range."""
SCAN_BLOCK = 2**18
"""Numbers (batch × tokens × channels) the scan takes per block: 2 MiB per float64 temporary."""


LIQUID_FLOPS_PER_CHANNEL = 11
"""Recurrence FLOPs per direction, token and state channel of a ``LiquidLayer`` (the convention is
:mod:`chartlnn.evaluation.flops`'s): the gates, then ``liquid_scan``.

Gates 4: log-sigmoid (log a), sigmoid (1 - a), tanh (g), the product (1 - a) · g. Scan 7: the
running sum of log a, its exp, the exp of its negation, b times it, the running sum of that,
adding the chunk's start state, times the decay. The scan's carry between chunks (2 FLOPs per channel per
chunk, at most 2 / chunk per token) and its padding to a whole chunk are left out, so the count
is exactly linear in tokens.
"""
CFC_FLOPS_PER_CHANNEL = 8
"""Per direction, token and state channel of a ``BiCfC`` step: tanh of ff1 and of ff2 (2),
time_a + time_b and its sigmoid (2), ff1 · (1 - t) + t · ff2 (4)."""
CFC_FLOPS_PER_BACKBONE_UNIT = 3
"""Per direction, token, backbone layer and unit: lecun_tanh, 1.7159 · tanh(0.666 · x)."""


def lecun_tanh(x: Tensor) -> Tensor:
    """LeCun's scaled tanh, the CfC backbone activation (ncps: ``1.7159 * tanh(0.666 * x)``)."""
    return 1.7159 * torch.tanh(0.666 * x)


class CfCCell(nn.Module):
    """One direction of a CfC layer: the parameters of ``ncps.torch.CfCCell`` (mode "default").

    The Linear layers match ncps's one for one, in order (``backbone`` lists ncps's backbone
    Linears without the activation and dropout modules between them), so weights copy across.
    ``BiCfC`` runs two cells as one batched loop, so the cell holds parameters only.
    """

    def __init__(self, input_size: int, hidden_size: int, backbone_units: int, backbone_layers: int):
        super().__init__()
        if backbone_layers < 1:
            raise ValueError(f"backbone_layers must be at least 1, got {backbone_layers}")
        self.backbone = nn.ModuleList(
            [nn.Linear(input_size + hidden_size, backbone_units)]
            + [nn.Linear(backbone_units, backbone_units) for _ in range(backbone_layers - 1)]
        )
        self.ff1 = nn.Linear(backbone_units, hidden_size)
        self.ff2 = nn.Linear(backbone_units, hidden_size)
        self.time_a = nn.Linear(backbone_units, hidden_size)
        self.time_b = nn.Linear(backbone_units, hidden_size)
        for p in self.parameters():  # ncps's init: xavier weights, biases as torch leaves them
            if p.dim() == 2:
                nn.init.xavier_uniform_(p)

    def heads(self) -> tuple[Tensor, Tensor]:
        """ff1, ff2, time_a, time_b fused: weight (4H, U) and bias (4H,), one matmul per step."""
        parts = (self.ff1, self.ff2, self.time_a, self.time_b)
        return torch.cat([p.weight for p in parts]), torch.cat([p.bias for p in parts])


class BiCfC(nn.Module):
    """A bidirectional CfC layer: (B, T, 2H) → (B, T, 2H), forward and backward states concatenated.

    The two directions run in one loop over T as a batch of two (batched matmuls), and the input
    half of the first backbone Linear is applied to the whole sequence before the loop; both are
    the same arithmetic as ncps's cell, regrouped.
    """

    def __init__(self, d_model: int, backbone_units: int, backbone_layers: int, dropout: float):
        super().__init__()
        hidden = d_model // 2
        self.fwd = CfCCell(d_model, hidden, backbone_units, backbone_layers)
        self.bwd = CfCCell(d_model, hidden, backbone_units, backbone_layers)
        self.dropout = dropout  # between backbone layers, as ncps's backbone_dropout

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, 2H) float, mask (B, T) bool with True at real tokens."""
        cells = (self.fwd, self.bwd)
        d_in = x.shape[-1]
        first = [c.backbone[0] for c in cells]
        xw = torch.stack([F.linear(x, first[0].weight[:, :d_in], first[0].bias),
                          F.linear(x.flip(1), first[1].weight[:, :d_in], first[1].bias)])  # (2, B, T, U)
        keep = torch.stack([mask, mask.flip(1)]).unsqueeze(-1)  # (2, B, T, 1)
        w_h = torch.stack([f.weight[:, d_in:].t() for f in first])  # (2, H, U)
        mid = [(torch.stack([c.backbone[i].weight.t() for c in cells]),  # (2, U, U)
                torch.stack([c.backbone[i].bias for c in cells]).unsqueeze(1))  # (2, 1, U)
               for i in range(1, len(self.fwd.backbone))]
        heads = [c.heads() for c in cells]
        w_heads = torch.stack([w.t() for w, _ in heads])  # (2, U, 4H): ff1 | ff2 | time_a | time_b
        b_heads = torch.stack([b for _, b in heads]).unsqueeze(1)  # (2, 1, 4H)
        hidden = w_h.shape[1]
        h = x.new_zeros(2, x.shape[0], hidden)  # (2, B, H)
        states = []
        for t in range(x.shape[1]):
            z = lecun_tanh(torch.baddbmm(xw[:, :, t], h, w_h))  # (2, B, U)
            for w, b in mid:
                z = F.dropout(lecun_tanh(torch.baddbmm(b, z, w)), self.dropout, self.training)
            heads_t = torch.baddbmm(b_heads, z, w_heads)  # (2, B, 4H)
            ff1, ff2 = torch.tanh(heads_t[..., :2 * hidden]).chunk(2, dim=-1)  # (2, B, H) each
            t_a, t_b = heads_t[..., 2 * hidden:].chunk(2, dim=-1)
            t_interp = torch.sigmoid(t_a + t_b)  # t_a * ts + t_b with ts = 1: one unit of time per token
            new = ff1 * (1.0 - t_interp) + t_interp * ff2
            h = torch.where(keep[:, :, t], new, h)  # a padded step keeps the state
            states.append(h)
        h = torch.stack(states, dim=2)  # (2, B, T, H)
        return torch.cat([h[0], h[1].flip(1)], dim=-1)  # (B, T, 2H)


class CfCEncoder(nn.Module):
    """Stacked bidirectional CfC layers, pre-norm with residuals: (B, T, d_model) → (B, T, d_model).

    Each direction has d_model // 2 units; sequential over tokens, so its cost per token is a
    chain of small matmuls (the faithful reference, not the fast model).
    """

    def __init__(self, d_model: int, n_layers: int, backbone_units: int, backbone_layers: int,
                 dropout: float):
        super().__init__()
        if d_model % 2:
            raise ValueError(f"d_model must be even (two directions of d_model // 2), got {d_model}")
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.layers = nn.ModuleList(BiCfC(d_model, backbone_units, backbone_layers, dropout)
                                    for _ in range(n_layers))
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def recurrence_flops_per_token(self) -> int:
        """Elementwise recurrence FLOPs per token, all layers and both directions (matmuls are
        counted by torch; see :mod:`chartlnn.evaluation.flops`)."""
        return sum(2 * (CFC_FLOPS_PER_CHANNEL * layer.fwd.ff1.out_features
                        + CFC_FLOPS_PER_BACKBONE_UNIT * sum(b.out_features for b in layer.fwd.backbone))
                   for layer in self.layers)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, d_model) float, mask (B, T) bool with True at real tokens (right padding)."""
        for norm, layer in zip(self.norms, self.layers):
            x = x + self.drop(layer(norm(x), mask))
        return self.norm(x)


def liquid_scan(log_a: Tensor, b: Tensor, chunk: int) -> Tensor:
    """h_t = a_t * h_{t-1} + b_t from h_0 = 0, along dim 1 of (B, T, H), as a chunked scan.

    Within a chunk the recurrence has the closed form ``h_t = exp(L_t) * (h_start + S_t)`` with
    ``L = cumsum(log a)`` and ``S = cumsum(b * exp(-L))`` from the chunk's start, computed for
    many chunks at once; a loop over chunks (not tokens) carries the state across chunk
    boundaries. float64, since -L reaches chunk * -TIME_FLOOR ≤ 640, beyond float32's exp range.
    The note streams through in blocks of about SCAN_BLOCK numbers, so the float64 temporaries
    stay cache-sized however long the note. Returns h (B, T, H) in b's dtype.
    """
    batch, steps, hidden = log_a.shape
    pad = -steps % chunk
    if pad:  # padded steps: log a = 0, b = 0, the state passes through
        log_a, b = F.pad(log_a, (0, 0, 0, pad)), F.pad(b, (0, 0, 0, pad))
    block = chunk * max(1, SCAN_BLOCK // (batch * hidden * chunk))  # tokens per block
    start = log_a.new_zeros(batch, hidden, dtype=torch.float64)  # the state entering the block
    out = []
    for t0 in range(0, steps + pad, block):
        log_a_k = log_a[:, t0:t0 + block].unflatten(1, (-1, chunk))  # (B, n, C, H): n chunks of C
        b_k = b[:, t0:t0 + block].unflatten(1, (-1, chunk))
        big_l = log_a_k.cumsum(2, dtype=torch.float64)  # (B, n, C, H)
        decay = big_l.exp()  # a_1 * ... * a_t within each chunk
        big_s = (b_k * (-big_l).exp()).cumsum(2)  # (B, n, C, H); not 1 / decay, whose gradient
        # 1 / decay² overflows float64 once a chunk's gates all sit near the floor
        starts = [start]  # the state entering each chunk
        for k in range(big_s.shape[1] - 1):
            starts.append(decay[:, k, -1] * (big_s[:, k, -1] + starts[-1]))
        h = decay * (big_s + torch.stack(starts, dim=1).unsqueeze(2))  # (B, n, C, H)
        start = h[:, -1, -1]
        out.append(h.flatten(1, 2).to(b.dtype))
    return torch.cat(out, dim=1)[:, :steps]


def liquid_scan_reference(log_a: Tensor, b: Tensor) -> Tensor:
    """The recurrence of ``liquid_scan``, one token at a time: the specification it is tested against."""
    a = log_a.exp()
    h = b.new_zeros(b.shape[0], b.shape[2])
    states = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


class TokenWindow(nn.Module):
    """Each channel of a token mixed with the same channel of its neighbours: (B, T, C) → (B, T, C).

    A depthwise window of ``width`` tokens centred on each one (``width`` odd), so the gates of
    a liquid layer read "20 mg" beside a drug name directly instead of through the state. It
    starts as the identity (centre weight 1). Padding and the note's edges count as zeros, so a
    token's output does not depend on how much padding its batch has.
    """

    def __init__(self, channels: int, width: int):
        super().__init__()
        if width < 3 or width % 2 == 0:
            raise ValueError(f"window must be 1 (off) or an odd number of tokens of at least 3, "
                             f"got {width}")
        weight = torch.zeros(width, channels)
        weight[width // 2] = 1.0
        self.weight = nn.Parameter(weight)  # (width, C): row j reads token t + j - width // 2

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, C), mask (B, T) bool with True at real tokens."""
        half = self.weight.shape[0] // 2
        padded = F.pad(x * mask.unsqueeze(-1), (0, 0, half, half))  # (B, T + 2 half, C)
        steps = x.shape[1]
        return sum(padded[:, j:j + steps] * w for j, w in enumerate(self.weight))

    def flops_per_token(self) -> int:
        """A multiply per tap and channel, and the adds between taps."""
        width, channels = self.weight.shape
        return (2 * width - 1) * channels


class LiquidLayer(nn.Module):
    """A bidirectional input-gated liquid layer: (B, T, d_model) → (B, T, d_model).

    One Linear gives both directions' time gate and target (the module docstring has the
    equations); the backward direction reads the reversed note; both scans run as one batch of
    2B; the concatenated states (B, T, 2H) are mixed back to d_model by ``out``. With ``window``
    above 1 that Linear reads a ``TokenWindow`` of the input instead of each token alone.
    """

    def __init__(self, d_model: int, hidden: int, chunk: int, window: int = 1):
        super().__init__()
        if not 1 <= chunk <= MAX_CHUNK:
            raise ValueError(f"chunk must be between 1 and {MAX_CHUNK}, got {chunk}")
        self.hidden = hidden
        self.chunk = chunk
        self.window = TokenWindow(d_model, window) if window != 1 else None
        self.proj = nn.Linear(d_model, 4 * hidden)  # per direction: time (H) | ff1 (H)
        self.out = nn.Linear(2 * hidden, d_model)
        with torch.no_grad():  # start with memories from 2 to 256 tokens: a = 1 - 1/tau at x = 0
            tau = torch.logspace(math.log10(2), math.log10(256), hidden)
            self.proj.bias.view(2, 2, hidden)[:, 0] = torch.log(tau - 1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, d_model) float, mask (B, T) bool with True at real tokens (right padding)."""
        batch, steps, _ = x.shape
        if self.window is not None:
            x = self.window(x, mask)
        proj = self.proj(x)
        if compiled_scan_runs(proj):
            return self.out(liquid_states(proj, mask, TIME_FLOOR))
        proj = proj.view(batch, steps, 2, 2 * self.hidden)  # (B, T, direction, time | ff1)
        proj = torch.cat([proj[:, :, 0], proj[:, :, 1].flip(1)])  # (2B, T, 2H): backward reads reversed
        keep = torch.cat([mask, mask.flip(1)]).unsqueeze(-1)  # (2B, T, 1)
        time, target = proj.split(self.hidden, dim=-1)  # (2B, T, H) each
        time = time.clamp(min=TIME_FLOOR)
        log_a = torch.where(keep, F.logsigmoid(time), 0.0)  # padded steps: a = 1
        b = torch.where(keep, torch.sigmoid(-time) * torch.tanh(target), 0.0)  # (1 - a_t) * g_t
        h = liquid_scan(log_a, b, self.chunk)  # (2B, T, H)
        return self.out(torch.cat([h[:batch], h[batch:].flip(1)], dim=-1))  # (B, T, d_model)


class LiquidBlock(nn.Module):
    """Pre-norm residual block: liquid layer (mixes over tokens), then an MLP (mixes channels)."""

    def __init__(self, d_model: int, mlp_ratio: float, dropout: float, chunk: int, window: int = 1):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.liquid = LiquidLayer(d_model, d_model // 2, chunk, window)
        self.norm2 = nn.LayerNorm(d_model)
        d_mlp = int(mlp_ratio * d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.GELU(), nn.Linear(d_mlp, d_model))
        self.drop = ByteDropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.drop(self.liquid(self.norm1(x), mask))
        return x + self.drop(self.mlp(self.norm2(x)))


class LiquidEncoder(nn.Module):
    """The default encoder: stacked bidirectional liquid blocks, (B, T, d_model) → (B, T, d_model).

    Linear in note length with no length cap; ``chunk`` is the scan's chunk length (speed only,
    the result is the same to float rounding for any chunk); ``window`` (1: off) is the width of
    each layer's ``TokenWindow``.
    """

    def __init__(self, d_model: int, n_layers: int, mlp_ratio: float, dropout: float, chunk: int = 32,
                 window: int = 1):
        super().__init__()
        self.blocks = nn.ModuleList(LiquidBlock(d_model, mlp_ratio, dropout, chunk, window)
                                    for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def recurrence_flops_per_token(self) -> int:
        """Elementwise recurrence FLOPs per token, all layers and both directions, token windows
        included (matmuls are counted by torch; see :mod:`chartlnn.evaluation.flops`)."""
        return sum(2 * LIQUID_FLOPS_PER_CHANNEL * block.liquid.hidden
                   + (block.liquid.window.flops_per_token() if block.liquid.window else 0)
                   for block in self.blocks)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, d_model) float, mask (B, T) bool with True at real tokens (right padding)."""
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)
