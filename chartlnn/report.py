"""The evaluation report on disk: ``report.json`` (every number, with provenance), ``report.md``
(the side-by-side tables a person reads first) and ``plots/*.png``.

Takes the dict :func:`chartlnn.comparison.evaluate` builds; writes, never measures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chartlnn.comparison import HEADLINE, VIEW_NAMES

METRIC_NAMES = {
    "section_token": "section token F1",
    "entity_value": "entity value F1",
    "entity_span_strict": "entity span F1 (strict)",
    "entity_span_partial": "entity span F1 (partial)",
    "section_span": "section span F1 (exact)",
}


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
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


def render_markdown(report: dict[str, Any]) -> str:
    names = [s["name"] for s in report["systems"]]
    machine, data = report["machine"], report["data"]
    lines = [f"# chartlnn evaluation: {data['recipe'] or data['path']}, {data['split']} split "
             f"({data['notes']} notes)", ""]
    hardware = f"{machine['cpu']}, {machine['cpu_cores']} cores"
    if machine.get("memory_gib"):
        hardware += f", {machine['memory_gib']} GiB"
    if machine.get("gpu"):
        hardware += f", GPU {machine['gpu']}"
    lines += [f"Machine: {hardware}; charting on `{report['device']}`, torch "
              f"{report['versions'].get('torch')}, {machine['torch_threads']} threads. "
              f"Created {report['created']} in {report['seconds']:.0f} s.", ""]
    cost = report["cost"]
    if cost:
        first_name, first = next(iter(cost.items()))
        provenance = first["provenance"]
        lines.append(f"Energy: **{provenance}** ({first['meter_detail']} in {first_name}'s last window).")
        if provenance.startswith("estimated"):
            lines.append(f"This machine has no energy counter: joules are *estimated* as process "
                         f"CPU-seconds × {report['settings']['watts_per_core']:g} W per core. The "
                         "ratio between models does not depend on that figure.")
        lines.append("")
    for view in ("input", "full"):
        lines += [f"## Accuracy, {VIEW_NAMES[view]}" + (" (the real task)" if view == "input" else ""),
                  "", _accuracy_table(report, names, view), ""]
    baseline = report.get("baseline")
    if baseline:
        head = report["accuracy"][names[0]]["input"]["headline"]
        lines.append(f"Paired bootstrap over notes ({report['settings']['resamples']} resamples), "
                     f"{names[0]} − {baseline}, headerless, 95% interval in F1 points:")
        lines += [f"- {METRIC_NAMES[m]}: [{_f1(head[m]['difference_ci95'][0])}, "
                  f"{_f1(head[m]['difference_ci95'][1])}]" for m in HEADLINE if "difference_ci95" in head[m]]
        lines.append("")
    if cost:
        lines += ["## Cost per chart (headerless test notes)", "", _cost_table(report), ""]
        if baseline in cost and names[0] in cost:
            ours, theirs = cost[names[0]], cost[baseline]
            lines += [f"{baseline} ÷ {names[0]}: energy per chart "
                      f"**{theirs['j_per_chart']['median'] / ours['j_per_chart']['median']:.1f}x**, "
                      f"time per chart {theirs['seconds_per_chart']['median'] / ours['seconds_per_chart']['median']:.1f}x, "
                      f"FLOPs per chart {theirs['flops_per_chart']['total'] / ours['flops_per_chart']['total']:.1f}x, "
                      f"parameters {theirs['params'] / ours['params']:.1f}x.", ""]
    lines += ["## Per field, headerless (F1: entity fields on values, sections on tokens)", "",
              _per_field_table(report, names), ""]
    confusions = report["accuracy"][names[0]]["input"]["section_confusions"]
    if confusions:
        lines += [f"## Sections {names[0]} mistakes most often (headerless, tokens)", "",
                  "| gold | predicted | tokens |", "|---|---|---:|"]
        lines += [f"| {c['gold']} | {c['predicted']} | {c['tokens']:,} |" for c in confusions[:10]]
        lines.append("")
    if report["scaling"]:
        lines += ["## Cost by note length (ms and J per chart, median)", "", _scaling_table(report), ""]
    lines += ["## Notes accounted for", ""]
    for name in names:
        for view in ("input", "full"):
            scores = report["accuracy"][name][view]
            skipped = ", ".join(f"{n} {reason}" for reason, n in scores["skipped"].items()) or "none"
            lines.append(f"- {name}, {VIEW_NAMES[view]}: {scores['notes']} evaluated; skipped: {skipped}")
    lines += ["", "## Systems", ""]
    for system in report["systems"]:
        train = system.get("train") or {}
        facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in train.items() if v is not None)
        lines.append(f"- **{system['name']}** ({system['encoder']}): {system['path'] or 'built in'}"
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


def _accuracy_table(report: dict[str, Any], names: list[str], view: str) -> str:
    rows = ["| system | " + " | ".join(METRIC_NAMES[m] + (" [95% CI]" if m in HEADLINE else "")
                                       for m in METRIC_NAMES) + " | chart exact match | note type acc. |",
            "|---|" + "---:|" * (len(METRIC_NAMES) + 2)]
    for name in names:
        scores = report["accuracy"][name][view]
        cells = [(_ci(scores["headline"][m]) if m in HEADLINE else _f1(scores["metrics"][m]["micro"]["f1"]))
                 for m in METRIC_NAMES]
        accuracy = scores["note_type_accuracy"]
        cells += [f"{100 * scores['chart_exact_match']:.1f}%",
                  "-" if accuracy is None or name == "rules" else f"{100 * accuracy:.1f}%"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cost_table(report: dict[str, Any]) -> str:
    rows = ["| system | params | J/chart (median [range]) | provenance | ms/chart | charts/s | "
            "GFLOPs/chart | peak memory MiB |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, cost in report["cost"].items():
        joules = cost["j_per_chart"]
        rows.append(
            f"| {name} | {cost['params']:,} | {_number(joules['median'])} "
            f"[{_number(joules['min'])}–{_number(joules['max'])}] | {cost['provenance']} | "
            f"{1000 * cost['seconds_per_chart']['median']:.1f} | {cost['charts_per_s']:.1f} | "
            f"{cost['flops_per_chart']['total'] / 1e9:.2f} | {cost['peak_memory_mib']:,.0f} |")
    return "\n".join(rows)


def _per_field_table(report: dict[str, Any], names: list[str]) -> str:
    rows = ["| field | gold mentions / tokens | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names)]
    first = report["accuracy"][names[0]]["input"]["metrics"]
    for metric in ("entity_value", "section_token"):
        for field, scores in first[metric]["per_field"].items():
            if not scores["support"]:
                continue
            cells = []
            for name in names:
                found = report["accuracy"][name]["input"]["metrics"][metric]["per_field"].get(field)
                cells.append(_f1(found["f1"]) if found else "0.0")
            rows.append(f"| {field} | {scores['support']:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _scaling_table(report: dict[str, Any]) -> str:
    names = list(report["scaling"])
    rows = ["| tokens | notes | " + " | ".join(f"{n} ms | {n} J" for n in names) + " |",
            "|---|---:|" + "---:|---:|" * len(names)]
    for i, row in enumerate(report["scaling"][names[0]]):
        cells = []
        for name in names:
            other = report["scaling"][name][i]
            cells += [f"{1000 * other['seconds_per_chart']:.1f}", _number(other["j_per_chart"])]
        rows.append(f"| {row['bucket']} | {row['notes']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, ax, title: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_f1_vs_energy(report: dict[str, Any], path: Path) -> None:
    """Headerless entity value F1 and section token F1 against joules per chart, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, cost in report["cost"].items():
        joules = cost["j_per_chart"]["median"]
        head = report["accuracy"][name]["input"]["headline"]
        for metric, marker in (("section_token", "o"), ("entity_value", "s")):
            low, high = head[metric]["ci95"]
            f1 = head[metric]["f1"]
            ax.errorbar([joules], [f1], yerr=[[f1 - low], [high - f1]], fmt=marker, capsize=3,
                        label=f"{name}: {METRIC_NAMES[metric]}")
        ax.annotate(name, (joules, head["section_token"]["f1"]), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    ax.set_xscale("log")
    provenance = next(iter(report["cost"].values()))["provenance"] if report["cost"] else ""
    ax.set_xlabel(f"joules per chart ({provenance}, log scale)")
    ax.set_ylabel("F1, headerless test notes")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, ax, "Accuracy against energy per chart", path)


