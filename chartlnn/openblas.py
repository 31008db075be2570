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
WARM_UP_SIZE = 384  # the smallest square product that filled the buffers, measured


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


def fill_packing_buffers() -> None:
    """Run one 384 × 384 product (about 7 ms), so that OpenBLAS's packing buffers are all in
    memory before the model's own products run.

    OpenBLAS maps its packing buffers once per thread and their pages come in as products first
    write them; a thin product, such as the encoder's 128-wide ones, fills only part of them. On
    this project's 2-core AMD EPYC machine a process whose first products were the encoder's ran
    its 5,000 × 128 by 128 × 256 products at 11 GFLOP/s on one core, and at 31 after one 384³
    product: the numpy runtime's forward pass took 23.6 ms per note against 14.0. (The kernels
    prefetch past the part a thin product fills; a prefetch into a page never written is a
    page-table walk each time, the likely cause.) On machines where it changes nothing it costs
    the 7 ms once."""
    import numpy as np

    square = np.ones((WARM_UP_SIZE, WARM_UP_SIZE), dtype=np.float32)
    square @ square
