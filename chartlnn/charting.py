"""`chartlnn.chart`: the batch job — a night's notes in, a validated Chart per note out, none lost.

Contract:

- Input records (Notes and reader Rejects, in the reader's order) are cut into shards of
  ``shard_size`` records. Each finished shard's output is written to a temporary folder and
  renamed into ``OUT/parts/`` in one step, so a killed run (``kill -9`` included) leaves whole
  shards or nothing; a rerun of the same command skips the finished shards.
- ``OUT/manifest.json`` records what the run is (model files' hash, input path/size/mtime,
  reader, options): a rerun that differs refuses with one line instead of mixing outputs.
- At the end the parts are joined, in input order, into ``OUT/charts.jsonl`` (one Chart per note,
  each validated against the Chart JSON Schema), ``OUT/rejects.jsonl`` (source, row, note_id,
  reason: never text) and, with ``fmt="fhir"``, ``OUT/bundles.ndjson``; then ``summary.json``.
  Records in must equal charts + rejects (``ChartRunSummary.reconciled``).
- Every note passes the residual-PHI guard first (:mod:`chartlnn.deid`): ``mask`` charts the
  masked text, ``flag`` the original, ``reject`` rejects it naming the PHI kinds only.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from chartlnn import __version__
from chartlnn.deid import mask, scan
from chartlnn.notes import Note, Reject
from chartlnn.schema import ChartInvalid, validate_chart

if TYPE_CHECKING:
    from chartlnn.inference import ChartModel
    from chartlnn.ray_engine import RayEngine

PHI_MODES = ("mask", "flag", "reject")
FORMATS = ("jsonl", "fhir")
READERS_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
                     ".pq": "parquet"}
CHARTS, REJECTS, BUNDLES = "charts.jsonl", "rejects.jsonl", "bundles.ndjson"
MANIFEST, SUMMARY, PARTS = "manifest.json", "summary.json", "parts"
TASK_BATCHES = 4
"""A task (what one worker charts at a time) is this many batches of notes of similar length."""
PROGRESS_EVERY_S = 30.0
"""How often the line-based progress (when stderr is not a terminal) reports."""


class ChartRunError(ValueError):
    """The run cannot start or continue; one line naming the input, model or output at fault."""


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


@dataclass
class ChartRunSummary:
    """What a run did; stored as ``summary.json`` so that a rerun of a finished run reports it."""

    out: str
    records: int
    """Input records: every note and every row the reader could not turn into a note."""
    charted: int
    rejected: int
    wall_s: float
    charts_per_s: float
    """Charts made by this invocation per second of its wall time."""
    skipped: int = 0
    """Records of shards a previous, interrupted run had already finished."""
    already_done: bool = False
    """The run had finished before: nothing was done, the summary is the stored one."""

    @property
    def reconciled(self) -> bool:
        return self.records == self.charted + self.rejected


def guard_phi(text: str, mode: str) -> tuple[str, dict[str, int], str | None]:
    """The text to chart, the PHI counts by kind, and a reject reason (``mode="reject"`` only)."""
    hits = scan(text)
    masked = mask(text, hits)
    if mode == "reject" and hits:
        return text, masked.counts, (f"residual PHI found ({', '.join(masked.counts)}); "
                                     "chart it with --phi mask or de-identify it first")
    return (masked.text if mode == "mask" else text), masked.counts, None


class Charter:
    """Charts a window of notes: PHI guard, then the model's length-batched charting
    (``batch_size`` notes per forward pass), then validation. The same object serves the in-process run, each worker process and each Ray actor,
    so every engine makes the same charts."""

    def __init__(self, model: ChartModel, phi: str, batch_size: int, fhir: bool) -> None:
        self.model = model
        self.phi = phi
        self.batch_size = batch_size
        self.to_bundle = None
        if fhir:
            from chartlnn.fhir import chart_to_bundle

            self.to_bundle = chart_to_bundle

    def __call__(self, notes: Sequence[NoteIn]) -> list[Outcome]:
        """One Outcome per note, in the order given."""
        outcomes: dict[int, Outcome] = {}
        todo = []
        for note in notes:
            text, counts, reason = guard_phi(note.text, self.phi)
            if reason:
                outcomes[note.index] = Outcome(note.index, None, None, reason)
            else:
                todo.append((note, text, counts))
        charts = self.model.chart_many([text for _, text, _ in todo],
                                       [note.note_id for note, _, _ in todo],
                                       [counts for _, _, counts in todo],
                                       max_batch_tokens=sys.maxsize, max_batch_notes=self.batch_size)
        for (note, _, _), chart in zip(todo, charts):
            outcomes[note.index] = self._finish(note.index, chart)
        _release_freed_memory()
        return [outcomes[note.index] for note in notes]

    def _finish(self, index: int, chart: dict[str, Any]) -> Outcome:
        try:
            validate_chart(chart)
        except ChartInvalid as exc:
            return Outcome(index, None, None, str(exc))
        bundle = _json_line(self.to_bundle(chart, note_text=None)) if self.to_bundle else None
        return Outcome(index, _json_line(chart), bundle, None)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library is another."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _release_freed_memory() -> None:
    """Hand the memory a window freed back to the system. Batches of every length leave glibc's
    heap fragmented, and the next long batch lands on top: without this a worker's peak grew with
    the input (1.05 GiB after 1,000 MTSamples notes, 2.0 GiB after 10,000; trimming every 1,000
    notes, 1.04 and 1.38). Trimmed after every window: 0.85, 0.90 and 0.92 GiB after 1,000,
    10,000 and 30,000 notes (benchmarks/chart_speed.py), for about 12% of the speed."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _json_line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def windows(notes: Sequence[NoteIn], size: int) -> list[list[NoteIn]]:
    """Notes cut into tasks of ``size``, neighbours in length (characters) sharing a task so each
    task's batches need little padding; fixed by the input alone, so every engine and worker count
    batches the same notes together."""
    ordered = sorted(notes, key=lambda note: (len(note.text), note.index))
    return [ordered[first:first + size] for first in range(0, len(ordered), size)]


