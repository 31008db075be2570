"""The chart worker: what turns a window of notes into Charts, in this process, in each worker
process and in each Ray actor alike, so every engine makes the same charts.

Per note: the residual-PHI guard (:mod:`chartlnn.deid`), the model's length-batched charting,
validation against the Chart JSON Schema (:func:`chart_notes`, which `annotate` uses too), and
the FHIR bundle when asked.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from chartlnn.deid import MaskResult, mask, scan
from chartlnn.inference.decode import Tagged, on_original
from chartlnn.schema import ChartInvalid, validate_chart

if TYPE_CHECKING:
    from chartlnn.inference.model import ChartModel

TASK_BATCHES = 4
"""A task (what one worker charts at a time) is this many batches of notes of similar length."""
MAX_BATCH_TOKENS = 16384
"""Padded tokens per forward pass at most; a longer note is read in windows of this many tokens,
so a worker's memory is bounded whatever the notes' lengths."""


class NoteIn(NamedTuple):
    """A note on its way to a worker: its position among the input records, id and text."""

    index: int
    note_id: str
    text: str


class Outcome(NamedTuple):
    """What became of one note: its Chart (and FHIR Bundle) as JSON lines, or a reject reason."""

    index: int
    chart: str | None
    bundle: str | None
    reason: str | None


def guard_phi(text: str, mode: str) -> tuple[str, MaskResult | None, dict[str, int], str | None]:
    """The text to chart, its mask (``mode="mask"``: to map the chart back onto ``text``), the
    PHI counts by kind, and a reject reason (``mode="reject"`` only)."""
    hits = scan(text)
    masked = mask(text, hits)
    if mode == "reject" and hits:
        return text, None, masked.counts, (f"residual PHI found ({', '.join(masked.counts)}); "
                                           "chart it with --phi mask or de-identify it first")
    if mode == "mask" and hits:
        return masked.text, masked, masked.counts, None
    return text, None, masked.counts, None


NoteResult = tuple[dict[str, Any] | None, Tagged | None, str | None]
"""What became of one note: its validated Chart (or None), its tags, the reject reason (or None)."""


def chart_notes(model: ChartModel, notes: Sequence[tuple[str | None, str]], phi: str,
                batch_size: int) -> list[NoteResult]:
    """Per ``(note id, text)``: its validated Chart as `chart` makes it (PHI guard, length-batched
    tagging with ``batch_size`` notes per forward pass, decoding, the chart mapped back onto the
    text as given) with the tags it was decoded from, or a reject reason instead of the chart."""
    results: list[NoteResult] = [(None, None, None)] * len(notes)
    todo = []
    for position, (note_id, text) in enumerate(notes):
        guarded, masked, counts, reason = guard_phi(text, phi)
        if reason:
            results[position] = (None, None, reason)
        else:
            todo.append((position, note_id, text, guarded, masked, counts))
    tagged = model.tag_many([guarded for _, _, _, guarded, _, _ in todo],
                            max_batch_tokens=MAX_BATCH_TOKENS, max_batch_notes=batch_size)
    for (position, note_id, text, guarded, masked, counts), (encoded, tags) in zip(todo, tagged):
        chart = model.decoder.decode(guarded, encoded, tags, note_id, counts)
        if masked is not None:  # charted the masked copy: back onto the note as given
            chart = on_original(chart, text, masked.to_original)
        try:
            validate_chart(chart)
        except ChartInvalid as exc:
            results[position] = (None, tags, str(exc))
            continue
        results[position] = (chart, tags, None)
    return results


class Charter:
    """Charts a window of notes (:func:`chart_notes`) and writes each as a JSON line, with its
    FHIR bundle when asked. The same object serves the in-process run, each worker process and
    each Ray actor, so every engine makes the same charts."""

    def __init__(self, model: ChartModel, phi: str, batch_size: int, fhir: bool) -> None:
        self.model = model
        self.phi = phi
        self.batch_size = batch_size
        self.to_bundle = None
        if fhir:
            from chartlnn.export.fhir import chart_to_bundle

            self.to_bundle = chart_to_bundle

    def __call__(self, notes: Sequence[NoteIn]) -> list[Outcome]:
        """One Outcome per note, in the order given."""
        results = chart_notes(self.model, [(note.note_id, note.text) for note in notes], self.phi,
                              self.batch_size)
        outcomes = [self._outcome(note.index, chart, reason)
                    for note, (chart, _, reason) in zip(notes, results)]
        _release_freed_memory()
        return outcomes

    def _outcome(self, index: int, chart: dict[str, Any] | None, reason: str | None) -> Outcome:
        if chart is None:
            return Outcome(index, None, None, reason)
        bundle = json_line(self.to_bundle(chart, note_text=None)) if self.to_bundle else None
        return Outcome(index, json_line(chart), bundle, None)


@lru_cache(maxsize=None)
def _glibc(name: str) -> Callable[..., int] | None:
    """glibc's function ``name`` (malloc_trim, mallopt), or None where the C library is another."""
    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc
        return None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