def plot_time_vs_length(report: dict[str, Any], path: Path) -> None:
    """Milliseconds per chart against note length (real notes solid, synthetic long ones dashed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, rows in report["scaling"].items():
        real = [r for r in rows if not r["synthetic"]]
        line, = ax.plot([r["mean_tokens"] for r in real], [1000 * r["seconds_per_chart"] for r in real],
                        "o-", label=name)
        ax.plot([real[-1]["mean_tokens"], *(r["mean_tokens"] for r in rows if r["synthetic"])],
                [1000 * real[-1]["seconds_per_chart"],
                 *(1000 * r["seconds_per_chart"] for r in rows if r["synthetic"])],
                "o--", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens per note (log; dashed: synthetic long notes)")
    ax.set_ylabel("ms per chart (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, ax, "Time per chart by note length", path)


def plot_per_field_f1(report: dict[str, Any], path: Path) -> None:
    """Headerless F1 per field (entity values, section tokens), one bar per system."""
    plt = _pyplot()
    names = [s["name"] for s in report["systems"]]
    first = report["accuracy"][names[0]]["input"]["metrics"]
    fields = [(metric, field) for metric in ("entity_value", "section_token")
              for field, s in first[metric]["per_field"].items() if s["support"]]
    fig, ax = plt.subplots(figsize=(7, 0.13 * len(fields) * len(names) + 1.5))
    height = 0.8 / len(names)
    for k, name in enumerate(names):
        metrics = report["accuracy"][name]["input"]["metrics"]
        values = [metrics[m]["per_field"].get(f, {"f1": 0.0})["f1"] for m, f in fields]
        ax.barh([i + k * height for i in range(len(fields))], values, height=height, label=name)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(fields))])
    ax.set_yticklabels([f"{f} ({'value' if m == 'entity_value' else 'tokens'})" for m, f in fields],
                       fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1, headerless test notes")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    _save(fig, ax, "F1 per field", path)