_WORKER: Charter | None = None


def _start_worker(model_dir: str, device: str, phi: str, batch_size: int, fhir: bool,
                  threads: int) -> None:
    import torch

    from chartlnn.inference import load

    global _WORKER
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    torch.set_num_threads(threads)
    _WORKER = Charter(load(model_dir, device), phi, batch_size, fhir)


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: a parent killed with ``kill -9`` cannot stop its
    workers, and orphans would chart on (and hold memory) beside the rerun."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _chart_in_worker(notes: list[NoteIn]) -> list[Outcome]:
    assert _WORKER is not None, "worker used before _start_worker ran"
    return _WORKER(notes)


class LocalEngine:
    """Charts in this process (``workers=0``) or in worker processes that each hold the model and
    chart whole tasks with ``cores // workers`` torch threads.

    Why processes: the PHI scan, decoding and validation are Python (about a third of the time
    with liquid-small), so they only run in parallel in separate processes; and torch's threads
    wait on each other, so one process with 2 threads slowed 20x when another program took one
    of 2 cores, while 2 single-threaded workers only lost that core. Measured on 2 cores with
    liquid-small and MTSamples notes: 4,000 notes at 130 charts/s in one process, 145 with 2
    workers (about 4 s of that run is starting them); with another busy program, 6.5 vs 39.
    """

    def __init__(self, model: ChartModel, model_dir: Path, *, device: str, phi: str,
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
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=(str(model_dir), device, phi, batch_size, fhir, threads))

    def __call__(self, notes: Sequence[NoteIn], advance: Callable[[int], None]) -> list[Outcome]:
        tasks = windows(notes, self.task_size)
        outcomes: list[Outcome] = []
        if self.pool is None:
            for task in tasks:
                outcomes += self.charter(task)
                advance(len(task))
            return outcomes
        from concurrent.futures import as_completed

        futures = {self.pool.submit(_chart_in_worker, task): len(task) for task in tasks}
        for future in as_completed(futures):
            outcomes += future.result()
            advance(futures[future])
        return outcomes

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shards(records: Iterable[Note | Reject], size: int) -> Iterator[list[Note | Reject]]:
    """Consecutive lists of ``size`` records (the last may be shorter)."""
    shard: list[Note | Reject] = []
    for record in records:
        shard.append(record)
        if len(shard) == size:
            yield shard
            shard = []
    if shard:
        yield shard


