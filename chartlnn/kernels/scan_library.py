"""The compiled liquid loop (``liquid_scan.c``): built once per machine, loaded with ctypes.

Torch-free on purpose: the training path wraps it as an autograd function
(:mod:`chartlnn.models.native_scan`), and the numpy runtime that charts notes
(:mod:`chartlnn.inference.numpy_tagger`) calls it directly, without importing torch.

The C file is compiled with the system's C compiler (``$CC``, else ``cc``) into
``$CHARTLNN_CACHE`` (default ``~/.cache/chartlnn``); without a compiler, or with
``CHARTLNN_SCAN=torch``, there is no library and the torch scan runs instead (same results, slower).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from pathlib import Path

from chartlnn.openblas import cpu_flags_line

log = logging.getLogger(__name__)

TIME_FLOOR = -20.0
"""Lower bound on the liquid time gate's pre-activation, so -log a_t ≤ 20 (a_t ≥ 2e-9): the
floor every caller of the loop passes, and the torch scan's."""
SOURCE = "liquid_scan.c"
FLAG_SETS = (("-O3", "-ffast-math", "-march=native"), ("-O3", "-ffast-math"))
"""Tried in order: this CPU's vector instructions (twice the speed of the scan on an AVX-512
machine), else the architecture's baseline (a compiler that does not know -march=native).
-ffast-math lets the compiler vectorize expf, tanhf and erff; a NaN still propagates."""


def cache_dir() -> Path:
    if os.environ.get("CHARTLNN_CACHE"):
        return Path(os.environ["CHARTLNN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chartlnn"


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The compiled loop, compiled on first use; None (logged once) when it cannot be built."""
    if os.environ.get("CHARTLNN_SCAN", "native") == "torch":
        return None
    compiler = os.environ.get("CC", "cc")
    try:
        source = resources.files("chartlnn.kernels").joinpath(SOURCE).read_bytes()
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
    lib.gelu.argtypes = [ptr, i64]
    lib.layer_norm.argtypes = [ptr, ptr, ptr, ptr, i64, i64, f32]
    for function in (lib.liquid_forward, lib.liquid_backward, lib.gelu, lib.layer_norm):
        function.restype = None
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
    line = cpu_flags_line()
    return line if line is not None else f"{platform.machine()} {platform.processor()}"


def scan_in_use() -> str:
    """Which scan a liquid layer runs here on the CPU, for benchmark headers."""
    return ("liquid scan: compiled C loop" if library() is not None
            else "liquid scan: torch (CHARTLNN_SCAN=torch, or no C compiler)")


def split_rows(call: Callable[[int, int], None], batch: int, threads: int) -> None:
    """``call(first, stop)`` over the batch's rows cut into at most ``threads`` parts, the parts
    in parallel (the C loop runs without the GIL)."""
    parts = max(1, min(batch, threads))
    bounds = [batch * i // parts for i in range(parts + 1)]
    rows = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
    if len(rows) == 1:
        call(*rows[0])
        return
    list(_pool(len(rows)).map(lambda r: call(*r), rows))


@lru_cache(maxsize=None)
def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept for the process: every layer's scan uses it."""
    return ThreadPoolExecutor(threads)
