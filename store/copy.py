"""Fast bulk transfer of DataFrames into PostgreSQL with COPY (CSV text through psycopg)."""

from __future__ import annotations

import io
import json

import pandas as pd
import psycopg
from psycopg import sql

NULL = r"\N"


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY the frame's columns into table (same column names); returns the row count."""
    if frame.empty:
        return 0
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and out[column].map(lambda v: isinstance(v, dict | list)).any():
            out[column] = out[column].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep=NULL, date_format="%Y-%m-%d %H:%M:%S.%f%z")
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL {})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, out.columns)), sql.Literal(NULL))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(buffer.getvalue().encode("utf-8"))
    return len(out)