def finished_shards(parts: Path) -> dict[int, dict[str, int]]:
    """Shard number → its counts, for every shard a run has finished (renamed into place)."""
    if not parts.exists():
        return {}
    return {int(p.name): json.loads((p / "counts.json").read_text(encoding="utf-8"))
            for p in parts.iterdir() if p.name.isdigit()}


def write_shard(parts: Path, shard: int, files: dict[str, list[str]],
                counts: dict[str, int]) -> None:
    """Write a shard's output files into a temporary folder, then rename it into place: the shard
    is there whole or not at all, whenever the process dies."""
    tmp = parts / f".tmp-{shard:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, lines in {**files, "counts.json": [json.dumps(counts)]}.items():
        with open(tmp / name, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
    os.rename(tmp, parts / f"{shard:08d}")
    _fsync_dir(parts)


def assemble(out: Path, names: Sequence[str]) -> dict[str, int]:
    """Join the shards' files, in shard order, into ``out/NAME`` (temporary file, then rename);
    the number of lines written per name."""
    parts = out / PARTS
    numbers = sorted(finished_shards(parts))
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers, default=-1) + 1)) - set(numbers))
        raise ChartRunError(f"{parts}: shard {missing[0]} is missing; rerun with --overwrite")
    lines = {}
    for name in names:
        tmp = out / f".tmp-{name}"
        lines[name] = 0
        with open(tmp, "wb") as target:
            for number in numbers:
                data = (parts / f"{number:08d}" / name).read_bytes()
                lines[name] += data.count(b"\n")
                target.write(data)
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, out / name)
    _fsync_dir(out)
    return lines


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (a power cut, not only a killed process, keeps it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_identity(model_dir: Path, input: Path, reader: str, options: dict[str, Any], phi: str,
                 fmt: str, shard_size: int) -> dict[str, Any]:
    """What makes two runs the same run: resuming one with another would mix their outputs.

    Batch size, workers, device and engine are left out: they change how fast, not what."""
    return {"model": _model_hash(model_dir),
            "input": {"path": str(input.resolve()), **_stat(input)}, "reader": reader, "options": options, "phi": phi, "format": fmt,
            "shard_size": shard_size}


def _model_hash(model_dir: Path) -> str:
    from chartlnn.inference import MODEL_FILES

    digest = hashlib.sha256()
    for name in MODEL_FILES:
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _stat(input: Path) -> dict[str, int]:
    """Size and modification time: a changed file (or folder of files) is a different input."""
    files = [p for p in input.rglob("*") if p.is_file()] if input.is_dir() else [input]
    stats = [p.stat() for p in files]
    return {"files": len(stats), "bytes": sum(s.st_size for s in stats),
            "mtime_ns": max((s.st_mtime_ns for s in stats), default=0)}


def _difference(stored: dict[str, Any], identity: dict[str, Any]) -> str | None:
    for key, value in identity.items():
        if stored.get(key) != value:
            return {"model": "model (its files changed or it is another model)",
                    "input": "input (another file, or the file changed)", "reader": "--reader",
                    "options": "-O reader options", "phi": "--phi", "format": "--format",
                    "shard_size": "--shard-size"}[key]
    return None


def open_out(out: Path, identity: dict[str, Any], overwrite: bool) -> ChartRunSummary | None:
    """Make ``out`` ready for this run: new, resumed, or (``overwrite``) cleared of a previous
    run's files. The stored summary when the same run has already finished."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise ChartRunError(f"{out}: is a file, expected an output folder")
    if out.exists() and not manifest.exists() and any(
            p.name not in _OURS and not p.name.startswith(".tmp-") for p in out.iterdir()):
        raise ChartRunError(f"{out}: exists and holds other files than a chart run's; "
                            "choose an empty or new --out folder")
    if manifest.exists() and overwrite:
        for path in out.iterdir():
            if path.name in _OURS or path.name.startswith(".tmp-"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    if manifest.exists():
        stored = json.loads(manifest.read_text(encoding="utf-8"))["run"]
        different = _difference(stored, identity)
        if different:
            raise ChartRunError(f"{out}: holds a chart run with a different {different}; rerun "
                                "its own command to resume it, or pass --overwrite to start over")
        if (out / SUMMARY).exists():
            shutil.rmtree(out / PARTS, ignore_errors=True)  # in case it died deleting them
            stored_summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
            return ChartRunSummary(**{**stored_summary, "already_done": True})
        return None
    out.mkdir(parents=True, exist_ok=True)
    _write_json(manifest, {"chartlnn_version": __version__, "run": identity})
    return None


_OURS = {MANIFEST, SUMMARY, PARTS, CHARTS, REJECTS, BUNDLES}


class Progress:
    """Records done out of ``total``, with notes/s and time left: a rich bar on a terminal
    (``"bar"``), a line every ``PROGRESS_EVERY_S`` seconds in a log (``"lines"``), or nothing."""

    def __init__(self, mode: Literal["bar", "lines", "off"], total: int | None, done: int) -> None:
        self.mode, self.total, self.done, self.skipped = mode, total, done, done
        self.start = self.last = time.perf_counter()
        self.bar = None
        if mode == "bar":
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, TaskProgressColumn,
                                       TextColumn, TimeRemainingColumn)
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn("charting"), BarColumn(), MofNCompleteColumn(),
                           TaskProgressColumn(), TextColumn("{task.fields[rate]} notes/s"),
                           TextColumn("ETA"), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("chart", total=total, completed=done, rate="-")

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        rate = (self.done - self.skipped) / max(now - self.start, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, rate=f"{rate:.1f}")
        elif self.mode == "lines" and now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            left = (self.total - self.done) / rate if self.total and rate else None
            eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left is not None else "?"
            print(f"chart: {self.done:,}/{self.total:,} records, {rate:.1f} notes/s, ETA {eta}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def pick_reader(input: Path, reader: str | None) -> str:
    """The recipe that reads ``input``: ``reader`` when given, else from the name's suffix."""
    if reader is not None:
        return reader
    if input.is_dir():
        return "text_dir"
    suffixes = [s.lower() for s in input.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in READERS_BY_SUFFIX:
        return READERS_BY_SUFFIX[suffixes[-1]]
    raise ChartRunError(f"{input}: cannot tell the format from the name; pass --reader "
                        f"({', '.join(sorted(set(READERS_BY_SUFFIX.values())))} or text_dir)")


def _records(input: Path, reader: str, options: dict[str, Any]) -> Iterator[Note | Reject]:
    """The reader's records, started already so that an unusable input fails before any work."""
    from data_recipes import RecipeError, get_recipe, recipe_options

    try:
        read = get_recipe(reader)
        unknown = sorted(set(options) - set(recipe_options(reader)))
        if unknown:
            raise ChartRunError(f"reader {reader!r} has no option {', '.join(unknown)}; it takes: "
                                f"{', '.join(recipe_options(reader)) or 'none'}")
        if not input.exists():
            raise ChartRunError(f"{input}: input not found")
        records = read(input, **options)
        first = next(records, None)
    except RecipeError as exc:
        raise ChartRunError(str(exc)) from None
    return chain([first] if first is not None else [], _recipe_errors(records))


def _recipe_errors(records: Iterator[Note | Reject]) -> Iterator[Note | Reject]:
    """The records; a file that turns out unusable mid-way is one ChartRunError line."""
    from data_recipes import RecipeError

    try:
        yield from records
    except RecipeError as exc:
        raise ChartRunError(f"{exc}; the shards charted so far are kept") from None


def chart(model_dir: str | Path, input: str | Path, out: str | Path, *, reader: str | None = None,
          options: dict[str, Any] | None = None, phi: str = "mask", fmt: str = "jsonl",
          shard_size: int = 1000, batch_size: int = 8, workers: int | None = None,
          device: str = "auto",
          engine: Literal["local", "ray"] = "local", ray_address: str | None = None,
          overwrite: bool = False, progress: Literal["bar", "lines", "off"] = "off"
          ) -> ChartRunSummary:
    """Chart every note of ``input`` with the model in ``model_dir`` into the folder ``out``.

    Rerun with the same arguments after an interruption, it resumes; after it finished, it does
    nothing and returns the stored summary. Raises ChartRunError (one line) for an unusable
    input, model or output folder, always before any charting when it is known up front.
    """
    start = time.perf_counter()
    model_dir, input, out, options = Path(model_dir), Path(input), Path(out), dict(options or {})
    for name, value, allowed in (("phi", phi, PHI_MODES), ("format", fmt, FORMATS),
                                 ("engine", engine, ("local", "ray"))):
        if value not in allowed:
            raise ChartRunError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if min(shard_size, batch_size) < 1 or (workers or 0) < 0:
        raise ChartRunError("shard size and batch size must be at least 1, workers at least 0")
    reader = pick_reader(input, reader)
    records = _records(input, reader, options)
    model = _load(model_dir, device)
    if workers is None:
        workers = 0 if model.device.type == "cuda" else cores()
    identity = run_identity(model_dir, input, reader, options, phi, fmt, shard_size)
    finished = open_out(out, identity, overwrite)
    if finished is not None:
        return finished
    names = [CHARTS, REJECTS] + ([BUNDLES] if fmt == "fhir" else [])
    done = finished_shards(out / PARTS)
    skipped = sum(counts["records"] for counts in done.values())
    total = None
    if progress != "off":
        total = sum(1 for _ in _records(input, reader, options))
    meter = Progress(progress, total, skipped)
    settings = dict(device=device, phi=phi, batch_size=batch_size, fhir=fmt == "fhir",
                    workers=workers)
    if engine == "ray":
        from chartlnn.ray_engine import RayEngine

        runner: LocalEngine | RayEngine = RayEngine(model_dir, address=ray_address, **settings)
    else:
        runner = LocalEngine(model, model_dir, **settings)
    charted_now = 0
    try:
        for number, shard in enumerate(shards(records, shard_size)):
            if number in done:
                if done[number]["records"] != len(shard):
                    raise ChartRunError(f"{input}: shard {number} held {done[number]['records']} "
                                        f"records before and {len(shard)} now; the input changed, "
                                        "rerun with --overwrite")
                continue
            counts = _chart_shard(runner, shard, number * shard_size, str(input), names,
                                  out / PARTS, number, meter.advance)
            charted_now += counts["charted"]
    finally:
        runner.close()
        meter.close()
    lines = assemble(out, names)
    records_in = sum(counts["records"] for counts in finished_shards(out / PARTS).values())
    wall = time.perf_counter() - start
    summary = ChartRunSummary(str(out), records_in, lines[CHARTS], lines[REJECTS], round(wall, 3),
                              round(charted_now / wall, 2), skipped)
    _write_json(out / SUMMARY, asdict(summary))
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return summary


def _load(model_dir: Path, device: str) -> ChartModel:
    """The model, or one ChartRunError line saying why it cannot be used here."""
    import torch

    from chartlnn.inference import load

    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ChartRunError(f"device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ChartRunError(f"--device {device}: no CUDA GPU here; use --device auto or cpu")
    try:
        return load(model_dir, device)
    except FileNotFoundError as exc:
        raise ChartRunError(str(exc)) from None


def _chart_shard(runner: LocalEngine | RayEngine, shard: list[Note | Reject], first_index: int,
                 source: str, names: Sequence[str], parts: Path, number: int,
                 advance: Callable[[int], None]) -> dict[str, int]:
    """Chart one shard's notes and write its part: charts and rejects in input order."""
    notes, lines = [], {name: {} for name in names}
    for index, record in enumerate(shard, first_index):
        if isinstance(record, Reject):
            lines[REJECTS][index] = _json_line(record.to_dict())
        else:
            notes.append(NoteIn(index, record.id, record.text))
    advance(len(shard) - len(notes))
    ids = {note.index: note.note_id for note in notes}
    for outcome in runner(notes, advance):
        if outcome.reason is not None:
            reject = Reject(source=source, note_id=ids[outcome.index], reason=outcome.reason)
            lines[REJECTS][outcome.index] = _json_line(reject.to_dict())
        else:
            lines[CHARTS][outcome.index] = outcome.chart
            if BUNDLES in lines:
                lines[BUNDLES][outcome.index] = outcome.bundle
    counts = {"records": len(shard), "charted": len(lines[CHARTS]), "rejected": len(lines[REJECTS])}
    write_shard(parts, number, {name: [by_index[i] for i in sorted(by_index)]
                                for name, by_index in lines.items()}, counts)
    return counts
