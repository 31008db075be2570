"""`chartlnn evaluate`: trained models and the rules side by side on a prepared test split.

Accuracy: every note of the split is charted by every system — each model, and the rule-based
labeler as the floor a learned model must beat — read without its headers (the real task) and with
them, and scored per field (:mod:`.systems`, :mod:`.metrics`), with bootstrap 95% intervals.

Cost: energy per chart from the best meter the machine has (:mod:`.energy`), measured after a
warm-up over windows of several seconds that chart the whole headerless split again and again,
repeated with the models alternating; wall time, FLOPs, parameters and peak memory beside it; and
time and energy per chart by note length, up to synthetic notes far longer than any in the split,
so linear and quadratic costs show (:mod:`.cost`).

The result is a typed :class:`~chartlnn.evaluation.report.Report`, written by :mod:`.writer`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from chartlnn.evaluation.cost import (length_buckets, long_note, machine, measure_energy,
                                      model_facts, peak_memory_mib, versions)
from chartlnn.evaluation.energy import DEFAULT_WATTS_PER_CORE, MeterUnavailable, select_meter
from chartlnn.evaluation.metrics import bootstrap_f1
from chartlnn.evaluation.report import (RULES, VIEW_NAMES, Cost, DataInfo, Report, ScalingRow,
                                        Settings, SystemInfo, ViewSummary)
from chartlnn.evaluation.systems import EvaluateError, load_systems, score_view, summarize_view
from chartlnn.evaluation.writer import write_report
from chartlnn.preparing.dataset import DatasetError, load_prepared


def evaluate(data: str | Path, models: Sequence[str | Path], out: str | Path, *,
             rules: bool = True, split: str | None = None, device: str = "cpu", meter: str = "auto",
             watts_per_core: float | None = None, repeats: int = 5, window_seconds: float = 3.0,
             scaling_repeats: int = 3, scaling_window_seconds: float = 1.0,
             long_tokens: Sequence[int] = (8192, 16384, 32768), resamples: int = 1000,
             seed: int = 0, overwrite: bool = False, threads: int = 1,
             log: Callable[[str], None] = lambda message: None) -> Report:
    """Evaluate ``models`` (the first is the one under test, the second its baseline for the
    paired intervals) and the rules on ``split`` of the prepared dataset ``data`` (None: its
    ``gold`` split of held-out reviewed notes when it has one, else ``test``); write
    ``report.json``, ``report.md`` and ``plots/`` into ``out`` and return the report.

    Everything that could stop the run (a missing or mismatched model, an empty split, an
    unavailable meter, an existing report) is checked before any work starts.

    On the CPU the models chart with ``threads`` threads (1 by default, as each of
    `chartlnn chart`'s workers does): with more, OpenMP threads spin while they wait for each
    other, CPU time counts the spinning as work, and J/chart then moves with whatever else the
    machine runs.
    """
    import torch

    out = Path(out)
    if (out / "report.json").exists() and not overwrite:
        raise EvaluateError(f"{out}: a report is already there; pass --overwrite to replace it")
    prepared, split = _checked_split(data, split)
    notes = prepared.splits[split]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    watts = watts_per_core or DEFAULT_WATTS_PER_CORE
    try:
        energy_meter = select_meter(meter, device=device, watts_per_core=watts)
    except (MeterUnavailable, ValueError) as exc:
        raise EvaluateError(str(exc)) from None
    systems = load_systems(prepared, models, rules, device)
    torch.manual_seed(seed)
    threads_before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(threads)  # what the report records; each model's runtime below
        for system in systems:
            if system.model is not None:
                system.model.use_threads(threads)
    try:
        started = time.time()
        accuracy = _accuracy(systems, notes, split, prepared.schema, resamples, seed,
                             paired=len(models) > 1, log=log)
        learned = [s for s in systems if s.model is not None]
        texts, ids = notes["input_text"], notes["id"]
        token_counts = [len(x) for x in notes["input_input_ids"]]
        log(f"measuring energy: {repeats} rounds of {window_seconds:g} s windows per model "
            f"({energy_meter.provenance})")
        cost = _cost(learned, texts, ids, token_counts, energy_meter, repeats, window_seconds,
                     device, log)
        scaling = _scaling(learned, texts, ids, token_counts, prepared.tokenizer, long_tokens,
                           energy_meter, scaling_repeats, scaling_window_seconds, log)
        report = Report(
            chartlnn_report=1,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            seconds=round(time.time() - started, 1),
            machine=machine(), versions=versions(), device=device,
            settings=Settings(
                split=split, resamples=resamples, seed=seed, repeats=repeats,
                window_seconds=window_seconds, scaling_repeats=scaling_repeats,
                scaling_window_seconds=scaling_window_seconds, long_tokens=list(long_tokens),
                meter=energy_meter.provenance,
                watts_per_core=watts if energy_meter.provenance.startswith("estimated") else None),
            data=DataInfo(str(prepared.path), split, len(notes), prepared.card.get("recipe"),
                          prepared.schema.name),
            systems=[SystemInfo(s.name, s.path, "model" if s.model is not None else "rules",
                                s.model.decoder.model["encoder"] if s.model is not None else "rules",
                                _train_facts(s.path) if s.path else None) for s in systems],
            baseline=systems[1].name if len(models) > 1 else None,
            accuracy=accuracy, cost=cost, scaling=scaling,
        )
    finally:
        torch.set_num_threads(threads_before)
    write_report(report, out)
    return report


def _checked_split(data: str | Path, split: str | None):
    """The prepared dataset and the name of the split to score (None: gold when there is one,
    else test), or one EvaluateError line when it is missing or empty."""
    try:
        prepared = load_prepared(data)
    except DatasetError as exc:
        raise EvaluateError(str(exc)) from None
    if split is None:
        split = "gold" if len(prepared.splits["gold"]) else "test"  # the progress lines name it
    if split not in prepared.splits:
        raise EvaluateError(f"{data}: no split {split!r}; it has {', '.join(prepared.splits)}")
    if len(prepared.splits[split]) == 0:
        raise EvaluateError(f"{data}: the {split} split is empty; prepare with a test_fraction > 0")
    return prepared, split


def _accuracy(systems, notes, split: str, schema, resamples: int, seed: int, paired: bool,
              log: Callable[[str], None]) -> dict[str, dict[str, ViewSummary]]:
    """Every system's scores on both views; with ``paired``, the first system's intervals of the
    difference against the second's on the same resampled notes."""
    accuracy: dict[str, dict[str, ViewSummary]] = {s.name: {} for s in systems}
    for view in ("input", "full"):
        scored = {}
        for system in systems:
            log(f"charting {len(notes)} {split} notes ({VIEW_NAMES[view]}) with {system.name}")
            scored[system.name] = score_view(system, notes, schema, view)
        baseline = scored[systems[1].name] if paired else None
        for i, system in enumerate(systems):
            accuracy[system.name][view] = summarize_view(scored[system.name], resamples, seed,
                                                         baseline if i == 0 else None)
        rules = scored.get(RULES)
        if (rules is not None and systems[0].name != RULES
                and len(rules.notes) == len(scored[systems[0].name].notes)):
            ours = accuracy[systems[0].name][view].headline["entity_value"]
            ours["rules_difference_ci95"] = bootstrap_f1(
                [n.counts["entity_value"] for n in scored[systems[0].name].notes], resamples, seed,
                [n.counts["entity_value"] for n in rules.notes])["difference_ci95"]
    return accuracy


def _cost(learned, texts: list[str], ids: list[str], token_counts: list[int], energy_meter,
          repeats: int, window_seconds: float, device: str,
          log: Callable[[str], None]) -> dict[str, Cost]:
    """Energy and time per chart, FLOPs and peak memory of each model on the split's headerless
    notes (``texts``, their ``ids`` and token counts)."""
    energy = measure_energy(learned, texts, ids, energy_meter, repeats, window_seconds)
    cost = {}
    for system in learned:
        log(f"FLOPs and peak memory of {system.name}")
        cost[system.name] = Cost(**vars(energy[system.name]), **model_facts(system, token_counts),
                                 peak_memory_mib=peak_memory_mib(system.path, texts, device))
    return cost


def _scaling(learned, texts: list[str], ids: list[str], token_counts: list[int], tokenizer,
             long_tokens: Sequence[int], energy_meter, repeats: int, window_seconds: float,
             log: Callable[[str], None]) -> dict[str, list[ScalingRow]]:
    """Time and energy per chart by note length: the split's headerless notes in length
    buckets, then synthetic notes of ``long_tokens`` tokens."""
    scaling: dict[str, list[ScalingRow]] = {s.name: [] for s in learned}
    groups = [(label, t, i, mean, False) for label, t, i, mean in length_buckets(texts, ids, token_counts)]
    groups += [(f"{n} (synthetic)", [long_note(texts, tokenizer, n)], [f"long-{n}"], n, True)
               for n in long_tokens]
    for label, group_texts, group_ids, mean_tokens, synthetic in groups:
        log(f"length scaling: notes of {label} tokens")
        measured = measure_energy(learned, group_texts, group_ids, energy_meter, repeats,
                                  window_seconds)
        for system in learned:
            row = measured[system.name]
            scaling[system.name].append(ScalingRow(
                label, len(group_texts), mean_tokens, synthetic, row.seconds_per_chart.median,
                row.j_per_chart.median, row.provenance))
    return scaling


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
