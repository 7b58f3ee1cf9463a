"""Readers: one generic reader per format, each yielding the source's records in chunks.

Every chunk is a DataFrame of the source's own fields as text (nothing parsed yet), with a
`_position` column numbering records from 0 across the whole input, so raw landing and
quarantine can point back at exactly one record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from connectors.spec import SourceFormat, SourceSpec
from core.errors import SourceError

POSITION = "_position"
Reader = Callable[[SourceSpec, Path, str | None], Iterator[pd.DataFrame]]


def read_csv(spec: SourceSpec, data_dir: Path, watermark: str | None) -> Iterator[pd.DataFrame]:
    """CSV in any Python codec (UTF-8, UTF-8 with BOM, GBK, GB18030), quoted newlines allowed."""
    path = Path(spec.resolve_location(data_dir))
    encoding = "utf-8-sig" if spec.encoding.lower() in ("utf-8", "utf8") else spec.encoding
    try:
        chunks = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding,
                             sep=spec.delimiter, chunksize=spec.chunk_rows, engine="c")
        yield from chunks
    except FileNotFoundError as exc:
        raise SourceError(f"{spec.name}: file not found: {path}") from exc
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise SourceError(f"{spec.name}: cannot parse {path} as {spec.encoding} CSV: {exc}") from exc


READERS: dict[SourceFormat, Reader] = {SourceFormat.CSV: read_csv}


def read_chunks(spec: SourceSpec, data_dir: Path, watermark: str | None = None) -> Iterator[pd.DataFrame]:
    """The source's records in chunks, numbered with POSITION."""
    reader = READERS.get(spec.format)
    if reader is None:
        raise SourceError(f"{spec.name}: no reader for format {spec.format!r}")
    position = 0
    for chunk in reader(spec, data_dir, watermark):
        chunk = chunk.reset_index(drop=True)
        chunk[POSITION] = range(position, position + len(chunk))
        position += len(chunk)
        yield chunk
