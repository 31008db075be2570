"""OPENBLAS_CORETYPE from the CPU's flags: set before numpy loads, never over the user's choice."""

import os
import subprocess
import sys

import pytest

from chartlnn import openblas


@pytest.fixture
def before_numpy(monkeypatch):
    """As in a fresh process: numpy not loaded yet, no core type set."""
    monkeypatch.delitem(sys.modules, "numpy")
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)


@pytest.mark.parametrize("flags, core", [
    (openblas.AVX512 | openblas.AVX2 | {"sse3"}, "SkylakeX"),
    (openblas.AVX2 | {"avx512f"}, "Haswell"),  # part of AVX-512 is not enough for its kernels
    ({"sse3", "avx"}, None),
    (set(), None),
])
def test_openblas_core_follows_the_flags(before_numpy, monkeypatch, flags, core):
    monkeypatch.setattr(openblas, "_flags", lambda: frozenset(flags))
    assert openblas.choose_core() == core
    assert os.environ.get("OPENBLAS_CORETYPE") == core


def test_openblas_core_set_by_the_user_wins(before_numpy, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    monkeypatch.setattr(openblas, "_flags", lambda: openblas.AVX512 | openblas.AVX2)
    assert openblas.choose_core() is None
    assert os.environ["OPENBLAS_CORETYPE"] == "Prescott"


def test_openblas_core_is_left_alone_once_numpy_is_loaded(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert "numpy" in sys.modules
    assert openblas.choose_core() is None
    assert "OPENBLAS_CORETYPE" not in os.environ


def test_openblas_core_importing_chartlnn_sets_it_for_numpy():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    script = ("import os, chartlnn, numpy\n"
              "from chartlnn.openblas import _flags, AVX512, AVX2\n"
              "f = _flags()\n"
              "want = 'SkylakeX' if AVX512 <= f else 'Haswell' if AVX2 <= f else None\n"
              "print(os.environ.get('OPENBLAS_CORETYPE') == want)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "True"
