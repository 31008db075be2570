"""The liquid layer's gates and scan as one compiled loop (``liquid_scan.c``), on the CPU, with
its gradient for training.

In torch the layer is a dozen passes over memory: gates, padding masks, the float64 cumulative
sums and exponentials of the chunked scan, the flips and concatenations of the two directions.
Those passes, not the matmuls, were most of a chart's time on a CPU. The C loop reads the
projection once and writes the states once, per direction and channel exactly the recurrence of
:class:`chartlnn.models.liquid.LiquidLayer` (state carried in double: equal to the torch scan to
float32 rounding at any length). :mod:`chartlnn.kernels.scan_library` builds and loads it; where
it cannot, the layer runs the torch scan instead (same results, slower). The batch is split over
``torch.get_num_threads()`` threads (ctypes releases the GIL).
"""

from __future__ import annotations

import torch
from torch import Tensor

from chartlnn.kernels.scan_library import library, split_rows


def compiled_scan_runs(proj: Tensor) -> bool:
    """Whether the compiled scan can run on this tensor (float32 on the CPU) here."""
    return proj.device.type == "cpu" and proj.dtype == torch.float32 and library() is not None


class _LiquidScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj: Tensor, mask: Tensor, floor: float) -> Tensor:
        proj, keep = proj.contiguous(), mask.to(torch.uint8).contiguous()
        batch, steps, width = proj.shape
        hidden = width // 4
        out = proj.new_empty(batch, steps, 2 * hidden)
        lib = library()

        def rows(first: int, stop: int) -> None:
            lib.liquid_forward(proj[first].data_ptr(), keep[first].data_ptr(), out[first].data_ptr(),
                               stop - first, steps, hidden, floor)
        split_rows(rows, batch, torch.get_num_threads())
        ctx.save_for_backward(proj, keep, out)
        ctx.floor = floor
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        proj, keep, out = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        batch, steps, width = proj.shape
        grad_proj = torch.empty_like(proj)
        lib = library()

        def rows(first: int, stop: int) -> None:
            lib.liquid_backward(proj[first].data_ptr(), keep[first].data_ptr(), out[first].data_ptr(),
                                grad_out[first].data_ptr(), grad_proj[first].data_ptr(),
                                stop - first, steps, width // 4, ctx.floor)
        split_rows(rows, batch, torch.get_num_threads())
        return grad_proj, None, None


def liquid_states(proj: Tensor, mask: Tensor, floor: float) -> Tensor:
    """Both directions' states (B, T, 2H) from the layer's projection (B, T, 4H) and mask (B, T),
    where :func:`compiled_scan_runs` says the compiled scan runs."""
    if proj.shape[0] == 0 or proj.shape[1] == 0:
        return proj.new_zeros(proj.shape[0], proj.shape[1], proj.shape[2] // 2)
    return _LiquidScan.apply(proj, mask, floor)
