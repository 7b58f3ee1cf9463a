"""What every reader shares: its inputs, file globbing, and values turned into text."""

from __future__ import annotations

import datetime as dt
import glob
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import SourceError


@dataclass(frozen=True)
class ReadContext:
    """Where data lives, the variables for ${NAME} placeholders, and the stored watermark."""

    data_dir: Path
    variables: Mapping[str, str] = field(default_factory=dict)
    watermark: str | None = None
    limit: int | None = None  # stop after about this many records (sampling a source)


Reader = Callable[..., Iterator[pd.DataFrame]]


def input_files(spec, context: ReadContext) -> list[Path]:
    """The files a file-based spec names: one path, or every match of a glob, sorted."""
    location = spec.resolve_location(context.data_dir, context.variables)
    if glob.has_magic(location):
        paths = sorted(Path(p) for p in glob.glob(location))
        if not paths:
            raise SourceError(f"{spec.name}: no file matches {location}")
        return paths
    path = Path(location)
    if not path.exists():
        raise SourceError(f"{spec.name}: file not found: {path}")
    return [path]


def text_value(value: Any) -> str | None:
    """One source value as text: numbers in their shortest form, times in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str | None]:
    """Nested objects become dotted names ({"a": {"b": 1}} -> {"a.b": "1"}); values as text."""
    out: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = text_value(value)
    return out


def frame_of(records: list[dict[str, str | None]]) -> pd.DataFrame:
    """A chunk of text records as an object-dtype frame (columns in first-seen order)."""
    return pd.DataFrame.from_records(records).astype(object).where(lambda f: f.notna(), None)
