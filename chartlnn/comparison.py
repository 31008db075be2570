"""`chartlnn evaluate`: trained models and the rules side by side on a prepared test split.

Accuracy: every note of the split is charted by every system — each model, and the rule-based
labeler as the floor a learned model must beat — read without its headers (the real task) and with
them, and scored per field (:mod:`chartlnn.evaluate`), with bootstrap 95% intervals over notes.

Cost: energy per chart from the best meter the machine has (:mod:`chartlnn.energy`), measured after
a warm-up over windows of several seconds that chart the whole headerless split again and again,
repeated with the models alternating; wall time, FLOPs (:mod:`chartlnn.flops`), parameters and
peak memory beside it; and time and energy per chart by note length, up to synthetic notes far
longer than any in the split, so linear and quadratic costs show.

The report itself (JSON, Markdown, plots) is written by :mod:`chartlnn.report`.
"""

from __future__ import annotations

import time
from collections import Counter
from statistics import median
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from chartlnn.evaluate import (CHART_METRICS, NoteScore, bootstrap_f1, gold_entities, score_chart,
                               summarize)

HEADLINE = ("section_token", "entity_value", "entity_span_strict")
"""The metrics that get bootstrap intervals and lead the report."""
RULES = "rules"
VIEW_NAMES = {"input": "headerless", "full": "with headers"}


class EvaluateError(ValueError):
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
    from chartlnn.inference import load
    from chartlnn.tokenize import bio_labels

    if not model_dirs:
        raise EvaluateError("no model to evaluate: give --model")
    systems = []
    for path in model_dirs:
        try:
            model = load(path, device=device)
        except FileNotFoundError as exc:
            raise EvaluateError(str(exc)) from None
        labels = model.config["labels"]
        if (labels["section_tags"] != bio_labels(data.schema.section_names)
                or labels["entity_tags"] != bio_labels(data.schema.entity_names)):
            raise EvaluateError(f"{path}: the model's schema fields differ from {data.path}'s; "
                                "evaluate on a dataset prepared with the same schema")
        if model.tokenizer.to_str() != data.tokenizer.to_str():
            raise EvaluateError(f"{path}: the model's tokenizer differs from {data.path}'s; "
                                f"prepare the data with --tokenizer {path}")
        names = [s.name for s in systems]
        name = model.decoder.model["name"]
        name = name if name not in names else f"{name} ({Path(path).parent.name})"
        systems.append(System(name, str(path), model.chart_many, model))
    if rules:
        systems.append(System(RULES, None, _rules_charter(data.schema)))
    return systems


def _rules_charter(schema) -> Callable[[list[str], list[str]], list[dict]]:
    """The silver labeler (headers, patterns) charting notes, as the model would."""
    from chartlnn.decode import FieldSpan, build_chart, model_info
    from chartlnn.labeling.pipeline import NoteLabeler
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
    note_types: list[tuple[str, str | None]]
    """(gold, predicted) note type of the notes that have a gold one."""
    skipped: Counter
    """Reason → notes not scored."""


def score_view(system: System, split, schema, view: str) -> ViewScores:
    """Chart every note of ``split`` as ``view`` ("input": headers removed, "full": as written)
    with ``system`` and score each chart against the note's gold labels."""
    from chartlnn.data import VIEWS
    from chartlnn.schema import ChartInvalid, validate_chart

    section_names = split.features[f"{view}_section_tags"].feature.names
    type_names = split.features["note_type"].names
    texts, ids = split[VIEWS[view]], split["id"]
    usable = [i for i, offsets in enumerate(split[f"{view}_offsets"]) if offsets]
    skipped = Counter({"no tokens in the text": len(ids) - len(usable)}) if len(usable) < len(ids) else Counter()
    charts = system.chart_many([texts[i] for i in usable], [ids[i] for i in usable])
    notes, note_types = [], []
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
        if example["note_type"] >= 0:
            predicted = chart["note_type"]["value"] if chart["note_type"] else None
            note_types.append((type_names[example["note_type"]], predicted))
    return ViewScores(notes, note_types, skipped)


