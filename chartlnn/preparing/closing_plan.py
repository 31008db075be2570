"""The closing instructions of a procedure are its plan.

Operative and procedure notes often end their description with what happens next ("She will
follow up in my office in one week.", "Discharge medication is ...") under no header of its own.
Those sentences are `plan` (GOLD.md): this module splits them off the end of a `procedure` span.

Rule (stated once, here): the sentences at the end of a procedure span, read backwards, are the
plan while each one states an instruction, a follow-up or a discharge (``_INSTRUCTION``); the first
sentence that does not stops the run. At least one sentence stays procedure.
"""

from __future__ import annotations

import re
from dataclasses import replace

from chartlnn.notes import Span

PROCEDURE, PLAN = "procedure", "plan"
_SENTENCE_END = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bvs\.)(?<=[.!?])\s+(?=[A-Z0-9])|\n\s*")
_INSTRUCTION = re.compile(
    r"(?<!\bthis )(?<!\bit )(?<!\bwhich )(?<!\bthat )\bwill\b|\b(?:is|are) to be\b"
    r"|\bfollow(?:ed)?[- ]?up\b|\bdischarged\b|\bdischarge medication|\binstruct|\bprescri"
    r"|\badvised\b"
    r"|\basked to\b|\breturn to (?:the )?(?:clinic|office|emergency|er\b)", re.IGNORECASE)


def split_closing_plan(text: str, sections: list[Span]) -> list[Span]:
    """``sections`` with each procedure span's closing instructions made a plan span of their own
    (same source); other spans unchanged."""
    out = []
    for span in sections:
        if span.label != PROCEDURE:
            out.append(span)
            continue
        cut = _plan_start(text, span.start, span.end)
        if cut is None:
            out.append(span)
            continue
        body_end = cut
        while body_end > span.start and text[body_end - 1].isspace():
            body_end -= 1
        out.append(replace(span, end=body_end))
        out.append(replace(span, start=cut, label=PLAN))
    return out


def _plan_start(text: str, start: int, end: int) -> int | None:
    """Where the closing run of instruction sentences in ``text[start:end]`` begins, or None."""
    starts = [start] + [m.end() for m in _SENTENCE_END.finditer(text, start, end) if m.end() < end]
    cut = None
    for first, stop in reversed(list(zip(starts, [*starts[1:], end]))):
        if first == start or not _INSTRUCTION.search(text, first, stop):
            break
        cut = first
    return cut
