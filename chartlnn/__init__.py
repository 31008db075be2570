"""chartlnn: structured charts from clinical notes with compact liquid neural networks.

Each step is a library function first and a CLI command second: ``chartlnn.prepare(...)``,
``chartlnn.train.train(...)`` (the module keeps the name of its room), ``chartlnn.load(...)``.
They are imported on first use so that ``import chartlnn`` and ``chartlnn --help`` stay fast.
"""

__version__ = "0.1.0"

_LAZY = {"prepare": "chartlnn.dataset_builder", "load_prepared": "chartlnn.data",
         "load": "chartlnn.inference", "chart": "chartlnn.charting"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chartlnn' has no attribute {name!r}")
