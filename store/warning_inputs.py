"""What early warning reads: daily rollups, the current area hierarchy, grid shapes, and the
case tallies behind the escalation signals (repeated places and parties)."""

from __future__ import annotations

import io
from datetime import date

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from core.case import AreaLevel

# The rollup_daily columns a count panel is built from (the frame read_rollups returns).
ROLLUP_COLUMNS = ("area_code", "level", "day", "kind", "category", "reported", "settled", "not_settled")
# Columns of place_counts: cases of one category at one place of a grid, in and before a window.
PLACE_COLUMNS = ("grid_code", "place", "category", "recent", "past")
# Columns of party_counts: one (hashed) person's cases about one community, and everywhere.
PARTY_COLUMNS = ("area_code", "person_key", "observed", "everywhere", "categories")


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
    """Daily rollup rows (ROLLUP_COLUMNS) with start <= day <= end (either may be None)."""
    # Only real kinds and categories: rows of '*' would be totals counted twice.
    query = sql.SQL(
        "SELECT {columns} FROM rollup_daily"
        " WHERE (%s::date IS NULL OR day >= %s::date) AND (%s::date IS NULL OR day <= %s::date)"
        " AND kind <> '*' AND category <> '*'"
    ).format(columns=sql.SQL(", ").join(map(sql.Identifier, ROLLUP_COLUMNS)))
    return _copy_out(conn, query, (start, start, end, end))


def last_rollup_day(conn: psycopg.Connection) -> date | None:
    """The last day with rollups, None while there are none."""
    return conn.execute("SELECT max(day) FROM rollup_daily").fetchone()[0]


def read_hierarchy(conn: psycopg.Connection) -> pd.DataFrame:
    """The current area hierarchy: code, level, parent_code."""
    return _copy_out(conn, sql.SQL("SELECT code, level, parent_code FROM areas WHERE valid_to IS NULL"), ())


def read_grid_shapes(conn: psycopg.Connection) -> gpd.GeoDataFrame:
    """Current grid cells: code and polygon (EPSG:4326)."""
    rows = conn.execute("SELECT code, ST_AsBinary(geom) FROM areas"
                        " WHERE valid_to IS NULL AND level = %s ORDER BY code",
                        (AreaLevel.GRID.value,)).fetchall()
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]},
                            geometry=shapely.from_wkb([bytes(r[1]) for r in rows]), crs="EPSG:4326")


def place_counts(conn: psycopg.Connection, history_start: date, window_start: date, day: date,
                 min_cases: int) -> pd.DataFrame:
    """Cases per (grid, place, category) from window_start to day (recent) and from
    history_start to the day before window_start (past), where recent >= min_cases
    (PLACE_COLUMNS). A place is the point snapped to about 10 m, or else the address text."""
    rows = conn.execute("""
        SELECT grid_code, place, category,
               count(*) FILTER (WHERE report_day >= %(window_start)s) AS recent,
               count(*) FILTER (WHERE report_day < %(window_start)s) AS past
        FROM (
            SELECT grid_code, category, report_day,
                   coalesce(ST_AsText(ST_SnapToGrid(geom, 0.0001)), lower(btrim(address))) AS place
            FROM cases
            WHERE grid_code IS NOT NULL AND report_day BETWEEN %(history_start)s AND %(day)s
        ) c
        WHERE place IS NOT NULL
        GROUP BY grid_code, place, category
        HAVING count(*) FILTER (WHERE report_day >= %(window_start)s) >= %(min_cases)s
        """, {"window_start": window_start, "history_start": history_start, "day": day,
              "min_cases": min_cases}).fetchall()
    return pd.DataFrame(rows, columns=list(PLACE_COLUMNS))


def party_counts(conn: psycopg.Connection, window_start: date, day: date) -> pd.DataFrame:
    """Cases of each (hashed) person per community from window_start to day, with the person's
    count over every community and the categories (PARTY_COLUMNS)."""
    rows = conn.execute("""
        SELECT community_code, person_key, count(*) AS here,
               sum(count(*)) OVER (PARTITION BY person_key) AS everywhere,
               array_agg(DISTINCT category ORDER BY category) AS categories
        FROM cases
        WHERE person_key IS NOT NULL AND report_day BETWEEN %s AND %s
        GROUP BY community_code, person_key
        """, (window_start, day)).fetchall()
    return pd.DataFrame(rows, columns=list(PARTY_COLUMNS))
