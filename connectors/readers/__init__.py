"""Readers: one generic reader per format, each yielding the source's records in chunks.

Every chunk is a DataFrame of the source's own fields as text (nothing parsed yet; nested
objects flattened to dotted names), with a `_position` column numbering records from 0
across the whole input, so raw landing and quarantine can point back at exactly one record.
Memory stays flat: no reader holds more than one chunk (or one file of a multi-file glob),
and a sample (ReadContext.limit) reads no further than the rows it asks for. A record a
reader cannot read (a line that is not JSON, ...) comes as an unreadable record (base.READ_PROBLEM):
it is quarantined with its reason while the rest of the input loads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from connectors.readers.base import ReadContext, Reader
from connectors.readers.csv import read_csv
from connectors.readers.geofile import read_geofile
from connectors.readers.json import read_json, read_jsonl
from connectors.readers.rest import read_rest
from connectors.readers.sqltable import read_sql
from connectors.readers.xlsx import read_xlsx
from connectors.spec import SourceFormat, SourceSpec
from core.errors import SourceError

POSITION = "_position"

READERS: dict[SourceFormat, Reader] = {
    SourceFormat.CSV: read_csv,
    SourceFormat.JSON: read_json,
    SourceFormat.JSONL: read_jsonl,
    SourceFormat.XLSX: read_xlsx,
    SourceFormat.GEOFILE: read_geofile,
    SourceFormat.REST: read_rest,
    SourceFormat.SQL: read_sql,
}


def read_chunks(spec: SourceSpec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """The source's records in chunks, numbered with POSITION."""
    reader = READERS.get(spec.format)
    if reader is None:
        raise SourceError(f"{spec.name}: no reader for format {spec.format!r}")
    position = 0
    for chunk in reader(spec, context):
        if chunk.empty:
            continue
        if context.limit is not None:
            chunk = chunk.head(context.limit - position)
        chunk = chunk.reset_index(drop=True)
        chunk[POSITION] = range(position, position + len(chunk))
        position += len(chunk)
        yield chunk
        if context.limit is not None and position >= context.limit:
            return


__all__ = ["POSITION", "READERS", "ReadContext", "read_chunks"]
