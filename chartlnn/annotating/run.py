"""`chartlnn.annotate`: notes in, one round of pre-annotated review tasks out, none lost.

Contract:

- Notes are read exactly as `chart` reads them (same readers, options, rejects, duplicate ids)
  and charted as `chart` charts them by default (residual PHI masked for the model, the chart
  mapped back onto the note as given, validated); a note whose chart is invalid is rejected.
- Notes a previous round exported (this folder's manifest, or ``skip_from`` folders') are
  skipped; of the rest, ``select`` picks ``n``: the most uncertain first (:mod:`.select`), a
  seeded random sample, or the first in input order. Only ``uncertainty`` charts every note;
  the others chart only the notes they pick.
- Round 1 writes ``tasks.json`` + ``labeling_config.xml`` (Label Studio) or ``NAME.txt`` +
  ``NAME.ann`` + ``annotation.conf`` (brat) into ``out``; round k writes ``tasks-roundk.json`` or
  the folder ``round-k/``; ``rejects.jsonl`` (``rejects-roundk.jsonl``) lists rejects as `chart`
  does (source, row, note id, reason: never text); then the manifest records the round.
- Records in = tasks written + rejected + not selected + skipped (``AnnotateSummary.reconciled``).
  The files hold note text (that is what a reviewer reads); nothing here prints or logs it.
"""

from __future__ import annotations

import json
import shutil
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from chartlnn.annotating import brat, labelstudio
from chartlnn.annotating.manifest import (AnnotateError, add_round, exported_ids, open_out,
                                          rounds, write_text)
from chartlnn.annotating.select import (SELECTIONS, UNCERTAINTY, Charted, most_uncertain,
                                        random_sample, uncertainty)
from chartlnn.charting.run import load_model, pick_reader, read_records, unique_ids
from chartlnn.charting.store import sha256_files
from chartlnn.charting.worker import TASK_BATCHES, chart_notes, json_line
from chartlnn.inference.model import MODEL_FILES, ChartModel
from chartlnn.notes import Note, Reject

FORMATS = ("labelstudio", "brat")


@dataclass
class AnnotateSummary:
    """What a round did."""

    out: str
    round: int
    tasks: str
    """The round's tasks file (Label Studio) or folder (brat)."""
    rejects: str
    records: int
    """Input records: every note and every row the reader could not turn into a note."""
    written: int
    rejected: int
    not_selected: int
    """Notes that could have been exported but were not picked (beyond ``n``)."""
    skipped: int
    """Notes an earlier round had exported."""

    @property
    def reconciled(self) -> bool:
        return self.records == self.written + self.rejected + self.not_selected + self.skipped


def annotate(model_dir: str | Path, input: str | Path, out: str | Path, *,
             fmt: str = "labelstudio", select: str = "uncertainty", n: int | None = None,
             seed: int = 0, reader: str | None = None, options: dict[str, Any] | None = None,
             skip_from: Iterable[str | Path] = (), device: str = "auto",
             batch_size: int = 8) -> AnnotateSummary:
    """Write the next round of review tasks for the notes of ``input`` into the folder ``out``:
    ``n`` notes (all when None) picked by ``select`` (:mod:`.select` states the uncertainty
    measure), none that this folder's or the ``skip_from`` folders' rounds exported.

    Raises a ChartlnnError (one line) for an unusable input, model, folder or manifest, before
    anything is written when it is known up front.
    """
    model_dir, input, out, options = Path(model_dir), Path(input), Path(out), dict(options or {})
    for name, value, allowed in (("format", fmt, FORMATS), ("select", select, SELECTIONS)):
        if value not in allowed:
            raise AnnotateError(f"--{name} must be one of {', '.join(allowed)}, not {value!r}")
    if (n is not None and n < 0) or batch_size < 1:
        raise AnnotateError("-n must be at least 0 and the batch size at least 1")
    reader = pick_reader(input, reader)
    records = unique_ids(read_records(input, reader, options, out / "parts"), str(input))
    skip = set()
    for folder in skip_from:
        skip |= exported_ids(rounds(Path(folder)))
    model = load_model(model_dir, device)
    done = open_out(out)
    skip |= exported_ids(done)
    counts = {"records": 0, "rejected_on_read": 0, "skipped": 0, "candidates": 0}
    rejects: dict[int, Reject] = {}
    candidates = _candidates(records, skip, counts, rejects)
    source = str(input)
    if select == "uncertainty":
        chosen = most_uncertain(_chart(model, candidates, batch_size, source, rejects), n)
    elif select == "random":
        chosen = list(_chart(model, random_sample(candidates, n, seed), batch_size, source, rejects))
    else:
        first = list(islice(candidates, n))
        deque(candidates, maxlen=0)  # read on to the end: every record is counted
        chosen = list(_chart(model, first, batch_size, source, rejects))
    number = len(done) + 1
    tasks, files = _write_tasks(model, fmt, chosen, out, number)
    rejects_file = out / ("rejects.jsonl" if number == 1 else f"rejects-round{number}.jsonl")
    write_text(rejects_file, "".join(json_line(rejects[i].to_dict()) for i in sorted(rejects)))
    rejected_on_chart = len(rejects) - counts["rejected_on_read"]
    summary = AnnotateSummary(str(out), number, str(tasks), str(rejects_file), counts["records"],
                              len(chosen), len(rejects),
                              counts["candidates"] - len(chosen) - rejected_on_chart,
                              counts["skipped"])
    add_round(out, done, {
        "round": number, "format": fmt, "tasks": tasks.relative_to(out).as_posix(),
        "select": select, "n": n, "seed": seed, "uncertainty": UNCERTAINTY,
        "input": str(input.resolve()), "reader": reader, "options": options,
        "model": {"path": str(model_dir.resolve()), "name": model.decoder.model["name"],
                  "sha256": sha256_files(model_dir, [model_dir / name for name in MODEL_FILES])},
        "counts": {key: getattr(summary, key)
                   for key in ("records", "written", "rejected", "not_selected", "skipped")},
        "notes": [{"note_id": one.note.id, "uncertainty": round(one.uncertainty, 6),
                   **({"file": files[one.note.id]} if files else {})} for one in chosen]})
    return summary


