"""The local engine: chart windows of notes in this process or in single-thread worker processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chartlnn.charting.worker import (TASK_BATCHES, Charter, NoteIn, Outcome, chart_in_worker, cores,
                                      start_worker, windows)

if TYPE_CHECKING:
    from chartlnn.inference.model import ChartModel


class LocalEngine:
    """Charts in this process (``workers=0``) or in worker processes that each hold the model and
    chart whole tasks with ``cores // workers`` threads.

    Why processes: the PHI scan, decoding and validation are Python (about a third of the time
    with liquid-small), so they only run in parallel in separate processes; and torch's threads
    wait on each other, so one process with 2 threads slowed 20x when another program took one
    of 2 cores, while 2 single-threaded workers only lost that core. Measured on 2 cores with
    liquid-small and MTSamples notes: 4,000 notes at 130 charts/s in one process, 145 with 2
    workers (about 4 s of that run is starting them); with another busy program, 6.5 vs 39.
    """

    def __init__(self, model: ChartModel, model_dir: Path, *, device: str, int8: bool, phi: str,
                 batch_size: int, fhir: bool, workers: int) -> None:
        self.task_size = batch_size * TASK_BATCHES
        self.pool = None
        self.charter = None
        if workers == 0:
            self.charter = Charter(model, phi, batch_size, fhir)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, cores() // workers)
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
            initargs=(str(model_dir), device, int8, phi, batch_size, fhir, threads))

    def __call__(self, notes: Sequence[NoteIn], advance: Callable[[int], None]) -> list[Outcome]:
        tasks = windows(notes, self.task_size)
        outcomes: list[Outcome] = []
        if self.pool is None:
            for task in tasks:
                outcomes += self.charter(task)
                advance(len(task))
            return outcomes
        from concurrent.futures import as_completed

        futures = {self.pool.submit(chart_in_worker, task): len(task) for task in tasks}
        for future in as_completed(futures):
            outcomes += future.result()
            advance(futures[future])
        return outcomes

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
