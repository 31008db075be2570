"""numpy's matrix kernels chosen from the CPU's instruction flags, where OpenBLAS would guess them
from its model name.

OpenBLAS (numpy's BLAS) picks its kernels by CPU model; a virtual machine that reports a generic
one ("Intel(R) Xeon(R) Processor", as many clouds' do) gets its oldest, SSE3 ones. On this
project's AVX-512 machine that made a 16,384×128 by 128×256 product 4.3x slower on one thread
(13.4 against 57.6 GFLOP/s), and the numpy runtime half as fast as torch, whose kernels follow
the flags. So before numpy loads, ``OPENBLAS_CORETYPE`` is set from flags this CPU has: never a
kernel it cannot run, and a value the user set wins.
"""

from __future__ import annotations

import os
import sys

AVX512 = frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"})
AVX2 = frozenset({"avx2", "fma"})


def choose_core() -> str | None:
    """Set ``OPENBLAS_CORETYPE`` for this process and those it starts, unless it is set or numpy
    is loaded already; the core type chosen, or None."""
    if "OPENBLAS_CORETYPE" in os.environ or "numpy" in sys.modules:
        return None
    flags = _flags()
    core = "SkylakeX" if AVX512 <= flags else "Haswell" if AVX2 <= flags else None
    if core is not None:
        os.environ["OPENBLAS_CORETYPE"] = core
    return core


def _flags() -> frozenset[str]:
    """The CPU's instruction flags (Linux x86), or none where /proc/cpuinfo does not list them."""
    return frozenset((cpu_flags_line() or "").partition(":")[2].split())


def cpu_flags_line() -> str | None:
    """/proc/cpuinfo's line of instruction flags ("flags" on x86, "Features" on ARM; "" when it
    has none), or None where there is no /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        return None