def _candidates(records: Iterator[Note | Reject], skip: set[str], counts: dict[str, int],
                rejects: dict[int, Reject]) -> Iterator[tuple[int, Note]]:
    """The notes that may be exported, with their place among the records; counts the records,
    the reader's rejects (kept in ``rejects``), the skipped notes and the candidates."""
    for index, record in enumerate(records):
        counts["records"] += 1
        if isinstance(record, Reject):
            counts["rejected_on_read"] += 1
            rejects[index] = record
        elif record.id in skip:
            counts["skipped"] += 1
        else:
            counts["candidates"] += 1
            yield index, record


def _chart(model: ChartModel, notes: Iterable[tuple[int, Note]], batch_size: int, source: str,
           rejects: dict[int, Reject]) -> Iterator[Charted]:
    """``(index, note)`` pairs charted a window at a time, as `chart` charts them by default
    (:func:`chart_notes` with PHI masked for the model); a note whose chart is invalid goes into
    ``rejects``."""
    notes = iter(notes)
    while window := list(islice(notes, batch_size * TASK_BATCHES)):
        results = chart_notes(model, [(note.id, note.text) for _, note in window], "mask",
                              batch_size)
        for (index, note), (chart, tags, reason) in zip(window, results):
            if reason is not None:
                rejects[index] = Reject(source=source, note_id=note.id, reason=reason)
                continue
            yield Charted(index, note, chart, uncertainty(tags))


def _write_tasks(model: ChartModel, fmt: str, chosen: list[Charted], out: Path,
                 number: int) -> tuple[Path, dict[str, str]]:
    """Write round ``number``'s tasks; their file or folder, and (brat) each note's file path
    relative to ``out``, without suffix."""
    if fmt == "labelstudio":
        tasks = out / ("tasks.json" if number == 1 else f"tasks-round{number}.json")
        write_text(tasks, json.dumps([labelstudio.task(one.note, one.chart, one.uncertainty)
                                      for one in chosen], ensure_ascii=False, indent=1) + "\n")
        write_text(out / "labeling_config.xml", labelstudio.labeling_config(model.schema))
        return tasks, {}
    folder = out if number == 1 else out / f"round-{number}"
    if number > 1:  # a round that stopped before the manifest listed it starts over
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.mkdir()
        except OSError as exc:
            raise AnnotateError(f"{folder}: cannot create it "
                                f"({exc.strerror or type(exc).__name__})") from None
    write_text(folder / "annotation.conf", brat.annotation_conf(model.schema))
    used: set[str] = set()
    files = {}
    for one in chosen:
        stem = brat.file_stem(one.note.id, used)
        write_text(folder / f"{stem}.txt", one.note.text)
        write_text(folder / f"{stem}.ann", brat.ann(one.note.text, one.chart))
        files[one.note.id] = (folder / stem).relative_to(out).as_posix()
    return folder, files
