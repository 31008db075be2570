"""The evaluation report as typed values: what :func:`chartlnn.evaluation.run.evaluate` returns
and :mod:`chartlnn.evaluation.writer` turns into ``report.json``, ``report.md`` and plots.

``report.json`` is ``dataclasses.asdict`` of a :class:`Report`; the per-field score tables inside
it are TypedDicts (plain dicts at run time) because their keys are field names, not attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

HEADLINE = ("section_token", "entity_value", "entity_span_strict")
"""The metrics that get bootstrap intervals and lead the report."""
BY_NOTE_TYPE = ("section_token", "entity_value")
"""The metrics also given per gold note type."""
RULES = "rules"
"""The name of the rule-based labeler among the systems."""
VIEW_NAMES = {"input": "headerless", "full": "with headers"}
"""The two views of a note: headers removed (the real task) and as written."""


class Prf(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int
    tp: int
    fp: int
    fn: int


class MetricSummary(TypedDict):
    """One metric over a split: per field, pooled (micro), and the mean F1 of supported fields."""

    per_field: dict[str, Prf]
    micro: Prf
    macro_f1: float


class Headline(TypedDict, total=False):
    """A headline F1 with its 95% bootstrap interval (and, for the model under test, the interval
    of its difference to the baseline on the same resampled notes)."""

    f1: float
    ci95: list[float]
    difference_ci95: list[float]
    rules_difference_ci95: list[float]
    """Entity value F1 of the model under test minus the rules', on the same resampled notes:
    whether the model reads values better than the labeler it learned from (gold labels)."""


class Confusion(TypedDict):
    gold: str
    predicted: str
    tokens: int


@dataclass
class ViewSummary:
    """One system on one view of the split."""

    notes: int
    skipped: dict[str, int]
    """Reason → notes not scored."""
    metrics: dict[str, MetricSummary]
    """Chart metric (``chartlnn.evaluation.metrics.CHART_METRICS``) → its summary."""
    headline: dict[str, Headline]
    chart_exact_match: float
    note_type_accuracy: float | None
    section_confusions: list[Confusion]
    by_note_type: dict[str, dict[str, float]]
    """Gold note type → its notes and micro F1 of each :data:`BY_NOTE_TYPE` metric."""


@dataclass
class Spread:
    """A figure measured over several windows: median, range and every value."""

    median: float
    min: float
    max: float
    values: list[float]


@dataclass
class Energy:
    """Energy and time per chart of one system, from alternating windows."""

    provenance: str
    """measured:nvml, measured:rapl or estimated:cpu-time."""
    meter_detail: str
    j_per_chart: Spread
    seconds_per_chart: Spread
    charts_per_s: float
    windows: int
    charts_measured: int


@dataclass
class Cost(Energy):
    """What one model costs per chart (headerless split): its energy and time, beside its size."""

    params: int
    flops_per_chart: dict[str, float]
    """counted (matmuls), recurrence (by formula) and total: the mean over the split's notes."""
    encoder: str
    peak_memory_mib: float


@dataclass
class ScalingRow:
    """Time and energy per chart for the notes of one length bucket (or one synthetic long note)."""

    bucket: str
    notes: int
    mean_tokens: float
    synthetic: bool
    seconds_per_chart: float
    j_per_chart: float
    provenance: str


@dataclass
class Machine:
    platform: str
    cpu: str
    cpu_cores: int | None
    torch_threads: int
    gpu: str | None
    memory_gib: float | None


@dataclass
class Settings:
    split: str
    resamples: int
    seed: int
    repeats: int
    window_seconds: float
    scaling_repeats: int
    scaling_window_seconds: float
    long_tokens: list[int]
    meter: str
    watts_per_core: float | None
    """The cpu-time estimate's watts per core; None when energy was measured."""


@dataclass
class DataInfo:
    path: str
    split: str
    notes: int
    recipe: str | None
    schema: str


@dataclass
class SystemInfo:
    name: str
    path: str | None
    kind: str
    """model or rules."""
    encoder: str
    train: dict[str, Any] | None
    """How a model was trained (data, budget, epochs and steps run), from its directory."""


@dataclass
class Report:
    chartlnn_report: int
    created: str
    seconds: float
    machine: Machine
    versions: dict[str, str]
    device: str
    settings: Settings
    data: DataInfo
    systems: list[SystemInfo]
    baseline: str | None
    accuracy: dict[str, dict[str, ViewSummary]]
    """System name → view ("input", "full") → its scores."""
    cost: dict[str, Cost]
    scaling: dict[str, list[ScalingRow]]
