"""The report's plots: F1 against joules per chart, time per chart against note length, and F1
per field, one PNG each (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from chartlnn.evaluation.report import Report

METRIC_NAMES = {"section_token": "section token F1", "entity_value": "entity value F1"}


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


def plot_f1_vs_energy(report: Report, path: Path) -> None:
    """Headerless entity value F1 and section token F1 against joules per chart, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, cost in report.cost.items():
        joules = cost.j_per_chart.median
        head = report.accuracy[name]["input"].headline
        for metric, marker in (("section_token", "o"), ("entity_value", "s")):
            low, high = head[metric]["ci95"]
            f1 = head[metric]["f1"]
            ax.errorbar([joules], [f1], yerr=[[f1 - low], [high - f1]], fmt=marker, capsize=3,
                        label=f"{name}: {METRIC_NAMES[metric]}")
        ax.annotate(name, (joules, head["section_token"]["f1"]), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    ax.set_xscale("log")
    provenance = next(iter(report.cost.values())).provenance if report.cost else ""
    ax.set_xlabel(f"joules per chart ({provenance}, log scale)")
    ax.set_ylabel("F1, headerless test notes")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, ax, "Accuracy against energy per chart", path)


def plot_time_vs_length(report: Report, path: Path) -> None:
    """Milliseconds per chart against note length (real notes solid, synthetic long ones dashed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, rows in report.scaling.items():
        real = [r for r in rows if not r.synthetic]
        line, = ax.plot([r.mean_tokens for r in real], [1000 * r.seconds_per_chart for r in real],
                        "o-", label=name)
        ax.plot([real[-1].mean_tokens, *(r.mean_tokens for r in rows if r.synthetic)],
                [1000 * real[-1].seconds_per_chart,
                 *(1000 * r.seconds_per_chart for r in rows if r.synthetic)],
                "o--", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens per note (log; dashed: synthetic long notes)")
    ax.set_ylabel("ms per chart (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, ax, "Time per chart by note length", path)


def plot_per_field_f1(report: Report, path: Path) -> None:
    """Headerless F1 per field (entity values, section tokens), one bar per system."""
    plt = _pyplot()
    names = [s.name for s in report.systems]
    first = report.accuracy[names[0]]["input"].metrics
    fields = [(metric, field) for metric in ("entity_value", "section_token")
              for field, s in first[metric]["per_field"].items() if s["support"]]
    fig, ax = plt.subplots(figsize=(7, 0.13 * len(fields) * len(names) + 1.5))
    height = 0.8 / len(names)
    for k, name in enumerate(names):
        metrics = report.accuracy[name]["input"].metrics
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
