"""Recipes: one module per source format, each yielding Note and Reject records.

Every recipe is a function ``read(path, **options) -> Iterator[Note | Reject]``; the registry maps
the names users type (``chartlnn prepare NAME``) to those functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from chartlnn.notes import Note, Reject
from data_recipes import (brat, csv_export, jsonl_export, labelstudio, mtsamples, parquet_export,
                          synthetic, text_dir)
from data_recipes._common import RecipeError

Recipe = Callable[..., Iterator[Note | Reject]]

RECIPES: dict[str, Recipe] = {
    "synthetic": synthetic.read,
    "mtsamples": mtsamples.read,
    "csv": csv_export.read,
    "jsonl": jsonl_export.read,
    "parquet": parquet_export.read,
    "brat": brat.read,
    "labelstudio": labelstudio.read,
    "text_dir": text_dir.read,
}

__all__ = ["RECIPES", "RecipeError", "get_recipe", "recipe_options"]


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise RecipeError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}") from None


def recipe_options(name: str) -> dict[str, Any]:
    """The options a recipe takes (``-O key=value`` on the command line) and their defaults."""
    params = inspect.signature(get_recipe(name)).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
