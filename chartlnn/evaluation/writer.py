"""The evaluation report on disk: ``report.json`` (every number, with provenance), ``report.md``
(the side-by-side tables a person reads first) and ``plots/*.png``.

Takes the :class:`~chartlnn.evaluation.report.Report` that :func:`chartlnn.evaluation.run.evaluate`
builds; writes, never measures.
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import asdict
from typing import Any

from chartlnn.evaluation.plots import plot_f1_vs_energy, plot_per_field_f1, plot_time_vs_length
from chartlnn.evaluation.report import BY_NOTE_TYPE, HEADLINE, VIEW_NAMES, Report

METRIC_NAMES = {
    "section_token": "section token F1",
    "entity_value": "entity value F1",
    "entity_span_strict": "entity span F1 (strict)",
    "entity_span_partial": "entity span F1 (partial)",
    "section_span": "section span F1 (exact)",
}


def write_report(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    (out / "plots").mkdir(exist_ok=True)
    plot_f1_vs_energy(report, out / "plots" / "f1_vs_energy.png")
    plot_time_vs_length(report, out / "plots" / "time_vs_length.png")
    plot_per_field_f1(report, out / "plots" / "per_field_f1.png")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")


def _f1(value: float) -> str:
    return f"{100 * value:.1f}"


def _ci(headline: dict[str, Any]) -> str:
    low, high = headline["ci95"]
    return f"{_f1(headline['f1'])} [{_f1(low)}–{_f1(high)}]"


def _number(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if value < 1000 else f"{value:,.0f}"


def render_markdown(report: Report) -> str:
    names = [s.name for s in report.systems]
    machine, data = report.machine, report.data
    lines = [f"# chartlnn evaluation: {data.recipe or data.path}, {data.split} split "
             f"({data.notes} notes)", ""]
    hardware = f"{machine.cpu}, {machine.cpu_cores} cores"
    if machine.memory_gib:
        hardware += f", {machine.memory_gib} GiB"
    if machine.gpu:
        hardware += f", GPU {machine.gpu}"
    lines += [f"Machine: {hardware}; charting on `{report.device}`, torch "
              f"{report.versions.get('torch')}, {machine.torch_threads} threads. "
              f"Created {report.created} in {report.seconds:.0f} s.", ""]
    cost = report.cost
    if cost:
        first_name, first = next(iter(cost.items()))
        provenance = first.provenance
        lines.append(f"Energy: **{provenance}** ({first.meter_detail} in {first_name}'s last window).")
        if provenance.startswith("estimated"):
            lines.append(f"This machine has no energy counter: joules are *estimated* as process "
                         f"CPU-seconds × {report.settings.watts_per_core:g} W per core. The "
                         "ratio between models does not depend on that figure.")
        lines.append("")
    for view in ("input", "full"):
        lines += [f"## Accuracy, {VIEW_NAMES[view]}" + (" (the real task)" if view == "input" else ""),
                  "", _accuracy_table(report, names, view), ""]
    baseline = report.baseline
    if baseline:
        head = report.accuracy[names[0]]["input"].headline
        lines.append(f"Paired bootstrap over notes ({report.settings.resamples} resamples), "
                     f"{names[0]} − {baseline}, headerless, 95% interval in F1 points:")
        lines += [f"- {METRIC_NAMES[m]}: [{_f1(head[m]['difference_ci95'][0])}, "
                  f"{_f1(head[m]['difference_ci95'][1])}]" for m in HEADLINE if "difference_ci95" in head[m]]
        lines.append("")
    versus_rules = [(VIEW_NAMES[view], report.accuracy[names[0]][view].headline["entity_value"]
                     .get("rules_difference_ci95")) for view in ("input", "full")]
    if all(ci for _, ci in versus_rules):
        lines += [f"Entity value F1, {names[0]} − rules, paired, 95% interval in F1 points: "
                  + "; ".join(f"{view} [{_f1(ci[0])}, {_f1(ci[1])}]" for view, ci in versus_rules)
                  + " (on silver labels the rules are the answer key; on gold they are a system "
                  "like any other).", ""]
    if cost:
        lines += ["## Cost per chart (headerless test notes)", "", _cost_table(report), ""]
        if baseline in cost and names[0] in cost:
            ours, theirs = cost[names[0]], cost[baseline]
            lines += [f"{baseline} ÷ {names[0]}: energy per chart "
                      f"**{theirs.j_per_chart.median / ours.j_per_chart.median:.1f}x**, "
                      f"time per chart {theirs.seconds_per_chart.median / ours.seconds_per_chart.median:.1f}x, "
                      f"FLOPs per chart {theirs.flops_per_chart['total'] / ours.flops_per_chart['total']:.1f}x, "
                      f"parameters {theirs.params / ours.params:.1f}x.", ""]
    lines += ["## Per field, headerless (F1: entity fields on values, sections on tokens)", "",
              _per_field_table(report, names), ""]
    if len(report.accuracy[names[0]]["input"].by_note_type) > 1:
        lines += ["## Per note type (micro F1, headerless / with headers)", "",
                  _note_type_table(report, names), ""]
    confusions = report.accuracy[names[0]]["input"].section_confusions
    if confusions:
        lines += [f"## Sections {names[0]} mistakes most often (headerless, tokens)", "",
                  "| gold | predicted | tokens |", "|---|---|---:|"]
        lines += [f"| {c['gold']} | {c['predicted']} | {c['tokens']:,} |" for c in confusions[:10]]
        lines.append("")
    if report.scaling:
        lines += ["## Cost by note length (ms and J per chart, median)", "", _scaling_table(report), ""]
    lines += ["## Notes accounted for", ""]
    for name in names:
        for view in ("input", "full"):
            scores = report.accuracy[name][view]
            skipped = ", ".join(f"{n} {reason}" for reason, n in scores.skipped.items()) or "none"
            lines.append(f"- {name}, {VIEW_NAMES[view]}: {scores.notes} evaluated; skipped: {skipped}")
    lines += ["", "## Systems", ""]
    for system in report.systems:
        train = system.train or {}
        facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in train.items() if v is not None)
        lines.append(f"- **{system.name}** ({system.encoder}): {system.path or 'built in'}"
                     + (f"; {facts}" if facts else ""))
    lines += ["", "## How it was measured", "", *METHOD, ""]
    return "\n".join(lines)


METHOD = [
    "- Entity value F1: normalized values (age in years, °C, kg, cm, mmHg, /min, %, dose amount "
    "and unit, route, frequency, allergen) compared exactly, as a multiset per note and field.",
    "- Entity span F1: character bounds and field exact (strict) or overlapping (partial, each "
    "gold span matched once). Section token F1: tokens given the same section field. Section "
    "span F1: same field and exact bounds.",
    "- Micro F1 pools counts over fields; chart exact match is the share of notes whose every "
    "entity value is right (nothing missed, nothing invented). Gold is the dataset's labels "
    "(silver from headers and patterns for MTSamples), so the rules score against their own labels "
    "with headers; without headers they show what is left for a model to learn.",
    "- 95% intervals: percentile bootstrap over notes; the paired interval resamples the same "
    "notes for both systems.",
    "- Energy: one warm-up pass, then rounds in which the models alternate; each turn is a "
    "window of several seconds charting the whole headerless split again and again (text in, "
    "Chart out: tokenizing, the network, decoding). J/chart = window energy ÷ charts; median and "
    "range over windows. Idle power is not subtracted.",
    "- FLOPs: matrix products counted by torch's FlopCounterMode plus the recurrence's elementwise "
    "work by formula (chartlnn/flops.py); mean over the split's note lengths. Peak memory: growth "
    "of a fresh process's maximum resident set while charting the split (CPU), or the CUDA "
    "allocator's peak (GPU).",
]


def _accuracy_table(report: Report, names: list[str], view: str) -> str:
    rows = ["| system | " + " | ".join(METRIC_NAMES[m] + (" [95% CI]" if m in HEADLINE else "")
                                       for m in METRIC_NAMES) + " | chart exact match | note type acc. |",
            "|---|" + "---:|" * (len(METRIC_NAMES) + 2)]
    for name in names:
        scores = report.accuracy[name][view]
        cells = [(_ci(scores.headline[m]) if m in HEADLINE else _f1(scores.metrics[m]["micro"]["f1"]))
                 for m in METRIC_NAMES]
        accuracy = scores.note_type_accuracy
        cells += [f"{100 * scores.chart_exact_match:.1f}%",
                  "-" if accuracy is None or name == "rules" else f"{100 * accuracy:.1f}%"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cost_table(report: Report) -> str:
    rows = ["| system | params | J/chart (median [range]) | provenance | ms/chart | charts/s | "
            "GFLOPs/chart | peak memory MiB |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, cost in report.cost.items():
        joules = cost.j_per_chart
        rows.append(
            f"| {name} | {cost.params:,} | {_number(joules.median)} "
            f"[{_number(joules.min)}–{_number(joules.max)}] | {cost.provenance} | "
            f"{1000 * cost.seconds_per_chart.median:.1f} | {cost.charts_per_s:.1f} | "
            f"{cost.flops_per_chart['total'] / 1e9:.2f} | {cost.peak_memory_mib:,.0f} |")
    return "\n".join(rows)


def _per_field_table(report: Report, names: list[str]) -> str:
    rows = ["| field | gold mentions / tokens | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names)]
    first = report.accuracy[names[0]]["input"].metrics
    for metric in ("entity_value", "section_token"):
        for field, scores in first[metric]["per_field"].items():
            if not scores["support"]:
                continue
            cells = []
            for name in names:
                found = report.accuracy[name]["input"].metrics[metric]["per_field"].get(field)
                cells.append(_f1(found["f1"]) if found else "0.0")
            rows.append(f"| {field} | {scores['support']:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _note_type_table(report: Report, names: list[str]) -> str:
    columns = [(name, m) for m in BY_NOTE_TYPE for name in names]
    rows = ["| note type | notes | " + " | ".join(f"{name} {METRIC_NAMES[m].removesuffix(' F1')}"
                                                 for name, m in columns) + " |",
            "|---|---:|" + "---:|" * len(columns)]
    for kind, first in report.accuracy[names[0]]["input"].by_note_type.items():
        cells = []
        for name, metric in columns:
            views = [report.accuracy[name][view].by_note_type.get(kind) for view in ("input", "full")]
            cells.append(" / ".join(_f1(v[metric]) if v else "-" for v in views))
        rows.append(f"| {kind} | {first['notes']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _scaling_table(report: Report) -> str:
    names = list(report.scaling)
    rows = ["| tokens | notes | " + " | ".join(f"{n} ms | {n} J" for n in names) + " |",
            "|---|---:|" + "---:|---:|" * len(names)]
    for i, row in enumerate(report.scaling[names[0]]):
        cells = []
        for name in names:
            other = report.scaling[name][i]
            cells += [f"{1000 * other.seconds_per_chart:.1f}", _number(other.j_per_chart)]
        rows.append(f"| {row.bucket} | {row.notes} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
