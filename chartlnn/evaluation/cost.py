"""What a model costs per chart: energy and time over alternating windows, FLOPs and parameters,
peak memory in a fresh process, cost by note length, and the machine it was measured on."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from chartlnn.evaluation.report import Energy, Machine, Spread
from chartlnn.evaluation.systems import System


def measure_energy(systems: Sequence[System], texts: list[str], ids: list[str], meter,
                   repeats: int, window_seconds: float) -> dict[str, Energy]:
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
        results[name] = Energy(
            provenance=last[name].provenance, meter_detail=last[name].detail,
            j_per_chart=_spread([j / n for j, _, n in rows]), seconds_per_chart=_spread(seconds),
            charts_per_s=1 / median(seconds), windows=len(rows),
            charts_measured=sum(n for _, _, n in rows))
    return results


def _spread(values: Sequence[float]) -> Spread:
    ordered = sorted(values)
    return Spread(median(ordered), ordered[0], ordered[-1], ordered)


def model_facts(system: System, token_counts: Sequence[int]) -> dict[str, Any]:
    """Parameters and FLOPs per chart (mean over the notes' lengths, from up to 25 lengths spread
    over the split: FLOPs depend on the length only)."""
    from chartlnn.evaluation.flops import forward_flops

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

    from chartlnn.inference.model import load

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
        total += len(encode(tokenizer, text)[0]) + (2 if pieces else 0)  # the blank line: 2 tokens
        pieces.append(text)
        i += 1
    joined = "\n\n".join(pieces)
    _, offsets = encode(tokenizer, joined)
    if len(offsets) < n_tokens:
        raise ValueError(f"the notes joined make {len(offsets)} tokens, not {n_tokens}")
    return joined[: offsets[n_tokens - 1][1]]


def machine() -> Machine:
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
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        memory_gib = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (ValueError, OSError):
        memory_gib = None
    return Machine(platform.platform(), cpu, os.cpu_count(), torch.get_num_threads(), gpu, memory_gib)


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
