"""`MODEL_CARD.md`: what a model directory is for, what it learned from and what it scored, in the
Hugging Face model-card form (YAML front matter with a ``model-index``, then sections).

Contract: nothing here prints note text. From the data card only counts, the recipe, input paths,
field names and PHI kinds are read; a note type is named only when it is one of the schema's
classes (the data card counts whatever the input's note-type column held), and reject reasons,
unknown labels and anything else a user's data could fill are never printed.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from chartlnn.deid import PHI_KINDS
from chartlnn.preparing.splits import SPLITS

HEADLINE = ("field_f1", "section_token_f1", "entity_f1", "mlm_loss", "loss")
"""Validation metrics listed first, in this order; per-field F1s follow alphabetically."""
TRAIN_KEYS = ("max_epochs", "min_steps", "max_minutes", "batch_size", "max_train_tokens", "lr",
              "head_lr_scale", "pretrain_lr", "weight_decay", "warmup_ratio", "headers_kept_rate",
              "headers_partial_rate", "token_dropout", "label_smoothing", "entity_tag_balance",
              "section_tag_balance", "mention_swap", "sig_swap", "case_swap", "line_join",
              "mention_mask", "section_swap", "ema_decay", "early_stopping_patience", "keep",
              "seed")
"""The train config keys that change what a model learns (config.yaml holds them all)."""


@dataclass(frozen=True)
class TrainingRun:
    """What only the finished run knows (config.yaml records what was asked for)."""

    epochs: int
    """Epochs completed (a budget or early stop can end the run before ``max_epochs``)."""
    steps: int
    """Optimizer steps taken."""
    parameters: int
    """Parameters of the whole network: embedding, encoder and heads."""
    encoder_parameters: int
    hardware: str
    """What it trained on, e.g. ``1 × NVIDIA H200`` or ``CPU (AMD EPYC 7B13), 1 process``."""
    precision: str
    minutes: float
    """Wall-clock minutes the fit ran (resumed runs: this session's part)."""


def hardware(device: torch.device, count: int) -> str:
    """The accelerator a run used, by name, so a reader can judge its budget in minutes."""
    if device.type == "cuda":
        return f"{count} × {torch.cuda.get_device_name(device)}"
    return f"CPU ({_cpu_name()}), {count} process{'es' if count > 1 else ''}"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render_model_card(name: str, config: dict[str, Any], metrics: dict[str, float],
                      data_card: dict[str, Any] | None, run: TrainingRun) -> str:
    """The card of model directory ``name`` from its config.yaml and metrics.json (as dicts), the
    dataset's data_card.json (None when it is missing) and the run's facts."""
    pretrained = "labels" not in config
    lines = [_front_matter(name, config, metrics, data_card, pretrained), f"# {name}", ""]
    lines += _intended_use(pretrained)
    lines += _model(config, run)
    lines += _training_data(config, data_card)
    lines += _training(config, metrics, run)
    lines += _evaluation(config, metrics, pretrained)
    lines += ["## Energy per chart", "",
              "Not measured at training time; `chartlnn evaluate` measures it (joules per chart with "
              "their provenance: `measured:nvml`, `measured:rapl` or `estimated:cpu-time`).", ""]
    lines += _limitations(config, data_card)
    if "parent" in config:
        lines += _parent(config["parent"])
    return "\n".join(lines)


def _metric_rows(metrics: dict[str, float]) -> list[tuple[str, str, float]]:
    """(type, description, value) per validation metric, headline first."""
    scores = {k.removeprefix("val/"): v for k, v in metrics.items()}
    order = [k for k in HEADLINE if k in scores] + sorted(k for k in scores if k not in HEADLINE)
    names = {"field_f1": "field F1 (macro over fields)", "section_token_f1": "section token F1 (micro)",
             "entity_f1": "entity span F1 (micro)", "mlm_loss": "masked-token loss",
             "loss": "loss (cross-entropy)"}
    rows = []
    for key in order:
        family, _, field = key.partition("/")
        per_field = {"section": f"{field} token F1", "entity": f"{field} span F1"}
        description = names.get(key) or per_field.get(family, key)
        rows.append(("loss" if key.endswith("loss") else "f1", description, scores[key]))
    return rows


def _front_matter(name: str, config: dict[str, Any], metrics: dict[str, float],
                  data_card: dict[str, Any] | None, pretrained: bool) -> str:
    recipe = data_card.get("recipe") if data_card else None
    source = data_card.get("input") if data_card else None
    dataset = f"{recipe}: {source}" if recipe and source else recipe or str(config.get("data"))
    task = "fill-mask" if pretrained else "token-classification"
    front = {
        "library_name": "chartlnn",
        "license": "other",
        "tags": ["chartlnn", "clinical-notes", "medical", task, config["model"]["kind"]],
        "model-index": [{"name": name, "results": [{
            "task": {"type": task},
            "dataset": {"name": dataset, "type": recipe or "prepared", "split": "validation"},
            "metrics": [{"type": kind, "value": round(value, 4), "name": f"validation {description}"}
                        for kind, description, value in _metric_rows(metrics)],
        }]}],
    }
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n"


def _intended_use(pretrained: bool) -> list[str]:
    if pretrained:
        use = ("An encoder pretrained on masked tokens of clinical notes; it charts nothing by itself. "
               "Fine-tune it with `chartlnn train --init DIR` on a labeled dataset prepared with its "
               "tokenizer.")
    else:
        use = ("Structured charts (section texts and entity values with character offsets) from "
               "de-identified clinical notes, for chart abstraction and research data, with a person "
               "reviewing what it extracts.")
    return ["## Intended use", "", use, "",
            "Not for diagnosis, triage or treatment decisions. Notes must be de-identified before "
            "they reach the model; the residual-PHI guard is a pattern safety net, not a "
            "de-identification tool.", ""]


def _model(config: dict[str, Any], run: TrainingRun) -> list[str]:
    model = config["model"]
    others = ", ".join(f"{k} {v}" for k, v in model.items() if k not in ("kind", "d_model", "n_layers"))
    return ["## Model", "",
            "| encoder | d_model | layers | parameters (all) | parameters (encoder) | vocabulary |",
            "|---|---:|---:|---:|---:|---:|",
            f"| {model['kind']} | {model.get('d_model', '—')} | {model.get('n_layers', '—')} "
            f"| {run.parameters:,} | {run.encoder_parameters:,} | {config.get('vocab_size', '—')} |",
            "", f"Other encoder settings: {others or 'none'}. Weights in `model.safetensors`; "
            "`config.yaml` holds the whole effective config.", ""]


def _training_data(config: dict[str, Any], card: dict[str, Any] | None) -> list[str]:
    lines = ["## Training data", "", "Counts and sources only; no note text is shown here.", ""]
    if card is None:
        return lines + [f"Dataset `{config.get('data')}`: data card not found, so its notes, labels "
                        "and sources cannot be listed.", ""]
    counts, splits = card.get("counts", {}), card.get("splits", {})
    source = f"input `{card['input']}`" if card.get("input") else "no input file (generated notes)"
    lines += [f"Recipe `{card.get('recipe')}`, {source}, prepared into "
              f"`{config.get('data')}`; schema `{card.get('schema', {}).get('name')}` "
              f"v{card.get('schema', {}).get('version')}.", "",
              f"{counts.get('records_in', 0):,} records in: {counts.get('notes_kept', 0):,} notes kept, "
              f"{counts.get('records_rejected', 0):,} rejected (reasons in the dataset's data card).", "",
              "| split | notes |", "|---|---:|",
              *(f"| {split} | {splits.get(split, 0):,} |" for split in SPLITS), ""]
    mixed = card.get("mixed_into_train") or {}
    if mixed:
        lines += ["Mixed into train: " + ", ".join(f"{n:,} notes from `{source}`"
                                                   for source, n in mixed.items()) + ".", ""]
    lines += ["| field | notes (train) | gold spans | silver spans |", "|---|---:|---:|---:|"]
    for field, stats in card.get("labels", {}).items():
        by_source = stats.get("spans_by_source", {})
        gold = sum(n for source, n in by_source.items() if source.startswith("gold"))
        silver = sum(n for source, n in by_source.items() if source.startswith("silver"))
        lines.append(f"| {field} | {stats.get('notes', {}).get('train', 0):,} | {gold:,} | {silver:,} |")
    phi = card.get("phi", {})
    masked = ", ".join(f"{kind} {n:,}" for kind, n in sorted(phi.get("masked_by_kind", {}).items())
                       if kind in PHI_KINDS) or "none"
    lines += ["", f"Residual PHI: mode `{phi.get('mode')}`, {phi.get('notes_with_phi', 0):,} notes with "
              f"residual identifiers, masked: {masked}; gold spans lost to masks: "
              f"{phi.get('gold_spans_lost', 0):,}.", ""]
    return lines


def _training(config: dict[str, Any], metrics: dict[str, float], run: TrainingRun) -> list[str]:
    train = config.get("train", {})
    budget = train.get("max_minutes")
    took = f", {run.minutes:.1f} minutes of training"
    at_least = f" (and at least {train['min_steps']:,} steps)" if train.get("min_steps") else ""
    kept = ("the weights training ended with" if train.get("keep") == "last"
            else "the checkpoint with the best validation score")
    return ["## Training", "",
            f"Budget: {f'{budget:g} minutes' if budget else 'none (epochs only)'}; "
            f"{run.epochs} epochs completed of at most {train.get('max_epochs')}{at_least}, "
            f"{run.steps:,} optimizer steps{took}. Hardware: {run.hardware}, precision "
            f"{run.precision}; chartlnn {config.get('chartlnn_version')}. Kept: {kept}.", "",
            "| setting | value |", "|---|---|",
            *(f"| {key} | {train[key]} |" for key in TRAIN_KEYS if key in train), ""]


def _evaluation(config: dict[str, Any], metrics: dict[str, float], pretrained: bool) -> list[str]:
    if pretrained:
        how = "Validation split, masked-token loss on the notes' tokens."
    else:
        how = ("Validation split, notes read without their headers; token-level scores from the BIO "
               "tags: section fields on tokens, entity fields on exact token spans; field F1 is the "
               "macro average over the fields present in the validation labels.")
    data = config.get("data", "DATA")
    return ["## Evaluation", "", how, "",
            "| metric | value |", "|---|---:|",
            *(f"| {description} | {value:.4f} |" for _, description, value in _metric_rows(metrics)),
            "", "These are validation figures, the split the checkpoint was selected on. For test-set "
            "figures with 95% bootstrap intervals, headerless and with headers, and energy per chart, "
            f"run `chartlnn evaluate --data {data} --model MODEL_DIR --out REPORT_DIR`.", ""]


def _limitations(config: dict[str, Any], card: dict[str, Any] | None) -> list[str]:
    lines = ["## Limitations", "",
             "- Silver labels are the rule labeler's output (headers and spaCy patterns): on silver "
             "labels the scores measure agreement with the rules, not correctness, and the model "
             "cannot learn more than the rules know. Only gold (hand-made) labels measure that.",
             "- Headerless notes: the model is trained to read notes with and without headers, but "
             "dictations whose sections run together are harder, and section bounds there are "
             "less sure.",
             "- It was trained on the note types and the styles of the sources listed here; other "
             "note types, other hospitals' styles and other languages are untested until evaluated "
             "on them."]
    if card is not None:
        lines.append(f"- Note types in train: {_note_types(config, card)}.")
    return lines + [""]


def _note_types(config: dict[str, Any], card: dict[str, Any]) -> str:
    """Schema note types by name; anything else the input held only as a count."""
    train = card.get("note_types", {}).get("train", {})
    if "labels" not in config:
        return f"{sum(train.values()):,} notes (not named: a pretrained encoder records no label set)"
    known = set(config["labels"]["note_types"])
    named = [f"{kind} {n:,}" for kind, n in train.items() if kind in known]
    unnamed = sum(n for kind, n in train.items() if kind not in known)
    if unnamed:
        named.append(f"{unnamed:,} notes of a type outside the schema or without one")
    return ", ".join(named) or "none recorded"


def _parent(parent: dict[str, Any]) -> list[str]:
    if parent.get("pretrained_encoder"):
        return ["## Parent model", "",
                f"Trained from the encoder pretrained on masked tokens in `{parent['path']}` "
                f"(tokenizer sha256 `{parent['tokenizer_sha256']}`): its embedding and encoder "
                "weights were loaded; every field's head was trained from scratch.", ""]
    fields = []
    for key, what in (("fields_kept", "Fields whose heads carried over"),
                      ("fields_added", "New fields (heads trained from scratch)"),
                      ("fields_dropped", "Parent's fields this model no longer has")):
        if parent.get(key):
            fields.append(f"- {what} ({len(parent[key])}): {', '.join(parent[key])}")
    return ["## Parent model", "",
            f"Fine-tuned (`chartlnn train --init`) from `{parent['path']}` (directory "
            f"`{Path(parent['path']).name}`), tokenizer sha256 `{parent['tokenizer_sha256']}`. Its "
            "encoder weights were loaded, and each head's rows for the fields both schemas share. "
            "Compare the two on the same test notes with `chartlnn evaluate --data DATA --model "
            f"MODEL_DIR --baseline {parent['path']} --out REPORT_DIR`.", "", *fields,
            *([""] if fields else [])]
