"""Fast bulk transfer of DataFrames into PostgreSQL with COPY (CSV written by pyarrow).

pyarrow's CSV writer is vectorised C++: it quotes every string and leaves nulls unquoted and
empty, which is exactly how PostgreSQL's CSV COPY tells an empty string from NULL.
"""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

_WRITE = pacsv.WriteOptions(include_header=False, batch_size=65_536, quoting_style="needed")


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY the frame's columns into table (same column names); returns the row count."""
    if frame.empty:
        return 0
    return copy_table(conn, table, pa.Table.from_pandas(_jsonable(frame), preserve_index=False))


def copy_table(conn: psycopg.Connection, table: str, rows: pa.Table) -> int:
    """COPY an Arrow table's columns into table (same column names); returns the row count."""
    if not len(rows):
        return 0
    sink = pa.BufferOutputStream()
    pacsv.write_csv(rows, sink, write_options=_WRITE)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, rows.column_names)))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(memoryview(sink.getvalue()))
    return len(rows)


def _jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns become one Arrow type: dicts and lists as JSON text, other values as text."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object or values.map(lambda v: v is None or isinstance(v, str)).all():
            continue
        if out is frame:
            out = frame.copy()
        out[column] = values.map(_as_text)
    return out


def _as_text(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
