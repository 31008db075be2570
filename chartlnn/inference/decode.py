"""From a tagger's token tags to a chart: character spans on the original text, then fields.

A :class:`Chart` (the JSON document of ``chartlnn/resources/chart.schema.json``) is built from
field spans by :func:`build_chart`, whoever found them: the model (through :class:`ChartDecoder`)
or the rule-based labeler (the evaluator's third system). Entity values are normalized exactly as
the silver labels were (:mod:`chartlnn.normalize`), so a value compares equal to its gold
value when the span is right. A medication's dose, route and frequency attach to the nearest
medication named before them on the same line.

A span's confidence is the mean, over its tokens, of the probability the model gave the tag it
chose; a note type's is the probability of the chosen class. Rule-based spans have none (null).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import AbstractSet, Any, Callable, NamedTuple, Sequence

import numpy as np

from chartlnn import __version__
from chartlnn.normalize import NORMALIZERS, normalize
from chartlnn.preparing.merge import overlaps
from chartlnn.tokenize import OUTSIDE, as_newlines, token_spans

CHART_VERSION = "1"
MEDICATION_PARTS = {"medication_dose": "dose", "medication_route": "route",
                    "medication_frequency": "frequency"}


class FieldSpan(NamedTuple):
    """A span of the note assigned to a field, with the confidence of whoever found it."""

    start: int
    end: int
    field: str
    confidence: float | None = None


@dataclass
class Encoded:
    """A note as the model reads it: token ids and each token's character offsets in the text."""

    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass
class Tagged:
    """The model's output for one note: per token, the chosen tag index and its probability."""

    section: np.ndarray  # (T,) int64
    section_prob: np.ndarray  # (T,) float32
    entity: np.ndarray  # (T,) int64
    entity_prob: np.ndarray  # (T,) float32
    note_type: int
    note_type_prob: float


def build_chart(text: str, sections: Sequence[FieldSpan], entities: Sequence[FieldSpan], *,
                units: dict[str, str | None], model: dict[str, str], note_id: str | None = None,
                note_type: tuple[str, float | None] | None = None,
                phi: dict[str, int] | None = None) -> dict[str, Any]:
    """One note's Chart from its field spans (offsets into ``text``)."""
    chart_sections: dict[str, list[dict[str, Any]]] = {}
    for span in sorted(sections):
        chart_sections.setdefault(span.field, []).append(
            {"start": span.start, "end": span.end, "text": text[span.start:span.end],
             "confidence": _rounded(span.confidence)})
    chart_entities: dict[str, list[dict[str, Any]]] = {}
    medications: list[dict[str, Any]] = []
    for span in sorted(entities):
        value = field_value(span.field, text[span.start:span.end])
        chart_entities.setdefault(span.field, []).append(
            {"start": span.start, "end": span.end, "text": text[span.start:span.end], "value": value,
             "unit": units.get(span.field), "confidence": _rounded(span.confidence)})
        if span.field == "medication":
            medications.append({"name": value, "dose": None, "route": None, "frequency": None,
                                "start": span.start, "end": span.end,
                                "confidence": _rounded(span.confidence)})
        elif span.field in MEDICATION_PARTS:
            owner = _owner(medications, text, span.start)
            part = MEDICATION_PARTS[span.field]
            if owner is not None and owner[part] is None and value is not None:
                owner[part] = value
                owner["end"] = span.end
    chart = {"chart_version": CHART_VERSION, "note_id": note_id, "model": model,
             "note_type": ({"value": note_type[0], "confidence": _rounded(note_type[1])}
                           if note_type else None),
             "sections": chart_sections, "entities": chart_entities, "medications": medications}
    if phi is not None:
        chart["phi"] = phi
    return chart


