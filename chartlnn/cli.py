"""The chartlnn command line: thin wrappers that parse arguments and call library functions."""

from __future__ import annotations

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


def _options(pairs: list[str]) -> dict:
    from chartlnn.config import parse_overrides

    return parse_overrides(pairs)


@app.command()
def prepare(
    recipe: str = typer.Argument(..., help="synthetic, mtsamples, csv, jsonl, brat or text_dir"),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="File or folder of notes."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to create."),
    option: list[str] = typer.Option([], "--option", "-O",
                                     help="Recipe option KEY=VALUE (see `chartlnn recipes`)."),
    config: Optional[Path] = typer.Option(None, help="Prepare config YAML (default configs/prepare/default.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key: KEY=VALUE."),
    schema: Optional[Path] = typer.Option(None, help="Schema YAML (default configs/schema/default.yaml)."),
    tokenizer: Optional[Path] = typer.Option(None, help="Reuse this model's tokenizer (to fine-tune it)."),
    phi: Optional[str] = typer.Option(None, help="Residual PHI: mask (default) or fail."),
    overwrite: bool = typer.Option(False, help="Replace an existing output directory."),
) -> None:
    """Turn notes into a labeled, split, tokenized dataset with a data card."""
    from chartlnn.config import ConfigError, load_config
    from chartlnn.dataset_builder import DEFAULT_CONFIG, NothingUsable, PhiFound, PrepareConfig
    from chartlnn.dataset_builder import prepare as run_prepare
    from chartlnn.schema import SchemaError, load_schema
    from data_recipes import RecipeError, recipe_options

    try:
        allowed = recipe_options(recipe)
        options = _options(option)
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            _fail(f"recipe {recipe!r} has no option {', '.join(unknown)}; it takes: "
                  f"{', '.join(allowed) or 'none'}")
        if recipe != "synthetic" and input is None:
            _fail(f"recipe {recipe!r} needs --input")
        if out.exists() and any(out.iterdir()) and not overwrite:
            _fail(f"{out}: exists and is not empty (use --overwrite to replace it)")
        overrides = _options(set_)
        if phi is not None:
            overrides["phi"] = phi
        cfg = load_config(PrepareConfig, config or DEFAULT_CONFIG, overrides)
        card = run_prepare(recipe, input, out, options=options, config=cfg,
                           schema=load_schema(schema) if schema else None,
                           tokenizer_from=tokenizer, show_progress=sys.stderr.isatty())
    except (RecipeError, ConfigError, SchemaError, PhiFound, NothingUsable, FileNotFoundError) as exc:
        _fail(str(exc))
    counts = card["counts"]
    console.print(f"wrote {out}: {counts['notes_kept']} notes kept "
                  f"({', '.join(f'{k} {v}' for k, v in card['splits'].items())}), "
                  f"{counts['records_rejected']} rejected; `chartlnn inspect {out}` shows the card",
                  highlight=False, soft_wrap=True)


def _train_settings(config: str, pairs: list[str]):
    """The train config (name or path) with ``--set`` overrides applied, and the model overrides
    (``model.KEY``) to pass on: the one override syntax of `train` and `pretrain`."""
    from chartlnn.config import load_config
    from chartlnn.train import TrainConfig, split_overrides, train_config_path

    train_overrides, model_overrides = split_overrides(_options(pairs))
    return load_config(TrainConfig, train_config_path(config), train_overrides), model_overrides


