"""chartlnn: structured charts from clinical notes with compact liquid neural networks.

Each step is a library function first and a CLI command second, named after its command:
``chartlnn.prepare(...)``, ``chartlnn.train(...)``, ``chartlnn.pretrain(...)``,
``chartlnn.load(...)`` (then ``.chart(text)``), ``chartlnn.chart(...)`` (the batch job),
``chartlnn.annotate(...)`` (review tasks) and ``chartlnn.evaluate(...)``. They live in the room of
their stage (``preparing``, ``training``, ``inference``, ``charting``, ``annotating``,
``evaluation``) and are imported on first use, so that
``import chartlnn`` and ``chartlnn --help`` stay fast and charting never imports Lightning.
"""

from chartlnn.openblas import choose_core

__version__ = "0.1.0"

choose_core()  # before anything loads numpy: see chartlnn/openblas.py

_LAZY = {"prepare": "chartlnn.preparing.builder", "load_prepared": "chartlnn.preparing.dataset",
         "train": "chartlnn.training.train", "pretrain": "chartlnn.training.train",
         "load": "chartlnn.inference.model", "chart": "chartlnn.charting.run",
         "annotate": "chartlnn.annotating.run", "evaluate": "chartlnn.evaluation.run"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chartlnn' has no attribute {name!r}")
