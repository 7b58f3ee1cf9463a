"""Reading what the detectors need from PostGIS: rollups, the area hierarchy, grid shapes."""

from __future__ import annotations

import io
from datetime import date, timedelta

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from alerts.panel import ROLLUP_COLUMNS, CountPanel, build_panel
from core.case import AreaLevel
from core.errors import NotFoundError


def _copy_out(conn: psycopg.Connection, query: sql.Composable, params: tuple) -> pd.DataFrame:
    """Run a SELECT through COPY ... TO STDOUT (CSV with header) into a DataFrame."""
    buffer = io.BytesIO()
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"area_code": str, "code": str, "parent_code": str})


def read_rollups(conn: psycopg.Connection, start: date | None, end: date | None) -> pd.DataFrame:
    """Daily rollup rows (panel.ROLLUP_COLUMNS) with start <= day <= end (either may be None)."""
    # Only real kinds and categories: rows of '*' would be totals counted twice.
    query = sql.SQL(
        "SELECT {columns} FROM rollup_daily"
        " WHERE (%s::date IS NULL OR day >= %s::date) AND (%s::date IS NULL OR day <= %s::date)"
        " AND kind <> '*' AND category <> '*'"
    ).format(columns=sql.SQL(", ").join(map(sql.Identifier, ROLLUP_COLUMNS)))
    return _copy_out(conn, query, (start, start, end, end))


def read_areas(conn: psycopg.Connection) -> pd.DataFrame:
    """The current hierarchy: code, level, parent_code."""
    return _copy_out(conn, sql.SQL("SELECT code, level, parent_code FROM areas WHERE valid_to IS NULL"), ())


def read_grid_shapes(conn: psycopg.Connection) -> gpd.GeoDataFrame:
    """Current grid cells: code and polygon (EPSG:4326)."""
    rows = conn.execute("SELECT code, ST_AsBinary(geom) FROM areas"
                        " WHERE valid_to IS NULL AND level = %s ORDER BY code",
                        (AreaLevel.GRID.value,)).fetchall()
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]},
                            geometry=shapely.from_wkb([bytes(r[1]) for r in rows]), crs="EPSG:4326")


def last_rollup_day(conn: psycopg.Connection) -> date | None:
    return conn.execute("SELECT max(day) FROM rollup_daily").fetchone()[0]


def load_panel(conn: psycopg.Connection, end: date | None = None,
               history_days: int | None = None) -> CountPanel:
    """The count panel up to `end` (default: the last rollup day), over history_days at most."""
    end = end or last_rollup_day(conn)
    if end is None:
        raise NotFoundError("rollup_daily is empty: ingest some data first")
    start = end - timedelta(days=history_days - 1) if history_days else None
    rollups = read_rollups(conn, start, end)
    if rollups.empty:
        raise NotFoundError(f"no rollup rows on or before {end}")
    return build_panel(rollups, read_areas(conn), end=end, start=start)
