"""The liquid layer's gates and scan as one compiled loop (``liquid_scan.c``), on the CPU.

In torch the layer is a dozen passes over memory: gates, padding masks, the float64 cumulative
sums and exponentials of the chunked scan, the flips and concatenations of the two directions.
Those passes, not the matmuls, were most of a chart's time on a CPU. The C loop reads the
projection once and writes the states once, per direction and channel exactly the recurrence of
:class:`chartlnn.models.liquid.LiquidLayer` (state carried in double: equal to the torch scan to
float32 rounding at any length), with its gradient for training.

The C file is compiled once per machine with the system's C compiler (``$CC``, else ``cc``) into
``$CHARTLNN_CACHE`` (default ``~/.cache/chartlnn``) and loaded with ctypes; without a compiler,
or with ``CHARTLNN_SCAN=torch``, the layer runs the torch scan instead (same results, slower).
The batch is split over ``torch.get_num_threads()`` threads (ctypes releases the GIL).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger(__name__)

SOURCE = "liquid_scan.c"
FLAG_SETS = (("-O3", "-ffast-math", "-march=native"), ("-O3", "-ffast-math"))
"""Tried in order: this CPU's vector instructions (twice the speed of the scan on an AVX-512
machine), else the architecture's baseline (a compiler that does not know -march=native).
-ffast-math lets the compiler vectorize expf and tanhf; a NaN still propagates."""


def cache_dir() -> Path:
    if os.environ.get("CHARTLNN_CACHE"):
        return Path(os.environ["CHARTLNN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chartlnn"


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The compiled scan, compiled on first use; None (logged once) when it cannot be built."""
    if os.environ.get("CHARTLNN_SCAN", "native") == "torch":
        return None
    compiler = os.environ.get("CC", "cc")
    try:
        source = resources.files("chartlnn.models").joinpath(SOURCE).read_bytes()
        # The CPU is part of the key: a cache shared by machines of different CPUs (a home folder
        # on a cluster) must not hand one a library built for another's instructions.
        key = hashlib.sha1(source + f"{compiler} {FLAG_SETS} {_cpu()}".encode()).hexdigest()[:12]
        target = cache_dir() / f"liquid_scan-{key}-{platform.machine()}.so"
        if not target.exists():
            _compile(source, compiler, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("the compiled liquid scan is not available (%s); the torch scan runs instead",
                    type(exc).__name__)
        return None
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    lib.liquid_forward.argtypes = [ptr, ptr, ptr, i64, i64, i64, f32]
    lib.liquid_backward.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i64, f32]
    lib.liquid_forward.restype = lib.liquid_backward.restype = None
    return lib


def _compile(source: bytes, compiler: str, target: Path) -> None:
    """Build the shared library beside ``target`` and move it into place (atomic: processes
    compiling at once each finish with a whole file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        c_file, built = Path(work) / SOURCE, Path(work) / target.name
        c_file.write_bytes(source)
        for flags in FLAG_SETS:
            done = subprocess.run([compiler, *flags, "-fPIC", "-shared", str(c_file), "-o",
                                   str(built), "-lm"], capture_output=True, timeout=120)
            if done.returncode == 0:
                os.replace(built, target)
                return
        raise subprocess.CalledProcessError(done.returncode, compiler)


def _cpu() -> str:
    """What identifies this CPU's instruction set: its flags on Linux, else what platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def scan_in_use() -> str:
    """Which scan a liquid layer runs here on the CPU, for benchmark headers."""
    return ("liquid scan: compiled C loop" if library() is not None
            else "liquid scan: torch (CHARTLNN_SCAN=torch, or no C compiler)")


def compiled_scan_runs(proj: Tensor) -> bool:
    """Whether the compiled scan can run on this tensor (float32 on the CPU) here."""
    return proj.device.type == "cpu" and proj.dtype == torch.float32 and library() is not None


def _split(batch: int) -> list[tuple[int, int]]:
    parts = max(1, min(batch, torch.get_num_threads()))
    bounds = [batch * i // parts for i in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


@lru_cache(maxsize=None)
def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept for the process: every layer's forward and backward uses it."""
    return ThreadPoolExecutor(threads)


def _run(call, rows: list[tuple[int, int]]) -> None:
    if len(rows) == 1:
        call(*rows[0])
        return
    list(_pool(len(rows)).map(lambda r: call(*r), rows))


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
        _run(rows, _split(batch))
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
        _run(rows, _split(batch))
        return grad_proj, None, None


def liquid_states(proj: Tensor, mask: Tensor, floor: float) -> Tensor:
    """Both directions' states (B, T, 2H) from the layer's projection (B, T, 4H) and mask (B, T),
    where :func:`compiled_scan_runs` says the compiled scan runs."""
    if proj.shape[0] == 0 or proj.shape[1] == 0:
        return proj.new_zeros(proj.shape[0], proj.shape[1], proj.shape[2] // 2)
    return _LiquidScan.apply(proj, mask, floor)
