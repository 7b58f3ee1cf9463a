"""Source specs: a feed is data, not code. One YAML file per feed, validated here.

A wrong spec raises SpecError naming the file, the field and what was expected. Text values
may hold `{data_dir}` and `${NAME}` / `${NAME:-default}` placeholders; the entry point hands
in the variables (environment, demo services), so secrets never sit in a YAML file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.case import CASE_COLUMNS, CaseKind
from core.crs import CrsName
from core.errors import ConfigError
from core.timezones import TimeZoneName
from core.yaml_files import load_model

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | list[str] | None = Field(None, alias="from", description="source field(s)")
    const: Any = None
    parse: Literal["text", "datetime", "number", "integer"] = "text"
    formats: list[str] = Field(
        default_factory=list,
        description="datetime formats tried in turn: strftime patterns, ISO8601, chinese,"
                    " epoch_ms, epoch_s, excel")
    values: dict[str, str | None] | None = Field(None, description="value map: source code -> canonical")
    join: str = Field("", description="separator when several source fields are concatenated")
    units: dict[str, float] = Field(
        default_factory=dict, description="number suffixes and their factors, e.g. 万元: 10000")
    pii: PiiHandling | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMap:
        if self.source is None and self.const is None:
            raise ValueError("give `from` (source field or list of fields) or `const`")
        if self.source is not None and self.const is not None:
            raise ValueError("give either `from` or `const`, not both")
        if self.units and self.parse not in ("number", "integer"):
            raise ValueError("`units` needs parse: number or integer")
        return self


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quotechar: str = '"'
    skip_rows: int = Field(0, ge=0, description="lines before the header")


class JsonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records_path: str | None = Field(None, description="dotted path to the list of records in a JSON document")


class XlsxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sheet: str | int = Field(0, description="sheet name or 0-based index")
    header_row: int = Field(1, ge=1, description="1-based row holding the column names")


class GeofileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str | int | None = None
    x_field: str = Field("_x", description="name given to the point's x coordinate")
    y_field: str = Field("_y", description="name given to the point's y coordinate")


class RestOptions(BaseModel):
    """A paged HTTP API: page numbers, offsets or cursors; an updated-since watermark."""

    model_config = ConfigDict(extra="forbid")
    paging: Literal["page", "offset", "cursor"] = "cursor"
    page_size: int = Field(1000, gt=0)
    size_param: str = "page_size"
    page_param: str = "page"
    first_page: int = 1
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_cursor_field: str = "next_cursor"
    records_field: str = "data"
    watermark_param: str | None = Field("updated_since", description="query parameter for the watermark")
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. an auth header")
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(5, ge=0, description="retries of one request on 429, 5xx and timeouts")
    backoff_s: float = Field(0.5, ge=0, description="first wait; doubles per retry")
    # Bounds of one read of the source: a server whose paging never ends stops with one line.
    max_pages: int = Field(100_000, gt=0, description="pages one run may read")
    max_bytes: int = Field(4 * 1024**3, gt=0, description="bytes (decoded) one run may read, all pages together")
    max_seconds: float = Field(6 * 3600, gt=0, description="seconds one run may spend reading")


class SqlOptions(BaseModel):
    """A table (or view) in another database, read incrementally on the watermark column."""

    model_config = ConfigDict(extra="forbid")
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    columns: list[str] | None = None


FORMAT_OPTIONS: dict[SourceFormat, type[BaseModel]] = {
    SourceFormat.CSV: CsvOptions, SourceFormat.JSON: JsonOptions, SourceFormat.JSONL: JsonOptions,
    SourceFormat.XLSX: XlsxOptions, SourceFormat.GEOFILE: GeofileOptions,
    SourceFormat.REST: RestOptions, SourceFormat.SQL: SqlOptions,
}


class SourceSpec(BaseModel):
    """One agency feed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    agency: str
    district_scope: str | None = Field(None, description="code of the district the feed covers, if one")
    kind: CaseKind
    format: SourceFormat
    location: str = Field(description="path or glob (with {data_dir}), URL, or SQLAlchemy URL")
    encoding: str = "utf-8"
    delimiter: str = ","
    primary_key: str
    watermark: str | None = Field(None, description="source field that grows when a record changes")
    schedule: str | None = "@daily"
    crs: CrsName = "WGS84"
    timezone: TimeZoneName = "Asia/Shanghai"
    chunk_rows: int = Field(200_000, gt=0)
    max_field_bytes: int = Field(
        64 * 1024, gt=0, description="bytes a mapped source value may hold; a record with a"
        " longer one is quarantined with the reason (its raw payload keeps the value)")
    placeholder_points: list[tuple[float, float]] = Field(
        default_factory=list,
        description="WGS84 [lon, lat] points the source uses for 'location unknown' (geo.placeholders)")
    fields: dict[str, FieldMap]
    options: dict[str, Any] = Field(default_factory=dict, description="reader-specific settings")
    quality: dict[str, Any] = Field(default_factory=dict, description="expectations and gates, read by quality/config.py")

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown text encoding {value!r} (e.g. utf-8, utf-8-sig, gbk, gb18030)") from exc
        return value

    @field_validator("placeholder_points")
    @classmethod
    def _lon_lat(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for lon, lat in value:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"[{lon}, {lat}] is not a WGS84 [lon, lat] point")
        return value

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

    @model_validator(mode="after")
    def _format_options(self) -> SourceSpec:
        model = FORMAT_OPTIONS[self.format]
        try:
            model.model_validate(self.options)
        except ValidationError as exc:
            detail = "; ".join(f"options.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{detail} (for format {self.format.value})") from None
        return self

    def reader_options(self) -> BaseModel:
        """The options, typed for this spec's format."""
        return FORMAT_OPTIONS[self.format].model_validate(self.options)

    def resolve_location(self, data_dir: Path, variables: Mapping[str, str] | None = None) -> str:
        """The location with {data_dir} and ${NAME} placeholders filled in."""
        return expand(self.location.replace("{data_dir}", str(data_dir)), variables, f"{self.name}.location")

    @property
    def source_fields(self) -> list[str]:
        """Every source field the mapping reads."""
        names: list[str] = []
        for fmap in self.fields.values():
            if fmap.source is not None:
                names.extend([fmap.source] if isinstance(fmap.source, str) else fmap.source)
        return list(dict.fromkeys(names))


