"""Typed configs: a dataclass per kind of setup, mirrored 1:1 by a YAML file in ``configs/``.

The YAML files are the only defaults: ``configs/KIND/default.yaml`` (shipped inside the package as
``chartlnn/configs``, read through ``importlib.resources``) holds every key, the dataclass holds
the types and the docs, and a user's file or ``--set`` only changes what it names.

One override syntax everywhere: ``--set key=value`` (the value parsed as YAML, so ``4000`` is an
int and ``true`` a bool). Unknown keys and wrongly typed values fail with one line naming them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chartlnn.errors import ChartlnnError

T = TypeVar("T")


class ConfigError(ChartlnnError, ValueError):
    """A config file or override that cannot be used; the message names it."""


def shipped_config(kind: str, name: str = "default") -> Path:
    """``configs/KIND/NAME.yaml`` as installed with the package."""
    return Path(str(resources.files("chartlnn").joinpath("configs", kind, f"{name}.yaml")))


def shipped_resource(name: str) -> Path:
    """A data file shipped in ``chartlnn/resources`` (lexicons, the Chart JSON Schema)."""
    return Path(str(resources.files("chartlnn").joinpath("resources", name)))


def shipped_names(kind: str) -> list[str]:
    """The names of the shipped ``configs/KIND/*.yaml`` files."""
    return sorted(path.stem for path in shipped_config(kind).parent.glob("*.yaml"))


def config_path(kind: str, name: str | Path) -> Path:
    """A shipped config by name (``quick``), or a YAML path as given; one line when neither."""
    if Path(name).suffix in (".yaml", ".yml"):
        return Path(name)
    path = shipped_config(kind, str(name))
    if not path.exists():
        raise ConfigError(f"no {kind} config {str(name)!r}; shipped: {', '.join(shipped_names(kind))}, "
                          "or give a YAML path")
    return path


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["vocab_size=4000", "phi=fail"]`` → ``{"vocab_size": 4000, "phi": "fail"}``."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return overrides


def load_config(cls: type[T], path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> T:
    """Build ``cls`` from its shipped defaults (``configs/{cls.KIND}/default.yaml``), then the YAML
    file ``path`` when given, then ``overrides``; each layer changes only the keys it names."""
    values = read_yaml(shipped_config(cls.KIND))
    source = "defaults"
    if path is not None:
        source = str(path)
        values.update(read_yaml(Path(path)))
    values.update(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {key!r}; expected one of {', '.join(fields)}")
        if not _fits(value, hints[key]):
            raise ConfigError(f"{source}: {key} = {value!r} is not a {hints[key]}")
    missing = [name for name in fields if name not in values]
    if missing:
        raise ConfigError(f"{shipped_config(cls.KIND)}: missing key(s) {', '.join(missing)}")
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; every way it can be unusable is one ConfigError line."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ConfigError(f"{path}: not valid YAML") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    if not isinstance(loaded or {}, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values")
    return dict(loaded or {})


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