@app.command()
def train(
    data: Path = typer.Option(..., "--data", "-d", help="A prepared dataset directory."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    model: str = typer.Option("liquid-small", help="liquid-small, cfc-small, transformer-small or a YAML path."),
    config: str = typer.Option("default", help="Train config: a name in configs/train or a YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override KEY=VALUE (train keys; model.KEY for the model)."),
    init: Optional[Path] = typer.Option(None, help="Start from this trained or pretrained model directory."),
    overwrite: bool = typer.Option(False, help="Replace a model already in --out."),
) -> None:
    """Train a tagger with Lightning and write a model directory."""
    from chartlnn.config import ConfigError
    from chartlnn.train import TrainError
    from chartlnn.train import train as run_train

    try:
        cfg, model_overrides = _train_settings(config, set_)
        metrics = run_train(data, out, model=model, config=cfg, model_overrides=model_overrides,
                            init=init, overwrite=overwrite)
    except (ConfigError, TrainError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"wrote {out}: validation field F1 {metrics.get('val/field_f1', 0):.3f}, section "
                  f"token F1 {metrics.get('val/section_token_f1', 0):.3f}, entity F1 "
                  f"{metrics.get('val/entity_f1', 0):.3f}", highlight=False, soft_wrap=True)


@app.command()
def pretrain(
    data: Path = typer.Option(..., "--data", "-d", help="A prepared dataset of notes (labels unused)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the pretrained encoder."),
    model: str = typer.Option("liquid-small", help="Model config name or YAML path."),
    config: str = typer.Option("default", help="Train config: a name in configs/train or a YAML path."),
    set_: list[str] = typer.Option([], "--set", help="Override KEY=VALUE (train keys; model.KEY for the model)."),
    overwrite: bool = typer.Option(False, help="Replace what is in --out."),
) -> None:
    """Pretrain the encoder on unlabeled notes (masked tokens); then `train --init` from it."""
    from chartlnn.config import ConfigError
    from chartlnn.train import TrainError
    from chartlnn.train import pretrain as run_pretrain

    try:
        cfg, model_overrides = _train_settings(config, set_)
        metrics = run_pretrain(data, out, model=model, config=cfg, model_overrides=model_overrides,
                               overwrite=overwrite)
    except (ConfigError, TrainError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"wrote {out}: validation masked-token loss {metrics['val/mlm_loss']:.3f}; "
                  f"fine-tune with `chartlnn train --init {out} ...`", highlight=False, soft_wrap=True)


@app.command()
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
    from chartlnn.data_card import render_markdown

    Console().print(Markdown(render_markdown(card)))


@app.command()
def recipes() -> None:
    """List the recipes and the options each takes."""
    from data_recipes import RECIPES, recipe_options

    for name, read in RECIPES.items():
        summary = (sys.modules[read.__module__].__doc__ or "").strip().splitlines()[0]
        options = ", ".join(f"{k}={v!r}" for k, v in recipe_options(name).items())
        typer.echo(f"{name:10s} {summary}\n{'':10s} options: {options or 'none'}")


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), help="Where the demo writes its outputs."),
         notes: int = typer.Option(DEMO_NOTES, help="How many synthetic notes to generate.")) -> None:
    """The whole flow on embedded synthetic notes: generate → prepare → train → chart a note."""
    from chartlnn.config import load_config
    from chartlnn.data import load_prepared
    from chartlnn.data_card import render_markdown
    from chartlnn.dataset_builder import prepare as run_prepare
    from chartlnn.inference import load
    from chartlnn.train import TrainConfig, train_config_path
    from chartlnn.train import train as run_train

    dataset, model_dir = out / "dataset", out / "liquid-small"
    console.print(f"[bold]1/3[/bold] generating {notes} synthetic notes and preparing {dataset}",
                  highlight=False)
    card = run_prepare("synthetic", None, dataset, options={"n": notes, "seed": 0},
                       show_progress=sys.stderr.isatty())
    Console().print(Markdown(render_markdown(card)))
    console.print(f"[bold]2/3[/bold] training liquid-small for about a minute into {model_dir}",
                  highlight=False)
    metrics = run_train(dataset, model_dir, model="liquid-small", overwrite=True,
                        config=load_config(TrainConfig, train_config_path("quick")))
    console.print(f"validation field F1 {metrics['val/field_f1']:.3f}", highlight=False)
    note = load_prepared(dataset).splits["test"][0]
    console.print(f"[bold]3/3[/bold] the chart of test note {note['id']}, read without its headers",
                  highlight=False)
    _print_chart(load(model_dir).chart(note["input_text"]))
    console.print(f"the full chart as JSON: chartlnn.load('{model_dir}').chart(text)", highlight=False)


def _print_chart(chart: dict) -> None:
    """A chart as a table a person can scan: one row per section or entity mention."""
    from rich.table import Table

    table = Table(title=f"note type: {chart['note_type']}")
    table.add_column("field", no_wrap=True, min_width=20)
    table.add_column("text in the note", overflow="ellipsis", max_width=36, no_wrap=True)
    table.add_column("value", no_wrap=True)
    for field, mentions in chart["sections"].items():
        for mention in mentions:
            table.add_row(field, mention["text"].replace("\n", " ⏎ "), "")
    for field, mentions in chart["entities"].items():
        for mention in mentions:
            parts = [mention["value"], mention.get("dose"), mention.get("route"), mention.get("frequency")]
            table.add_row(field, mention["text"], ", ".join(_value_text(p) for p in parts if p))
    Console().print(table)


def _value_text(value) -> str:
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']:g} {value.get('unit', '')}".strip()
    return str(value)


@app.command()
def version() -> None:
    """Print the version."""
    from chartlnn import __version__

    typer.echo(__version__)
