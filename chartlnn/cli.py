"""The chartlnn command line: thin wrappers that parse arguments and call library functions."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markdown import Markdown

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Structured charts from clinical notes with compact liquid neural networks.")
console = Console(stderr=True)

DEMO_NOTES = 300


def _fail(message: str) -> None:
    """One line on stderr, exit 1: for errors a user can fix."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def command(func):
    """Register ``func`` as a command. A ChartlnnError (anything a user can fix) becomes its one
    line on stderr and exit status 1; any other exception is a bug and keeps its traceback."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        from chartlnn.errors import ChartlnnError

        try:
            return func(*args, **kwargs)
        except ChartlnnError as exc:
            _fail(str(exc))

    return app.command()(run)


def _options(pairs: list[str]) -> dict:
    from chartlnn.config import parse_overrides

    return parse_overrides(pairs)


@command
def prepare(
    recipe: str = typer.Argument(..., help="A recipe: `chartlnn recipes` lists them (synthetic, "
                                           "mtsamples, csv, jsonl, parquet, brat, labelstudio, text_dir)."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="File or folder of notes."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to create."),
    option: list[str] = typer.Option([], "--option", "-O",
                                     help="Recipe option KEY=VALUE (see `chartlnn recipes`)."),
    config: Optional[Path] = typer.Option(None, help="Prepare config YAML (default configs/prepare/default.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key: KEY=VALUE."),
    schema: Optional[Path] = typer.Option(None, help="Schema YAML (default configs/schema/default.yaml)."),
    tokenizer: Optional[Path] = typer.Option(None, help="Reuse this model's tokenizer (to fine-tune it)."),
    phi: Optional[str] = typer.Option(None, help="Residual PHI: mask (default) or fail."),
    mix: list[str] = typer.Option([], help="Add another source's notes to the train split only: "
                                           "RECIPE[:INPUT][,KEY=VALUE...], e.g. synthetic,n=1500. "
                                           "Repeatable."),
    overwrite: bool = typer.Option(False, help="Replace an existing output directory."),
) -> None:
    """Turn notes into a labeled, split, tokenized dataset with a data card."""
    from chartlnn.config import load_config
    from chartlnn.preparing.builder import PrepareConfig
    from chartlnn.preparing.builder import prepare as run_prepare
    from chartlnn.schema import load_schema

    options = _checked_source(recipe, input, option).options
    mixed = [_mix_source(spec) for spec in mix]
    if out.exists() and any(out.iterdir()) and not overwrite:
        _fail(f"{out}: exists and is not empty (use --overwrite to replace it)")
    overrides = _options(set_)
    if phi is not None:
        overrides["phi"] = phi
    cfg = load_config(PrepareConfig, config, overrides)
    card = run_prepare(recipe, input, out, options=options, config=cfg,
                       schema=load_schema(schema) if schema else None,
                       tokenizer_from=tokenizer, mix=mixed, show_progress=sys.stderr.isatty())
    counts = card["counts"]
    used = card["schema"]
    schema_line = (f"schema {used['name']} v{used['version']}"
                   + (f" from {used['from']} (--schema to use another)" if used["from"] else ""))
    console.print(f"wrote {out}: {counts['notes_kept']} notes kept "
                  f"({', '.join(f'{k} {v}' for k, v in card['splits'].items())}), "
                  f"{counts['records_rejected']} rejected; {schema_line}; "
                  f"`chartlnn inspect {out}` shows the card", highlight=False, soft_wrap=True)


def _checked_source(recipe: str, input: Optional[Path], pairs: list[str], input_hint: str = "--input"):
    """A recipe, its input and its KEY=VALUE options, checked before any note is read."""
    from chartlnn.preparing.builder import Source
    from data_recipes import recipe_options

    allowed = recipe_options(recipe)
    options = _options(pairs)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        _fail(f"recipe {recipe!r} has no option {', '.join(unknown)}; it takes: "
              f"{', '.join(allowed) or 'none'}")
    if recipe != "synthetic" and input is None:
        _fail(f"recipe {recipe!r} needs {input_hint}")
    return Source(recipe, input, options)


def _mix_source(spec: str):
    """``RECIPE[:INPUT][,KEY=VALUE...]`` → a checked Source."""
    head, *pairs = spec.split(",")
    recipe, _, path = head.partition(":")
    return _checked_source(recipe.strip(), Path(path) if path else None, pairs,
                           input_hint=f"an input: --mix {recipe.strip()}:PATH")


def _train_settings(config: str, pairs: list[str]):
    """The train config (name or path) with ``--set`` overrides applied, and the model overrides
    (``model.KEY``) to pass on: the one override syntax of `train` and `pretrain`."""
    from chartlnn.config import load_config
    from chartlnn.training.train import TrainConfig, split_overrides, train_config_path

    train_overrides, model_overrides = split_overrides(_options(pairs))
    return load_config(TrainConfig, train_config_path(config), train_overrides), model_overrides


@command
def train(
    data: Path = typer.Option(..., "--data", "-d", help="A prepared dataset directory."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    model: str = typer.Option("liquid-small", help="liquid-small, cfc-small, transformer-small, "
                                                   "transformer-tiny or a YAML path."),
    config: str = typer.Option("default", help="Train config: a name in configs/train or a YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override KEY=VALUE (train keys; model.KEY for the model)."),
    init: Optional[Path] = typer.Option(None, help="Start from this trained or pretrained model directory."),
    overwrite: bool = typer.Option(False, help="Replace a model already in --out."),
) -> None:
    """Train a tagger with Lightning and write a model directory."""
    from chartlnn.training.train import train as run_train

    cfg, model_overrides = _train_settings(config, set_)
    metrics = run_train(data, out, model=model, config=cfg, model_overrides=model_overrides,
                        init=init, overwrite=overwrite,
                        log=lambda line: console.print(line, highlight=False, soft_wrap=True))
    console.print(f"wrote {out}: validation field F1 {metrics.get('val/field_f1', 0):.3f}, section "
                  f"token F1 {metrics.get('val/section_token_f1', 0):.3f}, entity F1 "
                  f"{metrics.get('val/entity_f1', 0):.3f}", highlight=False, soft_wrap=True)


@command
def pretrain(
    data: Path = typer.Option(..., "--data", "-d", help="A prepared dataset of notes (labels unused)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the pretrained encoder."),
    model: str = typer.Option("liquid-small", help="Model config name or YAML path."),
    config: str = typer.Option("default", help="Train config: a name in configs/train or a YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override KEY=VALUE (train keys; model.KEY for the model)."),
    overwrite: bool = typer.Option(False, help="Replace what is in --out."),
) -> None:
    """Pretrain the encoder on unlabeled notes (masked tokens); then `train --init` from it."""
    from chartlnn.training.train import pretrain as run_pretrain

    cfg, model_overrides = _train_settings(config, set_)
    metrics = run_pretrain(data, out, model=model, config=cfg, model_overrides=model_overrides,
                           overwrite=overwrite)
    console.print(f"wrote {out}: validation masked-token loss {metrics['val/mlm_loss']:.3f}; "
                  f"fine-tune with `chartlnn train --init {out} ...`", highlight=False, soft_wrap=True)


@command
def evaluate(
    data: Path = typer.Option(..., "--data", "-d", help="A prepared dataset directory."),
    model: Path = typer.Option(..., "--model", "-m", help="The model directory to evaluate."),
    baseline: list[Path] = typer.Option([], help="Model directories to compare with; the first "
                                        "is the baseline of the paired intervals. Repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Report directory to write."),
    split: str = typer.Option("auto", help="The split to evaluate on: auto (gold, the held-out "
                                          "reviewed notes, when there are any; else test), test, "
                                          "gold, shift or validation."),
    rules: bool = typer.Option(True, help="Score the rule-based labeler as a system too."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    meter: str = typer.Option("auto", help="Energy meter: auto, nvml, rapl or cpu-time."),
    watts_per_core: Optional[float] = typer.Option(None, help="For the cpu-time estimate (default 10)."),
    repeats: int = typer.Option(5, help="Energy windows per model."),
    window_seconds: float = typer.Option(3.0, help="Length of each energy window."),
    long_tokens: str = typer.Option("8192,16384,32768", help="Synthetic long-note lengths for the "
                                    "scaling table (comma-separated; empty for none)."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, help="Replace a report already in --out."),
    threads: int = typer.Option(1, help="Torch threads on the CPU (1, as each `chart` worker: "
                                        "J/chart then does not move with the machine's load)."),
) -> None:
    """Field-level accuracy and energy per chart, side by side, into report.json/.md and plots."""
    from chartlnn.evaluation.run import evaluate as run_evaluate

    try:
        lengths = [int(n) for n in long_tokens.split(",") if n.strip()]
    except ValueError:
        _fail(f"--long-tokens takes comma-separated token counts, got {long_tokens!r}")
    run_evaluate(data, [model, *baseline], out, rules=rules,
                 split=None if split == "auto" else split, device=device,
                 meter=meter, watts_per_core=watts_per_core, repeats=repeats,
                 window_seconds=window_seconds, long_tokens=lengths, resamples=resamples,
                 seed=seed, overwrite=overwrite, threads=threads,
                 log=lambda message: console.print(message, highlight=False))
    Console().print(Markdown((out / "report.md").read_text(encoding="utf-8")))
    console.print(f"wrote {out}/report.json, report.md and plots/", highlight=False)


@command
def show(
    note: Path = typer.Argument(..., help="A note as a UTF-8 .txt file."),
    model: Path = typer.Option(..., "--model", "-m", help="A trained model directory."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the HTML page here "
                                       "(default: NOTE with .html)."),
) -> None:
    """Chart one note and write it as an HTML page with the extracted fields highlighted."""
    from chartlnn.inference.model import load
    from chartlnn.export.html import render_html

    try:
        text = note.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{note}: no such file")
    except IsADirectoryError:
        _fail(f"{note}: is a folder; give one note as a .txt file")
    except UnicodeDecodeError:
        _fail(f"{note}: not valid UTF-8 text")
    except OSError as exc:
        _fail(f"{note}: cannot read it ({exc.strerror or type(exc).__name__})")
    chart = load(model).chart(text, note_id=note.stem)
    out = out or note.with_suffix(".html")
    try:
        out.write_text(render_html(text, chart, title=f"{note.name}: chart by {chart['model']['name']}"),
                       encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write the page there ({exc.strerror or type(exc).__name__})")
    console.print(f"wrote {out}: open it in a browser", highlight=False)


@command
def inspect(path: Path = typer.Argument(..., help="A prepared dataset directory."),
            json_: bool = typer.Option(False, "--json", help="Print the card as JSON.")) -> None:
    """Print a prepared dataset's data card."""
    card_file = path / "data_card.json"
    if not card_file.exists():
        _fail(f"{path}: no data_card.json here; is it a directory made by `chartlnn prepare`?")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    if json_:
        typer.echo(json.dumps(card, indent=2))
        return
    from chartlnn.preparing.data_card import render_markdown

    Console().print(Markdown(render_markdown(card)))