def expand(text: str, variables: Mapping[str, str] | None, where: str) -> str:
    """Fill ${NAME} and ${NAME:-default} from variables; a missing one is an error naming it."""

    def fill(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if variables is not None and name in variables:
            return variables[name]
        if default is not None:
            return default
        raise SpecError(f"{where}: variable ${{{name}}} is not set (export it, or give a default"
                        f" as ${{{name}:-value}})")

    return _PLACEHOLDER.sub(fill, text)


def load_spec(path: Path) -> SourceSpec:
    """Parse and validate one spec file."""
    return load_model(path, SourceSpec, SpecError, "spec")


@dataclass(frozen=True)
class SpecFolder:
    """The specs of a folder that parse, by name, and why each other file does not (one line
    naming the file, the field and the reason): one bad file leaves the others usable."""

    specs: dict[str, SourceSpec]
    broken: dict[Path, str]


def read_spec_folder(folder: Path) -> SpecFolder:
    """Every spec file in a folder, parsed on its own."""
    if not folder.is_dir():
        raise SpecError(f"sources folder {folder} does not exist (set GRIDHUB_SOURCES_DIR)")
    specs: dict[str, SourceSpec] = {}
    broken: dict[Path, str] = {}
    for path in sorted(folder.glob("*.y*ml")):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            broken[path] = str(exc)
            continue
        if spec.name in specs:
            broken[path] = f"{path}: source name {spec.name!r} is already used by another spec"
            continue
        specs[spec.name] = spec
    return SpecFolder(specs, broken)


def load_specs(folder: Path) -> dict[str, SourceSpec]:
    """Every spec in a folder, by name; a broken file is an error (read_spec_folder keeps
    the others)."""
    found = read_spec_folder(folder)
    if found.broken:
        raise SpecError(next(iter(found.broken.values())))
    return found.specs
