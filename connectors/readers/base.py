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

# Columns a reader fills for a record it could not read (a line that is not JSON, text not in
# the spec's encoding, nesting too deep): why, and the record's text as read. Such a record is
# landed and quarantined with that reason; the rest of its file loads.
READ_PROBLEM = "_read_problem"
RAW_TEXT = "_raw_text"
READER_COLUMNS = (READ_PROBLEM, RAW_TEXT)
# Deeper objects are no case's fields; refusing them keeps flatten's recursion bounded.
MAX_NESTING = 32


class NestingError(ValueError):
    """A record nests objects deeper than MAX_NESTING."""


@dataclass(frozen=True)
class ReadContext:
    """Where data lives, the variables for ${NAME} placeholders, and the stored watermark."""

    data_dir: Path
    variables: Mapping[str, str] = field(default_factory=dict)
    watermark: str | None = None
    limit: int | None = None  # stop after about this many records (sampling a source)


Reader = Callable[..., Iterator[pd.DataFrame]]


def batch_rows(spec, context: ReadContext) -> int:
    """Records per chunk: the spec's chunk_rows, or fewer when a sample asks for fewer (so a
    sample never parses more of its input than the rows it shows)."""
    if context.limit is None:
        return spec.chunk_rows
    return max(1, min(spec.chunk_rows, context.limit))


def unreadable(problem: str, text: str | None) -> dict[str, str | None]:
    """The record of a reader that could not read one: its problem and its text as read."""
    return {READ_PROBLEM: problem, RAW_TEXT: text}


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


def flatten(record: Mapping[str, Any], prefix: str = "", depth: int = 1) -> dict[str, str | None]:
    """Nested objects become dotted names ({"a": {"b": 1}} -> {"a.b": "1"}); values as text.

    Raises NestingError for objects nested deeper than MAX_NESTING.
    """
    if depth > MAX_NESTING:
        raise NestingError(f"objects nested deeper than {MAX_NESTING} levels (at {prefix.rstrip('.')!r})")
    out: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + ".", depth + 1))
        else:
            out[name] = text_value(value)
    return out


def record_fields(record: Any, where: str, text: str | None = None) -> dict[str, str | None]:
    """A parsed record (a JSON object) flattened; else an unreadable record saying why, with
    its text (given, or the record dumped as JSON)."""
    if not isinstance(record, Mapping):
        return unreadable(f"{where} is a JSON {type(record).__name__}, not an object",
                          text or _dumped(record))
    try:
        return flatten(record)
    except (NestingError, RecursionError) as exc:  # RecursionError: lists nested too deep
        reason = exc if isinstance(exc, NestingError) else "arrays nested too deep"
        return unreadable(f"{where}: {reason}", text or _dumped(record))


def _dumped(record: Any) -> str | None:
    import json

    try:
        return json.dumps(record, ensure_ascii=False)
    except (RecursionError, TypeError, ValueError):
        return None


def frame_of(records: list[dict[str, str | None]]) -> pd.DataFrame:
    """A chunk of text records as an object-dtype frame (columns in first-seen order)."""
    return pd.DataFrame.from_records(records).astype(object).where(lambda f: f.notna(), None)
