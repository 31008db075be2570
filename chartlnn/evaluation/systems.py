"""The systems under test — trained models and the rule-based labeler — charting a split, and
each chart scored against the note's gold labels, per view (headers removed, or as written)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from chartlnn.errors import ChartlnnError
from chartlnn.evaluation.metrics import (CHART_METRICS, NoteScore, bootstrap_f1, gold_entities,
                                         score_chart, summarize)
from chartlnn.evaluation.report import BY_NOTE_TYPE, HEADLINE, RULES, ViewSummary
from chartlnn.inference.model import ModelDirError


class EvaluateError(ChartlnnError, ValueError):
    """Something that stops an evaluation before it starts; the message names what and where."""


@dataclass
class System:
    """One thing that charts notes: a loaded model (``model``) or the rule-based labeler."""

    name: str
    path: str | None
    chart_many: Callable[[list[str], list[str]], list[dict]]
    model: Any = None


def load_systems(data, model_dirs: Sequence[str | Path], rules: bool, device: str) -> list[System]:
    """The models (checked against the dataset: same schema fields and tokenizer) and the rules."""
    from chartlnn.inference.model import load
    from chartlnn.tokenize import bio_labels

    if not model_dirs:
        raise EvaluateError("no model to evaluate: give --model")
    systems = []
    for path in model_dirs:
        try:
            model = load(path, device=device)
        except ModelDirError as exc:
            raise EvaluateError(str(exc)) from None
        labels = model.config["labels"]
        if (labels["section_tags"] != bio_labels(data.schema.section_names)
                or labels["entity_tags"] != bio_labels(data.schema.entity_names)):
            raise EvaluateError(f"{path}: the model's schema fields differ from {data.path}'s; "
                                "evaluate on a dataset prepared with the same schema")
        if model.tokenizer.to_str() != data.tokenizer.to_str():
            raise EvaluateError(f"{path}: the model's tokenizer differs from {data.path}'s; "
                                f"prepare the data with --tokenizer {path}")
        systems.append(System(_unique_name(model.decoder.model["name"], Path(path),
                                           [s.name for s in systems]),
                              str(path), model.chart_many, model))
    if rules:
        systems.append(System(RULES, None, _rules_charter(data.schema)))
    return systems


def _unique_name(name: str, path: Path, taken: list[str]) -> str:
    """The model's name, or with the shortest end of its path that no earlier system has
    (``liquid-small (abl/mix)``), so reports tell models of one kind apart."""
    if name not in taken:
        return name
    parts = path.resolve().parts
    for k in range(1, len(parts) + 1):
        candidate = f"{name} ({'/'.join(parts[-k:])})"
        if candidate not in taken:
            return candidate
    return f"{name} ({path})"


def _rules_charter(schema) -> Callable[[list[str], list[str]], list[dict]]:
    """The silver labeler (headers, patterns) charting notes, as the model would."""
    from chartlnn.inference.decode import FieldSpan, build_chart, model_info
    from chartlnn.preparing.labeler import NoteLabeler
    from chartlnn.notes import Note

    labeler = NoteLabeler(schema)
    units = {name: e.unit for name, e in schema.entities.items()}
    info = model_info(RULES, "spacy-patterns+headers", schema.name)

    def chart_many(texts: list[str], note_ids: list[str]) -> list[dict]:
        charts = []
        for text, note_id in zip(texts, note_ids):
            labeled = labeler.label(Note(id=note_id, text=text))
            spans = [[FieldSpan(s.start, s.end, s.label) for s in family]
                     for family in (labeled.sections, labeled.entities)]
            charts.append(build_chart(text, spans[0], spans[1], units=units, model=info,
                                      note_id=note_id))
        return charts

    return chart_many


@dataclass
class ViewScores:
    """One system's scores on one view of the split."""

    notes: list[NoteScore]
    gold_types: list[str | None]
    """Each scored note's gold note type (None where the note has none), in ``notes`` order."""
    predicted_types: list[str | None]
    """Each scored note's predicted note type (None where the chart has none), in ``notes`` order."""
    skipped: Counter
    """Reason → notes not scored."""


