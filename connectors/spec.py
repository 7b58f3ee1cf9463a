"""Source specs: a feed is data, not code. One YAML file per feed, validated here.

A wrong spec raises SpecError naming the file, the field and what was expected.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.case import CASE_COLUMNS, CaseKind
from core.crs import parse_crs
from core.errors import ConfigError


class SpecError(ConfigError):
    """A source spec file is malformed."""


class SourceFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    XLSX = "xlsx"
    GEOFILE = "geofile"  # GeoJSON, Shapefile, GeoPackage (pyogrio)
    REST = "rest"
    SQL = "sql"


class PiiHandling(StrEnum):
    MASK = "mask"
    HASH = "hash"


class FieldMap(BaseModel):
    """How one canonical field is made from the source record."""

    model_config = ConfigDict(extra="forbid")

    source: str | list[str] | None = Field(None, alias="from", description="source field(s)")
    const: Any = None
    parse: Literal["text", "datetime", "number", "integer"] = "text"
    formats: list[str] = Field(default_factory=list, description="datetime formats to try")
    values: dict[str, str | None] | None = Field(None, description="value map: source code -> canonical")
    join: str = Field("", description="separator when several source fields are concatenated")
    pii: PiiHandling | None = None


class SourceSpec(BaseModel):
    """One agency feed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    agency: str
    district_scope: str | None = None
    kind: CaseKind
    format: SourceFormat
    location: str
    encoding: str = "utf-8"
    delimiter: str = ","
    primary_key: str
    watermark: str | None = None
    schedule: str | None = "@daily"
    crs: str = "WGS84"
    timezone: str = "Asia/Shanghai"
    chunk_rows: int = Field(200_000, gt=0)
    fields: dict[str, FieldMap]
    options: dict[str, Any] = Field(default_factory=dict, description="reader-specific settings")

    @field_validator("crs")
    @classmethod
    def _crs(cls, value: str) -> str:
        return parse_crs(value)

    @field_validator("fields")
    @classmethod
    def _canonical_fields(cls, value: dict[str, FieldMap]) -> dict[str, FieldMap]:
        unknown = sorted(set(value) - set(CASE_COLUMNS))
        if unknown:
            raise ValueError(f"not canonical case fields: {unknown}; expected some of {sorted(CASE_COLUMNS)}")
        for required in ("source_record_id", "reported_at"):
            if required not in value:
                raise ValueError(f"a mapping for {required!r} is required")
        return value

    def resolve_location(self, data_dir: Path) -> str:
        """The location with {data_dir} filled in."""
        return self.location.format(data_dir=data_dir)


def load_spec(path: Path) -> SourceSpec:
    """Parse and validate one spec file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of spec fields, got {type(raw).__name__}")
    try:
        return SourceSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise SpecError(f"{path}: {problems}") from exc


def load_specs(folder: Path) -> dict[str, SourceSpec]:
    """Every spec in a folder, by name; two files with one name is an error."""
    if not folder.is_dir():
        raise SpecError(f"sources folder {folder} does not exist (set GRIDHUB_SOURCES_DIR)")
    specs: dict[str, SourceSpec] = {}
    for path in sorted(folder.glob("*.y*ml")):
        spec = load_spec(path)
        if spec.name in specs:
            raise SpecError(f"{path}: source name {spec.name!r} is already used by another spec")
        specs[spec.name] = spec
    return specs
