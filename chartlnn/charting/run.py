"""`chartlnn.chart`: the batch job — a night's notes in, a validated Chart per note out, none lost.

Contract:

- Input records (Notes and reader Rejects, in the reader's order) are cut into shards of
  ``shard_size`` records, written whole or not at all (:mod:`.store`); a rerun of the same
  command skips the finished shards, and a rerun that differs refuses (the manifest).
- At the end the parts are joined, in input order, into ``OUT/charts.jsonl`` (one Chart per note,
  each validated against the Chart JSON Schema), ``OUT/rejects.jsonl`` (source, row, note_id,
  reason: never text) and, with ``fmt="fhir"``, ``OUT/bundles.ndjson``; then ``summary.json``.
  Records in must equal charts + rejects (``ChartRunSummary.reconciled``).
- Every note passes the residual-PHI guard first (:mod:`chartlnn.deid`): ``mask`` charts a
  masked copy and maps the chart back onto the note as given (offsets never move), ``flag`` the
  original, ``reject`` rejects it naming the PHI kinds only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chartlnn.charting.local import LocalEngine
from chartlnn.charting.progress import Progress
from chartlnn.charting.store import (BUNDLES, CHARTS, PARTS, REJECTS, SUMMARY, ChartRunError,
                                     ChartRunSummary, assemble, finished_shards, open_out,
                                     run_identity, shards, write_json, write_shard)
from chartlnn.charting.worker import NoteIn, cores, json_line
from chartlnn.notes import Note, Reject

if TYPE_CHECKING:
    from chartlnn.charting.ray_engine import RayEngine
    from chartlnn.inference.model import ChartModel

PHI_MODES = ("mask", "flag", "reject")
FORMATS = ("jsonl", "fhir")
READERS_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
                     ".pq": "parquet"}


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


def read_records(input: Path, reader: str, options: dict[str, Any], parts: Path
                 ) -> Iterator[Note | Reject]:
    """The reader's records, started already so that an unusable input fails before any work
    (``parts``: where a mid-file failure looks for shards already charted, to say so)."""
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
    return chain([first] if first is not None else [], _recipe_errors(records, parts))


def unique_ids(records: Iterator[Note | Reject], source: str) -> Iterator[Note | Reject]:
    """The records with every later note of an id already seen turned into a reject: one chart
    (and one set of FHIR ids) per note id, decided by the input alone, so a resumed run agrees."""
    first: dict[str, int] = {}
    for number, record in enumerate(records, 1):
        if isinstance(record, Note):
            if record.id in first:
                record = Reject(source=source, note_id=record.id,
                                reason=f"duplicate note id: input record {first[record.id]} has it")
            else:
                first[record.id] = number
        yield record


def _recipe_errors(records: Iterator[Note | Reject], parts: Path) -> Iterator[Note | Reject]:
    """The records; a file that turns out unusable mid-way is one ChartRunError line that says
    whether any shard of it was charted (and kept, for a rerun once the file is mended)."""
    from data_recipes import RecipeError

    try:
        yield from records
    except RecipeError as exc:
        kept = len(finished_shards(parts))
        raise ChartRunError(f"{exc}; " + (f"the {kept} shard(s) charted before it are kept"
                                          if kept else "nothing was charted")) from None


def chart(model_dir: str | Path, input: str | Path, out: str | Path, *, reader: str | None = None,
          options: dict[str, Any] | None = None, phi: str = "mask", fmt: str = "jsonl",
          shard_size: int = 1000, batch_size: int = 8, workers: int | None = None,
          device: str = "auto", int8: bool = False,
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
    records = read_records(input, reader, options, out / PARTS)
    model = load_model(model_dir, device, int8)
    if workers is None:
        workers = 0 if model.device.startswith("cuda") else cores()
    identity = run_identity(model_dir, input, reader, options, phi, fmt, shard_size, int8)
    finished = open_out(out, identity, overwrite)
    if finished is not None:
        return finished
    names = [CHARTS, REJECTS] + ([BUNDLES] if fmt == "fhir" else [])
    done = finished_shards(out / PARTS)
    skipped = sum(counts["records"] for counts in done.values())
    total = None
    if progress != "off":
        total = sum(1 for _ in read_records(input, reader, options, out / PARTS))
    meter = Progress(progress, total, skipped)
    settings = dict(device=device, int8=int8, phi=phi, batch_size=batch_size,
                    fhir=fmt == "fhir", workers=workers)
    if engine == "ray":
        from chartlnn.charting.ray_engine import RayEngine

        runner: LocalEngine | RayEngine = RayEngine(model_dir, address=ray_address, **settings)
    else:
        runner = LocalEngine(model, model_dir, **settings)
    charted_now = 0
    try:
        for number, shard in enumerate(shards(unique_ids(records, str(input)), shard_size)):
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
    write_json(out / SUMMARY, asdict(summary))
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return summary


def load_model(model_dir: Path, device: str, int8: bool = False) -> ChartModel:
    """The model, or one ChartRunError line saying why it cannot be used here."""
    from chartlnn.inference.model import ModelDirError, load

    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ChartRunError(f"device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ChartRunError(f"--device {device}: no CUDA GPU here; use --device auto or cpu")
    try:
        return load(model_dir, device, int8)
    except ModelDirError as exc:
        raise ChartRunError(str(exc)) from None


def _chart_shard(runner: LocalEngine | RayEngine, shard: list[Note | Reject], first_index: int,
                 source: str, names: Sequence[str], parts: Path, number: int,
                 advance: Callable[[int], None]) -> dict[str, int]:
    """Chart one shard's notes and write its part: charts and rejects in input order."""
    notes, lines = [], {name: {} for name in names}
    for index, record in enumerate(shard, first_index):
        if isinstance(record, Reject):
            lines[REJECTS][index] = json_line(record.to_dict())
        else:
            notes.append(NoteIn(index, record.id, record.text))
    advance(len(shard) - len(notes))
    ids = {note.index: note.note_id for note in notes}
    for outcome in runner(notes, advance):
        if outcome.reason is not None:
            reject = Reject(source=source, note_id=ids[outcome.index], reason=outcome.reason)
            lines[REJECTS][outcome.index] = json_line(reject.to_dict())
        else:
            lines[CHARTS][outcome.index] = outcome.chart
            if BUNDLES in lines:
                lines[BUNDLES][outcome.index] = outcome.bundle
    counts = {"records": len(shard), "charted": len(lines[CHARTS]), "rejected": len(lines[REJECTS])}
    write_shard(parts, number, {name: [by_index[i] for i in sorted(by_index)]
                                for name, by_index in lines.items()}, counts)
    return counts