def on_original(chart: dict[str, Any], original: str,
                to_original: Callable[[int, int], tuple[int, int]]) -> dict[str, Any]:
    """A chart made from a masked copy of a note, moved onto the note as given: every span's
    offsets mapped back with ``to_original`` and its text read from ``original``, so that
    ``original[start:end] == text`` holds for every span whatever was masked. Values stay as
    read from the masked text (a placeholder never becomes a value)."""
    for spans in (*chart["sections"].values(), *chart["entities"].values()):
        for span in spans:
            span["start"], span["end"] = to_original(span["start"], span["end"])
            span["text"] = original[span["start"]:span["end"]]
    for medication in chart["medications"]:
        medication["start"], medication["end"] = to_original(medication["start"], medication["end"])
    return chart


def whole_words(text: str, spans: Sequence[FieldSpan]) -> list[FieldSpan]:
    """Spans widened to the letters and digits around them ("ortab" of "Lortab" → "Lortab",
    "-year-old" of "29-year-old" → "29-year-old", "97" of "97.5" → "97.5"): a mention never
    starts or ends inside a word or a decimal number.
    The tokenizer cuts words at digit/letter changes, so a tag can; a span never grows into its
    neighbour."""
    ordered = sorted(spans)
    widened = []
    for i, span in enumerate(ordered):
        floor = widened[-1].end if widened else 0
        ceiling = ordered[i + 1].start if i + 1 < len(ordered) else len(text)
        start, end = span.start, span.end
        while start > floor and _in_word(text, start - 1) and (_in_word(text, start)
                                                               or text[start] == "-"):
            start -= 1
        while end < ceiling and _in_word(text, end) and _in_word(text, end - 1):
            end += 1
        widened.append(span._replace(start=start, end=end))
    return widened


def _in_word(text: str, at: int) -> bool:
    """Whether ``text[at]`` belongs to a word: a letter, a digit or a decimal point."""
    return text[at].isalnum() or _decimal_point(text, at)


def _decimal_point(text: str, at: int) -> bool:
    """Whether ``text[at]`` is the point of a decimal number ("97.5", "0.625"): the tokenizer
    makes it a word of its own, and a mention that stops at it reads another number."""
    return (text[at] == "." and 0 < at < len(text) - 1
            and text[at - 1].isdigit() and text[at + 1].isdigit())


MENTION_EDGES = " \t\n-,;:/"
"""Characters a mention never starts or ends with: list dashes, commas, the slash of a BP."""


def tidy_mentions(text: str, spans: Sequence[FieldSpan]) -> list[FieldSpan]:
    """Mentions trimmed of separators at their edges ("Hydralazine -" → "Hydralazine") and two
    mentions of one field joined by a bare hyphen made one ("Depo" "-" "Provera" →
    "Depo-Provera"): the tokenizer makes "-" a word of its own, so whole-word decoding can leave
    it in or cut a hyphenated name in two. A mention of nothing but separators is dropped."""
    tidy: list[FieldSpan] = []
    for span in sorted(spans):
        start, end = span.start, span.end
        while start < end and text[start] in MENTION_EDGES:
            start += 1
        while end > start and text[end - 1] in MENTION_EDGES:
            end -= 1
        if start == end:
            continue
        last = tidy[-1] if tidy else None
        if last is not None and last.field == span.field and text[last.end:start] == "-":
            confidence = (None if last.confidence is None or span.confidence is None
                          else (last.confidence + span.confidence) / 2)
            tidy[-1] = last._replace(end=end, confidence=confidence)
        else:
            tidy.append(span._replace(start=start, end=end))
    return tidy


ALLERGY_LIST = ("allergies", "medication", "allergen")
"""(section, field, field): a name of the first field inside the section is one of the second."""


