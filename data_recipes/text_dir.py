"""`text_dir`: a folder of ``.txt`` notes, unlabeled (for pretraining or charting).

The note id is the file's path relative to the folder, without ``.txt``; sub-folders are read too,
in sorted order so runs are reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chartlnn.notes import Note, Reject
from data_recipes._common import MAX_NOTE_CHARS, RecipeError, checked, decode_bytes


def note_files(folder: Path, suffix: str = ".txt") -> list[Path]:
    """The note files under ``folder``, sorted; a clear error when the folder is unusable."""
    if not folder.exists():
        raise RecipeError(f"{folder}: folder not found")
    if not folder.is_dir():
        raise RecipeError(f"{folder}: expected a folder of {suffix} files")
    try:
        files = sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file())
    except OSError as exc:  # a folder below it that cannot be listed, a link loop
        raise RecipeError(f"{folder}: cannot list its files ({exc.strerror or type(exc).__name__})") from None
    if not files:
        raise RecipeError(f"{folder}: no {suffix} files in this folder")
    return files


def note_id(folder: Path, file: Path) -> str:
    return file.relative_to(folder).with_suffix("").as_posix()


def read(path: Path, *, max_chars: int = MAX_NOTE_CHARS) -> Iterator[Note | Reject]:
    folder = Path(path)
    for file in note_files(folder):
        nid = note_id(folder, file)
        try:
            data = file.read_bytes()
        except OSError as exc:  # unreadable (permissions, a dangling link, an I/O error): this file only
            yield Reject(source=str(file), note_id=nid,
                         reason=f"cannot read the file ({exc.strerror or type(exc).__name__})")
            continue
        text = decode_bytes(data)
        if text is None:
            yield Reject(source=str(file), note_id=nid, reason="text is not valid UTF-8")
            continue
        yield checked(Note(id=nid, text=text), str(file), None, max_chars)
