"""The chart schema: which section, entity and document fields a note is turned into.

Loaded from ``configs/schema/*.yaml`` into a validated :class:`Schema`; a bad file fails with one
line naming the file and the field at fault.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chartlnn.config import shipped_config, shipped_resource
from chartlnn.errors import ChartlnnError

DEFAULT_SCHEMA = shipped_config("schema")
CHART_JSON_SCHEMA = shipped_resource("chart.schema.json")
"""The JSON Schema every chart (model or rules, JSONL output) validates against."""

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLURAL_SUFFIX = re.compile(r"\s*\((?:S|ES)\)$")
_SLASH = re.compile(r"\s*/\s*")


class SchemaError(ChartlnnError, ValueError):
    """A schema file that cannot be used; the message names the file."""


def normalize_header(header: str) -> str:
    """The form headers are compared in: upper case, single spaces, no space around "/", no
    trailing "(S)"/"(ES)"."""
    return _SLASH.sub("/", _PLURAL_SUFFIX.sub("", " ".join(header.upper().split())).strip())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SectionField(_Strict):
    description: str = ""
    headers: list[str] = Field(min_length=1)
    """Header texts that open this section, as notes write them (case does not matter)."""
    items: list[str] = []
    """Sub-headers that belong to this section (BP:, PULSE: in vital signs)."""
    continues_as: str | None = None
    """When set, any other sub-header ends this section and opens that one, at the sub-header."""
    keywords: list[str] = []
    """Single words that make a header the schema does not list open this section when they are
    its head ("OPERATIVE INDICATIONS" → INDICATIONS; "DESCRIPTION OF TECHNIQUE" → TECHNIQUE)."""


class EntityField(_Strict):
    description: str = ""
    unit: str | None = None
    """The unit normalized values are given in (UCUM-style), None for unitless fields."""
    values: list[str] | None = None
    """Closed or special values the field may take (e.g. "no known allergies")."""
    part_of: str | None = None
    """The entity field this one is a linked part of (dose, route, frequency of a medication)."""


class DocumentField(_Strict):
    description: str = ""
    classes: list[str] = Field(min_length=2)


class Schema(_Strict):
    name: str
    version: int = 1
    sections: dict[str, SectionField]
    container_sections: list[str] = []
    subheaders: list[str] = []
    other_headers: list[str] = []
    letter_headers: dict[str, str] = {}
    """Single-letter headers → section (S: → history of present illness in a SOAP note)."""
    entities: dict[str, EntityField]
    documents: dict[str, DocumentField]

    @model_validator(mode="after")
    def _check(self) -> "Schema":
        names = [*self.sections, *self.entities, *self.documents]
        for name in names:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"field name {name!r} must be lower_snake_case")
        if len(set(names)) != len(names):
            raise ValueError("a field name is used twice across sections/entities/documents")
        for name in self.container_sections:
            if name not in self.sections:
                raise ValueError(f"container_sections names unknown section {name!r}")
        for letter, name in self.letter_headers.items():
            if not re.fullmatch(r"[A-Z]", letter) or name not in self.sections:
                raise ValueError(f"letter_headers: {letter!r} must be one upper-case letter "
                                 f"mapped to a section, not {name!r}")
        for name, sec in self.sections.items():
            if sec.continues_as is not None and sec.continues_as not in self.sections:
                raise ValueError(f"section {name!r} continues_as unknown section {sec.continues_as!r}")
        for name, ent in self.entities.items():
            if ent.part_of is not None and ent.part_of not in self.entities:
                raise ValueError(f"entity {name!r} is part_of unknown entity {ent.part_of!r}")
        seen: dict[str, str] = {}
        for name, sec in self.sections.items():
            for header in sec.headers:
                key = normalize_header(header)
                if key in seen and seen[key] != name:
                    raise ValueError(f"header {header!r} maps to both {seen[key]!r} and {name!r}")
                seen[key] = name
        owner: dict[str, str] = {}
        for name, sec in self.sections.items():
            for word in sec.keywords:
                key = normalize_header(word)
                if len(key.split()) != 1:
                    raise ValueError(f"keyword {word!r} of section {name!r} must be one word")
                if owner.setdefault(key, name) != name:
                    raise ValueError(f"keyword {word!r} belongs to both {owner[key]!r} and {name!r}")
        return self

    @property
    def section_names(self) -> list[str]:
        return list(self.sections)

    @property
    def entity_names(self) -> list[str]:
        return list(self.entities)

    def header_map(self) -> dict[str, str]:
        """Normalized header text → section field name."""
        return {normalize_header(h): name for name, sec in self.sections.items() for h in sec.headers}

    def keyword_map(self) -> dict[str, str]:
        """Normalized header keyword → section field name."""
        return {normalize_header(w): name for name, sec in self.sections.items() for w in sec.keywords}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(exclude_defaults=False), sort_keys=False, width=100)


def load_schema(path: str | Path | None = None) -> Schema:
    """Load and validate a schema file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_SCHEMA
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"{path}: schema file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SchemaError(f"{path}: not a readable YAML file ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"{path}: expected a mapping at the top level")
    try:
        return Schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SchemaError(f"{path}: {where}: {first['msg']}") from None


class ChartInvalid(ChartlnnError, ValueError):
    """A chart that does not follow the Chart JSON Schema; the message names the place."""


@lru_cache(maxsize=1)
def _chart_schema() -> dict:
    import json

    return json.loads(CHART_JSON_SCHEMA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _compiled_chart_check():
    """The Chart JSON Schema compiled to Python by fastjsonschema: about 10x faster than
    interpreting it, which matters when every chart of a batch run is checked."""
    import fastjsonschema

    return fastjsonschema.compile(_chart_schema())


@lru_cache(maxsize=1)
def _chart_validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_chart_schema())


def validate_chart(chart: dict) -> None:
    """Raise :class:`ChartInvalid` naming the first offending path (never a value: it may be note
    text) when ``chart`` breaks the Chart JSON Schema. The compiled check runs on every chart; a
    chart it refuses is checked again by the reference validator, whose error names the place."""
    import fastjsonschema

    try:
        _compiled_chart_check()(chart)
        return
    except fastjsonschema.JsonSchemaValueException:
        pass
    error = next(iter(_chart_validator().iter_errors(chart)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ChartInvalid(f"chart {where}: fails the {error.validator!r} rule of the chart schema")
