"""The shard store and manifest of a chart run: whole shards or nothing, and refusal to mix runs.

Each finished shard's output is written to a temporary folder and renamed into ``OUT/parts/`` in
one step, so a killed run (``kill -9`` included) leaves whole shards or nothing.
``OUT/manifest.json`` records what the run is (the SHA-256 of the model's files and of the
input, reader, options): a rerun that differs refuses with one line instead of mixing outputs. At the end the
parts are joined, in input order, into the output files and ``summary.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartlnn import __version__
from chartlnn.errors import ChartlnnError
from chartlnn.notes import Note, Reject

CHARTS, REJECTS, BUNDLES = "charts.jsonl", "rejects.jsonl", "bundles.ndjson"
MANIFEST, SUMMARY, PARTS = "manifest.json", "summary.json", "parts"


class ChartRunError(ChartlnnError, ValueError):
    """The run cannot start or continue; one line naming the input, model or output at fault."""


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


def _on_disk(func):
    """A failure to write the output folder (no permission, a full disk, a file in the way) is one
    ChartRunError line; shards already written whole stay, so the same command resumes."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            raise ChartRunError(f"{exc.filename or 'the output folder'}: cannot write it "
                                f"({exc.strerror or type(exc).__name__}); shards written whole are "
                                "kept: rerun the same command once it is fixed") from None

    return run


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


@_on_disk
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


@_on_disk
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


@_on_disk
def write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_identity(model_dir: Path, input: Path, reader: str, options: dict[str, Any], phi: str,
                 fmt: str, shard_size: int, int8: bool = False) -> dict[str, Any]:
    """What makes two runs the same run: resuming one with another would mix their outputs.

    The model and the input are identified by the SHA-256 of their contents (not size and time:
    an edit that keeps both would resume onto stale charts). Batch size, workers, device and
    engine are left out: they change how fast, not what; int8 weights may change a chart, so a
    run with them is another run."""
    from chartlnn.inference.model import MODEL_FILES

    files = sorted(p for p in input.rglob("*") if p.is_file()) if input.is_dir() else [input]
    return {"model": sha256_files(model_dir, [model_dir / name for name in MODEL_FILES]),
            "input": {"path": str(input.resolve()), "files": len(files),
                      "bytes": sum(p.stat().st_size for p in files),
                      "sha256": sha256_files(input if input.is_dir() else input.parent, files)},
            "reader": reader, "options": options, "phi": phi, "format": fmt,
            "shard_size": shard_size, **({"int8": True} if int8 else {})}


def sha256_files(root: Path, files: Sequence[Path]) -> str:
    """One digest of the files' paths (relative to ``root``) and contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode("utf-8", "surrogateescape") + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _difference(stored: dict[str, Any], identity: dict[str, Any]) -> str | None:
    for key in [*identity, *(k for k in stored if k not in identity)]:
        if stored.get(key) != identity.get(key):
            return {"model": "model (its files changed or it is another model)",
                    "input": "input (another file, or the file changed)", "reader": "--reader",
                    "options": "-O reader options", "phi": "--phi", "format": "--format",
                    "shard_size": "--shard-size", "int8": "--int8"}.get(key, key)
    return None


@_on_disk
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
    write_json(manifest, {"chartlnn_version": __version__, "run": identity})
    return None


_OURS = {MANIFEST, SUMMARY, PARTS, CHARTS, REJECTS, BUNDLES}
