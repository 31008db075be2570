"""`chartlnn chart --engine ray`: the same shards charted by a pool of Ray Data actors.

The driver still reads the input with the recipe readers and keeps the shard files, manifest and
resume of :mod:`chartlnn.charting.store`: only charting a shard moves to Ray. Ray's own readers
(``read_csv``/``read_json``/``read_parquet``) are not used because they would not reject a bad
line and go on, nor give the reader's row numbers, nor read the other recipes' formats.

A Ray row is one *window* (the notes :func:`chartlnn.charting.worker.windows` groups by length), not one
note: the window is what the batches are cut from, so Ray and the local engine put the same notes
in the same forward pass and their charts are identical to the last bit for every encoder.
Each shard is one Dataset whose ``map_batches`` runs :class:`ChartActor` (the model loaded once
per actor) on ``workers`` actors; outcomes are put back in input order by the driver. Actors
start afresh for every shard (a few seconds), so larger shards suit this engine.

On a cluster (``--ray-address``) every node must see the model directory at the same path. Note
text travels through Ray's object store, which spills to local disk under memory pressure: run
it only where patient data may be written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chartlnn.charting.store import ChartRunError
from chartlnn.charting.worker import TASK_BATCHES, Charter, NoteIn, Outcome, cores, windows


class ChartActor:
    """One Ray actor: a model and a :class:`Charter`; each call charts a batch of windows."""

    def __init__(self, model_dir: str, device: str, int8: bool, phi: str, batch_size: int,
                 fhir: bool, threads: int) -> None:
        from chartlnn.inference.model import load

        model = load(model_dir, device, int8)
        model.use_threads(threads)
        self.charter = Charter(model, phi, batch_size, fhir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        columns: dict[str, list] = {"index": [], "chart": [], "bundle": [], "reason": []}
        for indices, ids, texts in zip(batch["index"], batch["note_id"], batch["text"]):
            notes = [NoteIn(int(i), str(n), str(t)) for i, n, t in zip(indices, ids, texts)]
            for outcome in self.charter(notes):
                for name in columns:
                    columns[name].append(getattr(outcome, name))
        return columns


class RayEngine:
    """Charts shards on Ray: an embedded local Ray (all cores, no dashboard, worker logs kept
    out of the terminal) unless ``address`` names a cluster."""

    def __init__(self, model_dir: Path, *, device: str, int8: bool, phi: str, batch_size: int,
                 fhir: bool, workers: int, address: str | None) -> None:
        try:
            import ray
            import ray.data
        except ImportError:
            raise ChartRunError("--engine ray needs Ray Data: "
                                "pip install 'chartlnn[ray]'") from None
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=address, num_cpus=None if address else cores(),
                     include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        gpu = device.startswith("cuda")
        self.workers = workers or (1 if gpu else cores())
        threads = max(1, cores() // self.workers)
        self.task_size = batch_size * TASK_BATCHES
        self.map_args = dict(
            fn_constructor_kwargs=dict(model_dir=str(Path(model_dir).resolve()), device=device,
                                       int8=int8, phi=phi, batch_size=batch_size, fhir=fhir,
                                       threads=threads),
            batch_size=1, compute=ray.data.ActorPoolStrategy(min_size=1, max_size=self.workers),
            num_cpus=threads, num_gpus=1 if gpu else 0)

    def __call__(self, notes: Sequence[NoteIn], advance: Callable[[int], None]) -> list[Outcome]:
        import ray.data

        tasks = windows(notes, self.task_size)
        if not tasks:
            return []
        rows = [{"index": [n.index for n in task], "note_id": [n.note_id for n in task],
                 "text": [n.text for n in task]} for task in tasks]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        outcomes = []
        for row in dataset.map_batches(ChartActor, **self.map_args).iter_rows():
            outcomes.append(Outcome(int(row["index"]), row["chart"], row["bundle"], row["reason"]))
            advance(1)
        return outcomes

    def close(self) -> None:
        import ray

        if self.started:
            ray.shutdown()