def score_view(system: System, split, schema, view: str) -> ViewScores:
    """Chart every note of ``split`` as ``view`` ("input": headers removed, "full": as written)
    with ``system`` and score each chart against the note's gold labels."""
    from chartlnn.preparing.dataset import VIEWS
    from chartlnn.schema import ChartInvalid, validate_chart

    section_names = split.features[f"{view}_section_tags"].feature.names
    type_names = split.features["note_type"].names
    texts, ids = split[VIEWS[view]], split["id"]
    usable = [i for i, offsets in enumerate(split[f"{view}_offsets"]) if offsets]
    skipped = Counter({"no tokens in the text": len(ids) - len(usable)}) if len(usable) < len(ids) else Counter()
    charts = system.chart_many([texts[i] for i in usable], [ids[i] for i in usable])
    notes, gold_types, predicted_types = [], [], []
    for i, chart in zip(usable, charts):
        try:
            validate_chart(chart)
        except ChartInvalid:
            skipped["chart failed the chart schema"] += 1
            continue
        example = split[i]
        gold = gold_entities(texts[i], example[f"{view}_spans"], schema.entities)
        tags = [section_names[t] for t in example[f"{view}_section_tags"]]
        offsets = [tuple(o) for o in example[f"{view}_offsets"]]
        notes.append(score_chart(chart, gold, tags, offsets))
        gold_types.append(type_names[example["note_type"]] if example["note_type"] >= 0 else None)
        predicted_types.append(chart["note_type"]["value"] if chart["note_type"] else None)
    return ViewScores(notes, gold_types, predicted_types, skipped)


def summarize_view(scores: ViewScores, resamples: int, seed: int,
                   baseline: ViewScores | None = None) -> ViewSummary:
    """Everything the report says about one system on one view: per-metric summaries, headline
    F1s with bootstrap intervals (and the interval of the difference to ``baseline``, scored on
    the same notes), chart exact match, note-type accuracy, and the section confusions."""
    metrics = {m: summarize([n.counts[m] for n in scores.notes]) for m in CHART_METRICS}
    headline = {}
    for m in HEADLINE:
        paired = ([n.counts[m] for n in baseline.notes]
                  if baseline is not None and len(baseline.notes) == len(scores.notes) else None)
        headline[m] = bootstrap_f1([n.counts[m] for n in scores.notes], resamples, seed, paired)
    confusion = sum((n.section_confusion for n in scores.notes), Counter())
    mistaken = [{"gold": g, "predicted": p, "tokens": c} for (g, p), c in confusion.most_common()
                if g != p][:12]
    typed = [(g, p) for g, p in zip(scores.gold_types, scores.predicted_types) if g is not None]
    return ViewSummary(
        notes=len(scores.notes),
        skipped=dict(scores.skipped),
        metrics=metrics,
        headline=headline,
        chart_exact_match=(sum(n.exact_match for n in scores.notes) / len(scores.notes)
                           if scores.notes else 0.0),
        note_type_accuracy=(sum(g == p for g, p in typed) / len(typed) if typed else None),
        section_confusions=mistaken,
        by_note_type=_by_note_type(scores),
    )


def _by_note_type(scores: ViewScores) -> dict[str, dict[str, float]]:
    """Micro section token and entity value F1 over the notes of each gold note type (most
    notes first): a split that mixes kinds of notes can hide one kind the model reads badly."""
    kinds = Counter(t for t in scores.gold_types if t is not None)
    out = {}
    for kind, count in kinds.most_common():
        notes = [n for n, t in zip(scores.notes, scores.gold_types) if t == kind]
        out[kind] = {"notes": count, **{m: summarize([n.counts[m] for n in notes])["micro"]["f1"]
                                        for m in BY_NOTE_TYPE}}
    return out