def summarize_view(scores: ViewScores, resamples: int, seed: int,
                   baseline: ViewScores | None = None) -> dict[str, Any]:
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
    typed = scores.note_types
    return {
        "notes": len(scores.notes),
        "skipped": dict(scores.skipped),
        "metrics": metrics,
        "headline": headline,
        "chart_exact_match": (sum(n.exact_match for n in scores.notes) / len(scores.notes)
                              if scores.notes else 0.0),
        "note_type_accuracy": (sum(g == p for g, p in typed) / len(typed) if typed else None),
        "section_confusions": mistaken,
    }


def measure_energy(systems: Sequence[System], texts: list[str], ids: list[str], meter,
                   repeats: int, window_seconds: float) -> dict[str, dict[str, Any]]:
    """Joules and seconds per chart for each system charting ``texts``: one warm-up pass each,
    then ``repeats`` rounds in which the systems take turns, each turn a window that charts the
    texts again and again until ``window_seconds`` have passed. Per system: every window's
    J/chart and s/chart, their median and range. Idle power is not subtracted."""
    for system in systems:
        system.chart_many(texts[: max(1, len(texts) // 4)], ids[: max(1, len(texts) // 4)])
    windows: dict[str, list[tuple[float, float, int]]] = {s.name: [] for s in systems}
    last: dict[str, Any] = {}
    for round_ in range(repeats):
        order = systems if round_ % 2 == 0 else list(reversed(systems))
        for system in order:
            charts, started = 0, time.perf_counter()
            meter.start()
            while charts == 0 or time.perf_counter() - started < window_seconds:
                charts += len(system.chart_many(texts, ids))
            last[system.name] = meter.stop()
            windows[system.name].append((last[system.name].joules, last[system.name].seconds, charts))
    results = {}
    for name, rows in windows.items():
        seconds = [s / n for _, s, n in rows]
        results[name] = {
            "provenance": last[name].provenance, "meter_detail": last[name].detail,
            "j_per_chart": _spread([j / n for j, _, n in rows]), "seconds_per_chart": _spread(seconds),
            "charts_per_s": 1 / median(seconds), "windows": len(rows),
            "charts_measured": sum(n for _, _, n in rows),
        }
    return results


def _spread(values: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"median": median(ordered), "min": ordered[0], "max": ordered[-1], "values": ordered}


def model_facts(system: System, token_counts: Sequence[int]) -> dict[str, Any]:
    """Parameters and FLOPs per chart (mean over the notes' lengths, from up to 25 lengths spread
    over the split: FLOPs depend on the length only)."""
    from chartlnn.flops import forward_flops

    tagger = system.model.tagger
    ordered = sorted(token_counts)
    sample = sorted({ordered[round(i * (len(ordered) - 1) / 24)] for i in range(25)})
    by_length = {n: forward_flops(tagger, n) for n in sample}
    weights = Counter(min(sample, key=lambda s: abs(s - n)) for n in token_counts)
    mean = {k: sum(by_length[n][k] * w for n, w in weights.items()) / len(token_counts)
            for k in ("counted", "recurrence", "total")}
    return {"params": sum(p.numel() for p in tagger.parameters()), "flops_per_chart": mean,
            "encoder": system.model.decoder.model["encoder"]}


def peak_memory_mib(model_dir: str, texts: list[str], device: str) -> float:
    """Peak memory of charting ``texts`` once, in a fresh process: on a GPU the CUDA allocator's
    peak; on the CPU the resident-set high-water mark while charting less the resident set before
    (Linux: the mark is reset through /proc/self/clear_refs after the model loads)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_peak_memory_child, (model_dir, texts, device))


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {key}")


def _peak_memory_child(model_dir: str, texts: list[str], device: str) -> float:
    import torch

    from chartlnn.inference import load

    model = load(model_dir, device=device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        model.chart_many(texts)
        return torch.cuda.max_memory_allocated() / 2**20
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    before = _status_kib("VmRSS")
    model.chart_many(texts)
    return (_status_kib("VmHWM") - before) / 1024


LENGTH_EDGES = (0, 256, 512, 1024, 2048)
"""Lower edges (tokens) of the note-length buckets of the scaling table."""


def length_buckets(texts: list[str], ids: list[str], token_counts: Sequence[int]
                   ) -> list[tuple[str, list[str], list[str], float]]:
    """The split's notes grouped by token count: (label, texts, ids, mean tokens) per bucket."""
    buckets = []
    for low, high in zip(LENGTH_EDGES, [*LENGTH_EDGES[1:], None]):
        members = [i for i, n in enumerate(token_counts) if n >= low and (high is None or n < high)]
        if members:
            label = f"{low}-{high - 1}" if high else f"{low}+"
            buckets.append((label, [texts[i] for i in members], [ids[i] for i in members],
                            sum(token_counts[i] for i in members) / len(members)))
    return buckets


def long_note(texts: list[str], tokenizer, n_tokens: int) -> str:
    """A synthetic note of exactly ``n_tokens`` tokens: the split's notes one after another
    (blank line between), cut at a token boundary — far longer than real notes, to show how cost
    grows with length."""
    from chartlnn.tokenize import encode

    pieces, total, i = [], 0, 0
    while total < n_tokens:
        text = texts[i % len(texts)]
        pieces.append(text)
        total += len(encode(tokenizer, text)[0]) + 2
        i += 1
    joined = "\n\n".join(pieces)
    _, offsets = encode(tokenizer, joined)
    return joined[: offsets[n_tokens - 1][1]]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"platform": platform.platform(), "cpu": cpu, "cpu_cores": os.cpu_count(),
             "torch_threads": torch.get_num_threads(), "gpu": None}
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        facts["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return facts


def versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("chartlnn", "torch", "lightning", "tokenizers", "datasets", "spacy", "medspacy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def evaluate(data: str | Path, models: Sequence[str | Path], out: str | Path, *,
             rules: bool = True, split: str = "test", device: str = "cpu", meter: str = "auto",
             watts_per_core: float | None = None, repeats: int = 5, window_seconds: float = 3.0,
             scaling_repeats: int = 3, scaling_window_seconds: float = 1.0,
             long_tokens: Sequence[int] = (8192, 16384, 32768), resamples: int = 1000,
             seed: int = 0, overwrite: bool = False,
             log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Evaluate ``models`` (the first is the one under test, the second its baseline for the
    paired intervals) and the rules on ``split`` of the prepared dataset ``data``; write
    ``report.json``, ``report.md`` and ``plots/`` into ``out`` and return the report.

    Everything that could stop the run (a missing or mismatched model, an empty split, an
    unavailable meter, an existing report) is checked before any work starts.
    """
    import torch

    from chartlnn.data import load_prepared
    from chartlnn.energy import DEFAULT_WATTS_PER_CORE, MeterUnavailable, select_meter
    from chartlnn.report import write_report

    out = Path(out)
    if (out / "report.json").exists() and not overwrite:
        raise EvaluateError(f"{out}: a report is already there; pass --overwrite to replace it")
    try:
        prepared = load_prepared(data)
    except FileNotFoundError as exc:
        raise EvaluateError(str(exc)) from None
    if split not in prepared.splits:
        raise EvaluateError(f"{data}: no split {split!r}; it has {', '.join(prepared.splits)}")
    notes = prepared.splits[split]
    if len(notes) == 0:
        raise EvaluateError(f"{data}: the {split} split is empty; prepare with a test_fraction > 0")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    watts = watts_per_core or DEFAULT_WATTS_PER_CORE
    try:
        energy_meter = select_meter(meter, device=device, watts_per_core=watts)
    except (MeterUnavailable, ValueError) as exc:
        raise EvaluateError(str(exc)) from None
    systems = load_systems(prepared, models, rules, device)
    torch.manual_seed(seed)
    started = time.time()

    accuracy: dict[str, dict[str, Any]] = {s.name: {} for s in systems}
    for view in ("input", "full"):
        scored = {}
        for system in systems:
            log(f"charting {len(notes)} {split} notes ({VIEW_NAMES[view]}) with {system.name}")
            scored[system.name] = score_view(system, notes, prepared.schema, view)
        baseline = scored[systems[1].name] if len(models) > 1 else None
        for i, system in enumerate(systems):
            accuracy[system.name][view] = summarize_view(scored[system.name], resamples, seed,
                                                         baseline if i == 0 else None)

    learned = [s for s in systems if s.model is not None]
    texts, ids = notes["input_text"], notes["id"]
    token_counts = [len(x) for x in notes["input_input_ids"]]
    log(f"measuring energy: {repeats} rounds of {window_seconds:g} s windows per model "
        f"({energy_meter.provenance})")
    energy = measure_energy(learned, texts, ids, energy_meter, repeats, window_seconds)
    cost = {}
    for system in learned:
        log(f"FLOPs and peak memory of {system.name}")
        cost[system.name] = {**model_facts(system, token_counts), **energy[system.name],
                             "peak_memory_mib": peak_memory_mib(system.path, texts, device)}

    scaling: dict[str, list[dict[str, Any]]] = {s.name: [] for s in learned}
    groups = [(label, t, i, mean, False) for label, t, i, mean in length_buckets(texts, ids, token_counts)]
    groups += [(f"{n} (synthetic)", [long_note(texts, prepared.tokenizer, n)], [f"long-{n}"], n, True)
               for n in long_tokens]
    for label, group_texts, group_ids, mean_tokens, synthetic in groups:
        log(f"length scaling: notes of {label} tokens")
        measured = measure_energy(learned, group_texts, group_ids, energy_meter, scaling_repeats,
                                  scaling_window_seconds)
        for system in learned:
            row = measured[system.name]
            scaling[system.name].append({
                "bucket": label, "notes": len(group_texts), "mean_tokens": mean_tokens,
                "synthetic": synthetic, "seconds_per_chart": row["seconds_per_chart"]["median"],
                "j_per_chart": row["j_per_chart"]["median"], "provenance": row["provenance"]})

    report = {
        "chartlnn_report": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "machine": machine(), "versions": versions(), "device": device,
        "settings": {"split": split, "resamples": resamples, "seed": seed, "repeats": repeats,
                     "window_seconds": window_seconds, "scaling_repeats": scaling_repeats,
                     "scaling_window_seconds": scaling_window_seconds,
                     "long_tokens": list(long_tokens), "meter": energy_meter.provenance,
                     "watts_per_core": watts if energy_meter.provenance.startswith("estimated") else None},
        "data": {"path": str(prepared.path), "split": split, "notes": len(notes),
                 "recipe": prepared.card.get("recipe"), "schema": prepared.schema.name},
        "systems": [{"name": s.name, "path": s.path,
                     "kind": "model" if s.model is not None else "rules",
                     "encoder": s.model.decoder.model["encoder"] if s.model is not None else "rules",
                     "train": _train_facts(s.path) if s.path else None} for s in systems],
        "baseline": systems[1].name if len(models) > 1 else None,
        "accuracy": accuracy, "cost": cost, "scaling": scaling,
    }
    write_report(report, out)
    return report


def _train_facts(model_dir: str) -> dict[str, Any]:
    """How a model was trained, from its directory: data, budget, and the epochs and optimizer
    steps it ran (from its training log)."""
    import csv

    import yaml

    config = yaml.safe_load((Path(model_dir) / "config.yaml").read_text(encoding="utf-8"))
    facts = {"data": config.get("data"), "max_epochs": config["train"].get("max_epochs"),
             "max_minutes": config["train"].get("max_minutes")}
    log_file = Path(model_dir) / "logs" / "metrics.csv"
    if log_file.exists():
        with log_file.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("epoch") and r.get("step")]
        if rows:
            facts["epochs_run"] = max(int(r["epoch"]) for r in rows) + 1
            facts["steps_run"] = max(int(r["step"]) for r in rows) + 1
    return facts
