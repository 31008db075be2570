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
    """Run the whole flow on embedded synthetic notes: generate → prepare → show the data card."""
    from chartlnn.dataset_builder import prepare as run_prepare

    dataset = out / "dataset"
    console.print(f"[bold]1/2[/bold] generating {notes} synthetic notes and preparing {dataset}",
                  highlight=False)
    card = run_prepare("synthetic", None, dataset, options={"n": notes, "seed": 0},
                       show_progress=sys.stderr.isatty())
    console.print("[bold]2/2[/bold] the data card", highlight=False)
    from chartlnn.data_card import render_markdown

    Console().print(Markdown(render_markdown(card)))
    console.print(f"dataset written to {dataset}", highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    from chartlnn import __version__

    typer.echo(__version__)
