"""The encoder's matrix products in numpy, in a fresh process, before and after
``chartlnn.openblas.fill_packing_buffers``: GFLOP/s on one thread.

    .venv/bin/python benchmarks/blas_buffers.py            # a few seconds
    .venv/bin/python benchmarks/blas_buffers.py --rows 512 # a smaller batch

OpenBLAS's state is per process, so each shape and each order runs in a process of its own:
"cold" times the products as a chart worker's first batches ran them, "filled" times them after
the one 384³ product the numpy runtime now runs before its first batch. The products are those
of liquid-small on a batch of 8 notes of about 625 tokens (5,000 rows): the liquid layer's input
projection and the MLP's first layer (128 → 256), the MLP's second (256 → 128) and the liquid
layer's output (128 → 128).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import chartlnn  # noqa: F401  (first: it picks numpy's BLAS kernels before numpy loads)
import numpy as np

SHAPES = ((128, 256), (256, 128), (128, 128))
MEASURE = """
import sys, time
import chartlnn
import numpy as np
from chartlnn.openblas import fill_packing_buffers
rows, inner, outer, fill = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
if fill:
    fill_packing_buffers()
x = np.random.default_rng(0).random((rows, inner), dtype=np.float32)
w = np.random.default_rng(1).random((inner, outer), dtype=np.float32)
calls = max(5, int(2e9 / (2 * rows * inner * outer)))
best = 0.0
for _ in range(3):
    start = time.perf_counter()
    for _ in range(calls):
        x @ w
    best = max(best, 2 * rows * inner * outer * calls / (time.perf_counter() - start))
print(best / 1e9)
"""


def gflops(rows: int, inner: int, outer: int, fill: bool) -> float:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", MEASURE, str(rows), str(inner), str(outer),
                           "1" if fill else "0"], capture_output=True, text=True, env=env,
                          check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="Tokens in the batch.")
    args = parser.parse_args()
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    print(f"numpy {np.__version__}, {blas['name']} {blas['version']}; one thread, best of 3 "
          f"rounds, a fresh process per cell\n")
    print("| product | cold GFLOP/s | filled GFLOP/s | filled / cold |")
    print("|---|---:|---:|---:|")
    for inner, outer in SHAPES:
        cold = gflops(args.rows, inner, outer, fill=False)
        filled = gflops(args.rows, inner, outer, fill=True)
        print(f"| {args.rows} × {inner} by {inner} × {outer} | {cold:.1f} | {filled:.1f} "
              f"| {filled / cold:.2f}x |")


if __name__ == "__main__":
    main()