@command
def recipes() -> None:
    """List the recipes and the options each takes."""
    from data_recipes import RECIPES, recipe_options

    for name, read in RECIPES.items():
        summary = (sys.modules[read.__module__].__doc__ or "").strip().splitlines()[0]
        options = ", ".join(f"{k}={v!r}" for k, v in recipe_options(name).items())
        typer.echo(f"{name:12s} {summary}\n{'':12s} options: {options or 'none'}")


@command
def demo(out: Path = typer.Option(Path("runs/demo"), help="Where the demo writes its outputs."),
         notes: int = typer.Option(DEMO_NOTES, help="How many synthetic notes to generate.")) -> None:
    """The whole flow on embedded synthetic notes: generate → prepare → train → chart notes."""
    from chartlnn.demo import run_demo

    run_demo(out, notes, console)


@command
def chart(
    model: Path = typer.Option(..., "--model", "-m", help="A trained model directory."),
    input: Path = typer.Option(..., "--input", "-i", help="CSV(.gz), JSONL(.gz), Parquet, or a folder of .txt notes."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for charts.jsonl, rejects.jsonl (and bundles.ndjson)."),
    reader: Optional[str] = typer.Option(None, help="Recipe that reads --input (default: from its suffix)."),
    option: list[str] = typer.Option([], "--option", "-O", help="Reader option KEY=VALUE (see `chartlnn recipes`)."),
    phi: str = typer.Option("mask", help="Residual PHI: mask (chart the masked text), flag or reject."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl, or fhir for FHIR R4 bundles.ndjson as well."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    int8: bool = typer.Option(False, "--int8", help="CPU: run the linear layers with int8 weights "
                                                  "(F1 within 0.1 measured; faster only where the "
                                                  "liquid scan runs in torch, not compiled)."),
    batch_size: int = typer.Option(8, help="Notes per forward pass (of similar length)."),
    workers: Optional[int] = typer.Option(None, help="Worker processes, each with the model "
                                          "(default: one per core on CPU, none on a GPU; 0: this process)."),
    shard_size: int = typer.Option(1000, help="Records per shard: the unit of resuming."),
    engine: str = typer.Option("local", help="local, or ray (Ray Data: install the ray extra of chartlnn)."),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster to use (default: start one here)."),
    overwrite: bool = typer.Option(False, help="Start over, replacing a previous run in --out."),
) -> None:
    """Chart every note of a file or folder: resumable, idempotent, nothing lost."""
    from chartlnn.charting.run import chart as run_chart

    summary = run_chart(model, input, out, reader=reader, options=_options(option), phi=phi,
                        fmt=fmt, shard_size=shard_size, batch_size=batch_size,
                        workers=workers, device=device, int8=int8, engine=engine,
                        ray_address=ray_address, overwrite=overwrite,
                        progress="bar" if sys.stderr.isatty() else "lines")
    state = "already finished: " if summary.already_done else ""
    resumed = f", {summary.skipped} from an earlier run" if summary.skipped else ""
    console.print(f"{state}{summary.records} notes in{resumed}: {summary.charted} charted, "
                  f"{summary.rejected} rejected (see {out / 'rejects.jsonl'}); "
                  f"{summary.charts_per_s:.1f} charts/s, {summary.wall_s:.1f} s; wrote {out}",
                  highlight=False, soft_wrap=True)
    if not summary.reconciled:
        _fail(f"{summary.records} notes in but {summary.charted} charted + {summary.rejected} "
              "rejected: the counts do not reconcile")


@command
def annotate(
    model: Path = typer.Option(..., "--model", "-m", help="A trained model directory."),
    input: Path = typer.Option(..., "--input", "-i", help="CSV(.gz), JSONL(.gz), Parquet, or a folder of .txt notes."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the review tasks; run again "
                             "into it for the next round (notes already exported are skipped)."),
    fmt: str = typer.Option("labelstudio", "--format", help="labelstudio (tasks.json + "
                            "labeling_config.xml) or brat (NAME.txt + NAME.ann + annotation.conf)."),
    select: str = typer.Option("uncertainty", help="uncertainty: least sure first (1 - mean "
                               "probability of the chosen tag over the note's tokens, section and "
                               "entity heads; it also sees entities the model was unsure enough "
                               "to miss); random: a seeded sample; all: input order."),
    number: Optional[int] = typer.Option(None, "-n", "--notes", help="Notes to export this round (default: all)."),
    seed: int = typer.Option(0, help="Seed of --select random."),
    skip_from: list[Path] = typer.Option([], help="Also skip the notes exported into this earlier "
                                         "--out folder. Repeatable."),
    reader: Optional[str] = typer.Option(None, help="Recipe that reads --input (default: from its suffix)."),
    option: list[str] = typer.Option([], "--option", "-O", help="Reader option KEY=VALUE (see `chartlnn recipes`)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Write pre-annotated review tasks (Label Studio or brat), the notes the model is least sure of first."""
    from chartlnn.annotating.run import annotate as run_annotate

    summary = run_annotate(model, input, out, fmt=fmt, select=select, n=number, seed=seed,
                           reader=reader, options=_options(option), skip_from=skip_from,
                           device=device)
    console.print(f"round {summary.round}: {summary.records} notes in: {summary.written} tasks "
                  f"written, {summary.rejected} rejected (see {summary.rejects}), "
                  f"{summary.not_selected} not selected, {summary.skipped} skipped as exported "
                  f"before; wrote {summary.tasks}", highlight=False, soft_wrap=True)
    if not summary.reconciled:
        _fail(f"{summary.records} notes in but {summary.written} written + {summary.rejected} "
              f"rejected + {summary.not_selected} not selected + {summary.skipped} skipped: the "
              "counts do not reconcile")


@command
def version() -> None:
    """Print the version."""
    from chartlnn import __version__

    typer.echo(__version__)