def listed_allergens(text: str, sections: Sequence[FieldSpan], entities: Sequence[FieldSpan]
                     ) -> list[FieldSpan]:
    """Drug names the tagger found inside an allergies section it found, with no dose, route or
    frequency after them on their line, made allergens: the labels' convention ("ALLERGIES:
    Sulfa, morphine"), which the tagger can miss on a headerless note where the same names read
    as a medication list. The two heads of one model agree; nothing outside them is consulted."""
    section, drug, allergen = ALLERGY_LIST
    allergies = [(s.start, s.end) for s in sections if s.field == section]
    if not allergies:
        return list(entities)
    ordered = sorted(entities)
    out = []
    for i, span in enumerate(ordered):
        if span.field == drug and any(a <= span.start and span.end <= b for a, b in allergies):
            line_end = text.find("\n", span.end)
            line_end = len(text) if line_end < 0 else line_end
            after = (e for e in ordered[i + 1:] if e.start < line_end and e.field != allergen)
            taken = next((e for e in after if e.field == drug or e.field in MEDICATION_PARTS), None)
            if taken is None or taken.field == drug:
                span = span._replace(field=allergen)
        out.append(span)
    return out


BLOOD_PRESSURE = ("bp_systolic", "bp_diastolic")
BP_READING = re.compile(r"(?<![\d/.])(\d{2,3})\s*(?:/|\b[Oo]ver\b)\s*(\d{2,3})(?![\d/])")
"""A blood pressure as notes write it, "124/78" or "124 over 78"; not a date ("12/10/2020")."""


def paired_pressures(text: str, entities: Sequence[FieldSpan]) -> list[FieldSpan]:
    """Blood pressure halves made whole readings: the two fields are the two numbers of one
    reading, so a half the tagger found brings its other half (the tagger marked "60" of
    "148/60" and missed "148"), and a half that is no reading's ("age is 81"), or whose reading
    is not a pressure (systolic not above diastolic: "Flexion 60/60", a range of motion), is
    dropped. Each reading's two spans take the confidence of the halves found in it. Where the
    other number is already another field's mention, the halves found stay as tagged: spans
    never overlap."""
    out = [span for span in entities if span.field not in BLOOD_PRESSURE]
    halves = [span for span in entities if span.field in BLOOD_PRESSURE]
    readings = ([m for m in BP_READING.finditer(text) if int(m.group(1)) > int(m.group(2))]
                if halves else [])
    found: dict[int, list[FieldSpan]] = {}
    for span in halves:
        reading = next((i for i, m in enumerate(readings)
                        if span.start < m.end() and m.start() < span.end), None)
        if reading is not None:
            found.setdefault(reading, []).append(span)
    paired = []
    for i, halves_found in found.items():
        known = [h.confidence for h in halves_found if h.confidence is not None]
        confidence = sum(known) / len(known) if known else None
        whole = [FieldSpan(*readings[i].span(group), field, confidence)
                 for group, field in enumerate(BLOOD_PRESSURE, start=1)]
        taken = any(overlaps(half, other) for half in whole for other in out)
        paired.extend(halves_found if taken else whole)
    return sorted(out + paired)


def field_value(field: str, text: str) -> Any:
    """The normalized value of a mention: the field's normalizer, or the text itself (stripped)
    for a field of a custom schema that has none."""
    return normalize(field, text) if field in NORMALIZERS else text.strip()


def _rounded(confidence: float | None) -> float | None:
    return None if confidence is None else round(float(confidence), 4)


def _owner(medications: list[dict[str, Any]], text: str, start: int) -> dict[str, Any] | None:
    """The last medication named before ``start`` on the same line, if any."""
    if not medications or "\n" in text[medications[-1]["end"]:start]:
        return None
    return medications[-1]


