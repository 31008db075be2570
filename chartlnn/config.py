"""Typed configs: a dataclass per kind of setup, mirrored 1:1 by a YAML file in ``configs/``.

One override syntax everywhere: ``--set key=value`` (the value parsed as YAML, so ``4000`` is an
int and ``true`` a bool). Unknown keys and wrongly typed values fail with one line naming them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names it."""


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["vocab_size=4000", "phi=fail"]`` → ``{"vocab_size": 4000, "phi": "fail"}``."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return overrides


def load_config(cls: type[T], path: str | Path | None, overrides: dict[str, Any] | None = None) -> T:
    """Build ``cls`` from a YAML file (or its defaults when ``path`` is None) plus overrides."""
    values: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError:
            raise ConfigError(f"{path}: not valid YAML") from None
        if not isinstance(loaded or {}, dict):
            raise ConfigError(f"{path}: expected a mapping of keys to values")
        values.update(loaded or {})
    values.update(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {key!r}; expected one of {', '.join(fields)}")
        if not _fits(value, hints[key]):
            raise ConfigError(f"{source}: {key} = {value!r} is not a {hints[key]}")
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)
