"""Daily rollups per area (every level) x day x kind x category.

After a load only the (area, day) pairs in touched_days are recomputed; `rebuild` recomputes
everything (after a boundary change, say).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from core.case import AreaLevel

_AGGREGATES = sql.SQL("""
    count(*),
    count(*) FILTER (WHERE c.status IN ('resolved', 'closed')),
    count(*) FILTER (WHERE c.status = 'in_mediation'),
    count(*) FILTER (WHERE c.outcome = 'settled'),
    count(*) FILTER (WHERE c.outcome = 'not_settled'),
    count(*) FILTER (WHERE c.closed_at IS NOT NULL),
    coalesce(sum(extract(epoch FROM c.closed_at - c.reported_at) / 3600.0)
             FILTER (WHERE c.closed_at IS NOT NULL), 0)""")


def refresh_touched(conn: psycopg.Connection) -> int:
    """Recompute rollup rows for the pairs in the temp table touched_days; returns rows written."""
    exists = conn.execute("SELECT to_regclass('pg_temp.touched_days')").fetchone()[0]
    if exists is None:
        return 0
    written = 0
    for level in AreaLevel:
        column = sql.Identifier(level.code_column)
        conn.execute(sql.SQL(
            "CREATE TEMP TABLE touched_pairs ON COMMIT DROP AS"
            " SELECT DISTINCT {col} AS code, day FROM touched_days WHERE {col} IS NOT NULL"
        ).format(col=column))
        conn.execute("DELETE FROM rollup_daily r USING touched_pairs t"
                     " WHERE r.area_code = t.code AND r.day = t.day")
        cur = conn.execute(sql.SQL(
            "INSERT INTO rollup_daily (area_code, level, day, kind, category, reported, resolved,"
            " in_mediation, settled, not_settled, closed, close_hours_sum)"
            " SELECT c.{col}, %s, c.report_day, c.kind, c.category, {agg}"
            " FROM cases c JOIN touched_pairs t ON c.{col} = t.code AND c.report_day = t.day"
            " GROUP BY c.{col}, c.report_day, c.kind, c.category"
        ).format(col=column, agg=_AGGREGATES), (level.value,))
        written += cur.rowcount
        conn.execute("DROP TABLE touched_pairs")
    conn.execute("TRUNCATE touched_days")
    return written


def rebuild(conn: psycopg.Connection) -> int:
    """Recompute every rollup row from cases."""
    conn.execute("TRUNCATE rollup_daily")
    written = 0
    for level in AreaLevel:
        column = sql.Identifier(level.code_column)
        cur = conn.execute(sql.SQL(
            "INSERT INTO rollup_daily (area_code, level, day, kind, category, reported, resolved,"
            " in_mediation, settled, not_settled, closed, close_hours_sum)"
            " SELECT c.{col}, %s, c.report_day, c.kind, c.category, {agg}"
            " FROM cases c WHERE c.{col} IS NOT NULL"
            " GROUP BY c.{col}, c.report_day, c.kind, c.category"
        ).format(col=column, agg=_AGGREGATES), (level.value,))
        written += cur.rowcount
    return written