def valid_bio(log_probs: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The most probable BIO-valid tag sequence (an I- only after B- or I- of its field) given
    per-token tag log-probabilities (T, K) laid out as :func:`chartlnn.tokenize.bio_labels`
    (O, then B-/I- pairs), and the per-token argmax ``chosen`` (T,).

    Viterbi runs only over the stretches where the argmax is not O, widened by one token each
    side: outside them the argmax is O, which any sequence may take, so the result is the same as
    a whole-note Viterbi wherever those O tokens are confident, at a fraction of the cost."""
    tags = chosen.copy()
    busy = np.flatnonzero(chosen != 0)
    if busy.size == 0:
        return tags
    windows, start, end = [], max(0, busy[0] - 1), busy[0] + 2
    for i in busy[1:]:
        if i - 1 <= end:
            end = i + 2
        else:
            windows.append((start, min(end, len(tags))))
            start, end = i - 1, i + 2
    windows.append((start, min(end, len(tags))))
    b_of = np.arange(1, log_probs.shape[1], 2)  # B- tags; the I- tag of field k is b_of[k] + 1
    for first, stop in windows:
        score = log_probs[first].copy()
        score[b_of + 1] = -np.inf  # a stretch starts after an O token: no I- first
        back = np.zeros((stop - first, log_probs.shape[1]), dtype=np.int64)
        for t in range(first + 1, stop):
            best = int(score.argmax())
            stay = np.where(score[b_of] >= score[b_of + 1], b_of, b_of + 1)  # into I-: from B- or I-
            back[t - first] = best
            back[t - first, b_of + 1] = stay
            new = score[best] + log_probs[t]
            new[b_of + 1] = score[stay] + log_probs[t, b_of + 1]
            score = new
        tag = int(score.argmax())
        for t in range(stop - 1, first - 1, -1):
            tags[t] = tag
            tag = back[t - first, tag]
    return tags


def word_bio(log_probs: np.ndarray, continues: np.ndarray) -> np.ndarray:
    """The most probable BIO-valid tag sequence in which every word is tagged as one: its pieces
    all O, or B- then I- of one field, or all I- of one field (``continues`` (T,) marks the
    pieces that continue a word, WordPiece's ``##``).

    Per-token decoding can cut a drug name the tokenizer split ("Om ##ni ##cef" as B-, O, B-:
    two false mentions and a miss). Here each word is scored by the summed log-probabilities of
    its pieces under each whole-word tag, and :func:`valid_bio` runs over words."""
    count = len(continues)
    starts = np.flatnonzero(~continues | (np.arange(count) == 0))
    if len(starts) == count:
        return valid_bio(log_probs, log_probs.argmax(-1))
    b_of = np.arange(1, log_probs.shape[1], 2)
    words = np.add.reduceat(log_probs, starts, axis=0)  # (W, K): O or I- on every piece
    first = log_probs[starts]
    words[:, b_of] = first[:, b_of] + words[:, b_of + 1] - first[:, b_of + 1]  # B-, then I-s
    word_tags = valid_bio(words, words.argmax(-1))
    tags = np.repeat(word_tags, np.diff(np.append(starts, count)))
    inside = np.ones(count, dtype=bool)
    inside[starts] = False
    begins = tags % 2 == 1  # B- tags are odd (O, then B-/I- pairs)
    tags[inside & begins] += 1
    return tags


SECTION_GAP_TOKENS = 8
"""Untagged tokens between two runs of one section field that are filled in: a section is one
stretch of text, and a few tokens the tagger left out (a sub-header, a list number) do not end it."""
SECTION_ISLAND_TOKENS = 4
"""A run of another section field shorter than this, inside one section, is taken as part of it."""


def whole_lines(fields: Sequence[str], newline: Sequence[bool],
                breaks: AbstractSet[int] = frozenset()) -> list[str]:
    """Per-token section fields with every line given its most common field ("" counts too); a
    token in ``breaks`` ends the line's vote there and opens another (a section the tagger began
    inside a line, see :func:`section_breaks`).

    Sections are runs of whole lines (in MTSamples' silver labels 99.7% of section spans start and
    end at a line boundary, 98.6% in the gold set), so a line votes as one. A newline token joins
    the section of the lines either side of it when they share one, and is left out otherwise, so
    a span ends where its last line does."""
    out = list(fields)
    lines, start = [], None  # (first, stop) token ranges between newline tokens and breaks
    for i, is_newline in enumerate(newline):
        if start is not None and (is_newline or i in breaks):
            lines.append((start, i))
            start = None
        if not is_newline and start is None:
            start = i
    if start is not None:
        lines.append((start, len(out)))
    if not lines:
        return [""] * len(out)
    voted = []
    for first, stop in lines:
        field = Counter(out[first:stop]).most_common(1)[0][0]
        out[first:stop] = [field] * (stop - first)
        voted.append(field)
    out[:lines[0][0]] = [""] * lines[0][0]
    out[lines[-1][1]:] = [""] * (len(out) - lines[-1][1])
    for (_, gap_first), (gap_stop, _), before, after in zip(lines, lines[1:], voted, voted[1:]):
        out[gap_first:gap_stop] = [before if before == after else ""] * (gap_stop - gap_first)
    return out


RUN_IN_MARKS = frozenset(".!?:")
"""Marks after which, and a blank, a section can begin inside a line: a sentence's end, or the
colon of a header written inline ("... no fever. EXAM: Lungs clear")."""


def section_breaks(tags: Sequence[str], newline: Sequence[bool], run_in: Callable[[int], bool]
                   ) -> set[int]:
    """Tokens where the tagger began a section (its first token tagged ``B-``) at the start of a
    line, or inside one where ``run_in(token)`` allows (:func:`run_in_start`). At a line start:
    where two sections of one field meet, as two diagnoses whose headers were dropped, the second
    starts there and not inside the first. Inside a line: a note dictated or typed as one
    paragraph changes section mid-line, which a line's single vote would hide; an untagged run
    just before such a start that itself opens after a sentence (an inline header) is split off
    too, so that it votes for no section instead of joining the one before it."""
    breaks = set()
    for i, tag in enumerate(tags):
        if not tag.startswith("B-") or newline[i]:
            continue
        if i == 0 or newline[i - 1]:
            breaks.add(i)
        elif run_in(i):
            breaks.add(i)
            first = i
            while first > 0 and tags[first - 1] == OUTSIDE and not newline[first - 1]:
                first -= 1
            if first < i and run_in(first):
                breaks.add(first)
    return breaks


def run_in_start(text: str, offsets: Sequence[tuple[int, int]], token: int) -> bool:
    """Whether ``token`` follows one of :data:`RUN_IN_MARKS` and a blank on its line ("clear.
    Abdomen" and "EXAM: Lungs" open at "Abdomen" and "Lungs"; "2.5" and "b.i.d.," at nothing)."""
    if token == 0:
        return False
    (a, b), (start, _) = offsets[token - 1], offsets[token]
    return b - a == 1 and text[a] in RUN_IN_MARKS and start > b


def section_runs(fields: Sequence[str], breaks: AbstractSet[int] = frozenset()
                 ) -> list[tuple[int, int, str]]:
    """Token-index runs ``(first, last + 1, field)`` of one section field each, from per-token
    section fields ("" for none): short gaps inside a section are filled and short islands of
    another field inside one are absorbed, so a section comes out as one span, not fragments.
    A token in ``breaks`` starts a new span even where the field goes on, and what lies between
    that span and the one before it is not filled in."""
    runs: list[list] = []
    for i, name in enumerate(fields):
        if runs and runs[-1][2] == name and i not in breaks:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, name])
    for i in range(1, len(runs) - 1):
        before, run, after = runs[i - 1], runs[i], runs[i + 1]
        short = run[1] - run[0] < (SECTION_GAP_TOKENS + 1 if not run[2] else SECTION_ISLAND_TOKENS)
        if short and before[2] and before[2] == after[2] and after[0] not in breaks:
            run[2] = before[2]
    merged: list[list] = []
    for run in runs:
        if merged and merged[-1][2] == run[2] and run[0] not in breaks:
            merged[-1][1] = run[1]
        else:
            merged.append(list(run))
    return [(first, stop, name) for first, stop, name in merged if name]