HEAP_BLOCKS_UP_TO = 32 * 2**20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit
TRIM_ABOVE = 2**30


def keep_blocks_in_the_heap() -> bool:
    """Serve a worker's arrays from glibc's heap, up to 32 MiB each, and leave freed memory
    there until the window's explicit trim (:func:`_release_freed_memory`); False where the C
    library is not glibc.

    glibc hands every block over its threshold (128 KiB at first, then the size of the largest
    one freed) fresh pages from the system, so each batch's arrays of a few MiB were new pages,
    faulted in and zeroed again (2,800 faults a batch of 8 MTSamples notes). Measured on the
    2-core AMD EPYC box (`benchmarks/chart_speed.py`, 2 workers, best of 2 rounds): 102.5
    charts/s against 81.0 for the default model and 77.9 against 54.5 for transformer-tiny; peak
    RSS 147 and 149 MiB against 140 and 147 after 1,000 and 10,000 notes."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO) and mallopt(M_TRIM_THRESHOLD,
                                                                        TRIM_ABOVE))


def _release_freed_memory() -> None:
    """Hand the memory a window freed back to the system. Batches of every length leave glibc's
    heap fragmented, and the next long batch lands on top: without this a worker's peak grew with
    the input (1.05 GiB after 1,000 MTSamples notes, 2.0 GiB after 10,000; trimming every 1,000
    notes, 1.04 and 1.38). Trimmed after every window: 0.85, 0.90 and 0.92 GiB after 1,000,
    10,000 and 30,000 notes (benchmarks/chart_speed.py), for about 12% of the speed."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def json_line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def windows(notes: Sequence[NoteIn], size: int) -> list[list[NoteIn]]:
    """Notes cut into tasks of ``size``, neighbours in length (characters) sharing a task so each
    task's batches need little padding; fixed by the input alone, so every engine and worker count
    batches the same notes together."""
    ordered = sorted(notes, key=lambda note: (len(note.text), note.index))
    return [ordered[first:first + size] for first in range(0, len(ordered), size)]


_WORKER: Charter | None = None


def start_worker(model_dir: str, device: str, int8: bool, phi: str, batch_size: int, fhir: bool,
                 threads: int) -> None:
    from chartlnn.inference.model import load

    global _WORKER
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    keep_blocks_in_the_heap()
    model = load(model_dir, device, int8)
    model.use_threads(threads)
    _WORKER = Charter(model, phi, batch_size, fhir)


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: a parent killed with ``kill -9`` cannot stop its
    workers, and orphans would chart on (and hold memory) beside the rerun."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def chart_in_worker(notes: list[NoteIn]) -> list[Outcome]:
    assert _WORKER is not None, "worker used before start_worker ran"
    return _WORKER(notes)


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
