"""Progress of a chart run: a bar on a terminal, a line every half minute in a log, or nothing."""

from __future__ import annotations

import sys
import time
from typing import Literal

PROGRESS_EVERY_S = 30.0
"""How often the line-based progress (when stderr is not a terminal) reports."""


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