def trim_newlines(runs: Sequence[tuple[int, int, str]], newline: Sequence[bool]
                  ) -> list[tuple[int, int, str]]:
    """The runs without the newline tokens they end on: a section ends where its last line does
    (a run that ends where the next of its field begins had taken the blank lines between)."""
    trimmed = []
    for first, stop, name in runs:
        while stop - 1 > first and newline[stop - 1]:
            stop -= 1
        trimmed.append((first, stop, name))
    return trimmed


@dataclass(frozen=True)
class ChartDecoder:
    """Turns a model's tags into Charts; holds only label names and model facts, so it pickles
    cheaply into worker processes."""

    section_tags: list[str]
    entity_tags: list[str]
    note_types: list[str]
    units: dict[str, str | None]
    model: dict[str, str] = field(default_factory=dict)

    @cached_property
    def _section_fields(self) -> list[str]:
        """Per section tag, its field ("" for O); worked out once per decoder, not per note."""
        return [tag.partition("-")[2] for tag in self.section_tags]

    def spans(self, text: str, encoded: Encoded, tagged: Tagged
              ) -> tuple[list[FieldSpan], list[FieldSpan]]:
        """Section and entity spans with confidences, on ``text`` (which the offsets index).
        Sections are voted line by line (:func:`whole_lines`) and smoothed into runs
        (:func:`section_runs`), split where the tagger began a section at the start of a line or
        after a sentence or an inline header inside one (:func:`section_breaks`); entities
        follow the BIO tags."""
        newline = [b - a == 1 and text[a] == "\n" for a, b in encoded.offsets]
        section = tagged.section.tolist()
        section_tags = [self.section_tags[t] for t in section]
        breaks = section_breaks(section_tags, newline,
                                lambda token: run_in_start(text, encoded.offsets, token))
        section_fields = whole_lines([self._section_fields[t] for t in section], newline, breaks)
        entity_tags = [self.entity_tags[t] for t in tagged.entity.tolist()]
        families = []
        sections = trim_newlines(section_runs(section_fields, breaks), newline)
        for runs, probs in ((sections, tagged.section_prob),
                            (token_spans(entity_tags), tagged.entity_prob)):
            families.append([FieldSpan(encoded.offsets[first][0], encoded.offsets[stop - 1][1],
                                       label, float(probs[first:stop].mean()))
                             for first, stop, label in runs])
        return families[0], families[1]

    def decode(self, text: str, encoded: Encoded, tagged: Tagged, note_id: str | None = None,
               phi: dict[str, int] | None = None) -> dict[str, Any]:
        """The Chart of one note (entity spans widened to whole words and tidied, see
        :func:`whole_words` and :func:`tidy_mentions`; drugs listed as allergies made allergens,
        :func:`listed_allergens`; blood pressure halves made readings, :func:`paired_pressures`).
        Lines are read as the tokenizer read them, every line break a newline
        (:func:`chartlnn.tokenize.as_newlines`); span texts are the note's own."""
        lined = as_newlines(text)
        sections, entities = self.spans(lined, encoded, tagged) if encoded.ids else ([], [])
        entities = tidy_mentions(lined, whole_words(lined, entities))
        if ALLERGY_LIST[1] in self.units and ALLERGY_LIST[2] in self.units:
            entities = listed_allergens(lined, sections, entities)
        if all(field in self.units for field in BLOOD_PRESSURE):
            entities = paired_pressures(lined, entities)
        note_type = ((self.note_types[tagged.note_type], tagged.note_type_prob)
                     if encoded.ids else None)
        chart = build_chart(lined, sections, entities, units=self.units, model=self.model,
                            note_id=note_id, note_type=note_type, phi=phi)
        return chart if lined == text else on_original(chart, text, lambda start, end: (start, end))


def model_info(name: str, encoder: str, schema: str) -> dict[str, str]:
    """The ``model`` block of a chart."""
    return {"name": name, "encoder": encoder, "schema": schema, "chartlnn_version": __version__}
