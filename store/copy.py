"""Fast bulk transfer of DataFrames and Arrow tables into PostgreSQL with binary COPY.

Each column is cast to the Arrow type of its destination column (read from the catalog) and
encoded to PostgreSQL's binary COPY format by pgpq, in Rust, a batch at a time. The server
then stores the values as they are instead of parsing text.
"""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb
from psycopg import sql

# Destination types and the Arrow types their values are encoded from. numeric is left out on
# purpose: stage it as double precision and let the server round it into the column's scale.
_ARROW_TYPES = {
    "text": pa.string(), "character varying": pa.string(), "jsonb": pa.string(),
    "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(),
    "double precision": pa.float64(), "real": pa.float32(), "boolean": pa.bool_(),
    "date": pa.date32(), "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
}


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY the frame's columns into table (same column names); returns the row count."""
    if frame.empty:
        return 0
    return copy_table(conn, table, pa.table({name: _arrow_column(frame[name]) for name in frame.columns}))


def copy_table(conn: psycopg.Connection, table: str, rows: pa.Table) -> int:
    """COPY an Arrow table's columns into table (same column names); returns the row count."""
    types = column_types(conn, table)
    columns, encoders = {}, {}
    for name in rows.column_names:
        if name not in types:
            raise ValueError(f"COPY into {table}: it has no column {name!r}")
        arrow_type = _arrow_type(table, name, types[name])
        try:
            columns[name] = _cast(rows[name], arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ValueError(f"COPY into {table}: column {name!r} ({rows[name].type}) does not fit"
                             f" {types[name]}: {error}") from error
        field = pa.field(name, arrow_type)
        encoders[name] = (StringEncoderBuilder.new_with_output(field, Jsonb()) if types[name] == "jsonb"
                          else ArrowToPostgresBinaryEncoder.infer_encoder(field))
    if not len(rows):
        return 0
    cast = pa.table(columns)
    encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(cast.schema, encoders)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cast.column_names)))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(encoder.write_header())
        for batch in cast.to_batches(max_chunksize=65_536):
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())
    return len(rows)


def _cast(values: pa.ChunkedArray, arrow_type: pa.DataType) -> pa.ChunkedArray:
    # Arrow parses dates from text only without a time; ISO timestamps at midnight are common.
    if pa.types.is_date(arrow_type) and (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.timestamp("us"))
    return values.cast(arrow_type)


def column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """Each column of table (as the search path finds it, temporary tables first) -> its type."""
    return dict(conn.execute(
        "SELECT attname, atttypid::regtype::text FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (table,)).fetchall())


def _arrow_type(table: str, column: str, pg_type: str) -> pa.DataType:
    element = pg_type.removesuffix("[]")
    if element not in _ARROW_TYPES or (element != pg_type and element == "jsonb"):
        raise ValueError(f"COPY into {table}: column {column!r} is {pg_type}, which binary COPY"
                         f" here does not encode (supported: {', '.join(_ARROW_TYPES)} and their arrays)")
    scalar = _ARROW_TYPES[element]
    return scalar if element == pg_type else pa.list_(scalar)


def _arrow_column(values: pd.Series) -> pa.Array:
    """A frame's column as Arrow: dicts and lists as JSON text, mixed objects Arrow cannot type
    as text (the cast to the destination type then parses them)."""
    if values.dtype == object and values.map(lambda v: isinstance(v, dict | list)).any():
        return pa.array(values.map(_as_text), pa.string())
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array(values.map(_as_text), pa.string())


def _as_text(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
