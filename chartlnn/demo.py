"""`chartlnn demo`: the whole flow on embedded synthetic notes — generate → prepare → train →
chart one note as a table → chart the test notes as a batch job → an HTML page to check by eye.

Needs no download; the printed chart table is also what `chartlnn demo` users read first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown


def run_demo(out: Path, notes: int, console: Console) -> None:
    """Run the demo into ``out`` with ``notes`` synthetic notes, narrating on ``console``."""
    from chartlnn.config import load_config
    from chartlnn.preparing.dataset import load_prepared
    from chartlnn.preparing.data_card import render_markdown
    from chartlnn.preparing.builder import prepare as run_prepare
    from chartlnn.inference.model import load
    from chartlnn.charting.run import chart as run_chart
    from chartlnn.export.html import render_html
    from chartlnn.training.train import TrainConfig, train_config_path
    from chartlnn.training.train import train as run_train

    dataset, model_dir = out / "dataset", out / "liquid-small"
    console.print(f"[bold]1/4[/bold] generating {notes} synthetic notes and preparing {dataset}",
                  highlight=False)
    card = run_prepare("synthetic", None, dataset, options={"n": notes, "seed": 0},
                       show_progress=sys.stderr.isatty())
    Console().print(Markdown(render_markdown(card)))
    console.print(f"[bold]2/4[/bold] training liquid-small for about a minute into {model_dir}",
                  highlight=False)
    metrics = run_train(dataset, model_dir, model="liquid-small", overwrite=True,
                        config=load_config(TrainConfig, train_config_path("quick")))
    console.print(f"validation field F1 {metrics['val/field_f1']:.3f}", highlight=False)
    test = load_prepared(dataset).splits["test"]
    model = load(model_dir)
    console.print(f"[bold]3/4[/bold] the chart of test note {test[0]['id']}, read without its headers",
                  highlight=False)
    _print_chart(model.chart(test[0]["input_text"], note_id=test[0]["id"]))
    notes_file, charts_dir, page = out / "test_notes.jsonl", out / "charts", out / "note.html"
    with notes_file.open("w", encoding="utf-8") as handle:
        for note_id, text in zip(test["id"], test["input_text"]):
            handle.write(json.dumps({"id": note_id, "text": text}) + "\n")
    console.print(f"[bold]4/4[/bold] charting the {len(test)} headerless test notes as a batch job",
                  highlight=False)
    summary = run_chart(model_dir, notes_file, charts_dir, fmt="fhir", overwrite=True)
    page.write_text(render_html(test[0]["input_text"], model.chart(test[0]["input_text"], test[0]["id"]),
                                title=f"{test[0]['id']}: chart by liquid-small"), encoding="utf-8")
    console.print(f"{summary.records} notes in = {summary.charted} charted + {summary.rejected} "
                  f"rejected: {charts_dir}/charts.jsonl, {charts_dir}/bundles.ndjson (FHIR R4)\n"
                  f"open {page} in a browser to check the first note's fields by eye; "
                  f"`chartlnn show NOTE.txt --model {model_dir}` does the same for any note",
                  highlight=False)


def _print_chart(chart: dict) -> None:
    """A chart as a table a person can scan: one row per section or entity mention, medications
    with their linked dose, route and frequency."""
    from rich.table import Table

    note_type = chart["note_type"] or {"value": "-", "confidence": None}
    table = Table(title=f"note type: {note_type['value']} ({_confidence_text(note_type['confidence'])})")
    table.add_column("field", no_wrap=True, min_width=20)
    table.add_column("text in the note", overflow="ellipsis", max_width=36, no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("conf.", justify="right")
    for field, spans in chart["sections"].items():
        for span in spans:
            table.add_row(field, span["text"].replace("\n", " ⏎ "), "",
                          _confidence_text(span["confidence"]))
    for field, mentions in chart["entities"].items():
        for mention in mentions:
            value = _value_text(mention["value"])
            if mention["unit"] and value != "?":
                value = f"{value} {mention['unit']}"
            table.add_row(field, mention["text"], value, _confidence_text(mention["confidence"]))
    for med in (m for m in chart["medications"] if m["dose"] or m["route"] or m["frequency"]):
        parts = [med["name"], med["dose"], med["route"], med["frequency"]]
        table.add_row("→ medication", "", ", ".join(_value_text(p) for p in parts if p),
                      _confidence_text(med["confidence"]))
    Console().print(table)


def _confidence_text(confidence: float | None) -> str:
    return "-" if confidence is None else f"{confidence:.2f}"


def _value_text(value) -> str:
    if value is None:
        return "?"
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']:g} {value.get('unit', '')}".strip()
    return f"{value:g}" if isinstance(value, float) else str(value)
