"""The one error type a user sees.

Every failure a person can fix (a missing file, a bad flag, an unusable model or dataset
directory) raises a subclass of :class:`ChartlnnError` whose message is one line naming the
file, row or flag at fault and what to do — never a note's text. The CLI catches this type
alone and prints its message; anything else is a bug and shows its traceback.
"""

from __future__ import annotations


class ChartlnnError(Exception):
    """A user-facing error: one line, naming what is wrong and where, never quoting note text."""
