"""The annotate manifest: which notes each round exported, so no reviewer sees a note twice.

``OUT/annotate_manifest.json`` holds one entry per round (format, files, selection, input, the
model's directory, name and SHA-256 — the chart manifest's digest of the same files —, counts,
and each exported note's id and uncertainty). A later round into the same folder, or into
another with ``--skip-from`` this one, skips every note id listed. It is written last, after the
round's files, so a round it lists is whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chartlnn import __version__
from chartlnn.errors import ChartlnnError

MANIFEST = "annotate_manifest.json"


class AnnotateError(ChartlnnError, ValueError):
    """Annotation cannot start or finish; one line naming the input, model or folder at fault."""


def open_out(out: Path) -> list[dict[str, Any]]:
    """The rounds already in ``out`` (none for a new or empty folder, which is made ready)."""
    if out.exists() and not out.is_dir():
        raise AnnotateError(f"{out}: is a file, expected an output folder")
    if (out / MANIFEST).exists():
        return rounds(out)
    if out.exists() and any(out.iterdir()):
        raise AnnotateError(f"{out}: holds files but no {MANIFEST} (another folder, or a run "
                            "that stopped before finishing); choose an empty or new --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnnotateError(f"{out}: cannot create it ({exc.strerror or type(exc).__name__})") from None
    return []


def rounds(folder: Path) -> list[dict[str, Any]]:
    """The rounds recorded in ``folder``'s manifest; one AnnotateError line when it has none."""
    path = folder / MANIFEST
    try:
        found = json.loads(path.read_text(encoding="utf-8"))["rounds"]
        exported_ids(found)  # every round lists its notes' ids
    except FileNotFoundError:
        raise AnnotateError(f"{folder}: no {MANIFEST}; is it a folder written by "
                            "`chartlnn annotate`?") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise AnnotateError(f"{path}: not a readable annotate manifest") from None
    return found


def exported_ids(found: list[dict[str, Any]]) -> set[str]:
    return {note["note_id"] for entry in found for note in entry["notes"]}


def add_round(out: Path, found: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """Record a finished round (temporary file, then rename: the manifest is whole or old)."""
    write_text(out / MANIFEST, json.dumps({"chartlnn_version": __version__,
                                           "rounds": [*found, entry]}, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, line ends as given) to ``path`` through a temporary file; a failure
    is one AnnotateError line naming the file."""
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise AnnotateError(f"{exc.filename or path}: cannot write it "
                            f"({exc.strerror or type(exc).__name__})") from None
