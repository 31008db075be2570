"""A chart worker keeps its arrays' memory in glibc's heap between batches (see
chartlnn.charting.worker.keep_blocks_in_the_heap), in a process of its own as each worker is."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")

FAULTS_OF_A_BATCH = """
import resource, sys
import numpy as np
from chartlnn.charting.worker import keep_blocks_in_the_heap
if sys.argv[1] == "kept":
    assert keep_blocks_in_the_heap()
def batch(tokens):  # a batch's arrays, about (tokens, 256) floats each, made and freed
    for layer in range(4):
        a = np.ones((tokens + 10 * layer, 256), dtype=np.float32)
        del a
batch(5000)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
batch(5200)  # notes come sorted by length: each batch a little longer than the last
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", FAULTS_OF_A_BATCH, mode], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-1000:]
    return int(done.stdout)


def test_worker_memory_a_second_batch_reuses_the_first_batchs_pages():
    fresh = _faults("default")
    assert fresh > 1000  # 4 x 5.3 MB of new pages: a block larger than any freed is mapped afresh
    assert _faults("kept") < fresh / 5
