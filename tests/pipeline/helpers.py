"""Small database helpers for tests that compare what loads leave behind."""

from __future__ import annotations

import psycopg
from psycopg import sql


def scalar(url: str, query: str, params: tuple = ()):
    """One value from the database."""
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def ingest_state(url: str) -> dict:
    """What a user would compare: cases, quarantine, rollups and raw landing, ids left out.

    Cases and quarantined rows carry the content hash of the raw record they link to.
    """
    return {
        "cases": rows(url, "SELECT c.source, c.source_record_id, c.record_hash, c.status, c.category,"
                           " c.grid_code, c.geocode_method, c.reported_at, c.amount, r.content_hash"
                           " FROM cases c LEFT JOIN raw_records r USING (raw_id) ORDER BY 1, 2"),
        # Reasons by check (their messages may quote the clock, e.g. "in the future (after ...)").
        "quarantine": rows(url, "SELECT q.source, q.source_record_id, r.content_hash,"
                                " jsonb_path_query_array(q.reasons, '$[*].check')::text"
                                " FROM quarantine q LEFT JOIN raw_records r USING (raw_id)"
                                " WHERE q.released_at IS NULL ORDER BY 1, 2, 3, 4"),
        "rollups": rows(url, "SELECT area_code, day, kind, category, reported, resolved, closed"
                             " FROM rollup_daily ORDER BY 1, 2, 3, 4"),
        "raw": rows(url, "SELECT source, content_hash, payload::text FROM raw_records ORDER BY 1, 2"),
        "watermark": rows(url, "SELECT source, watermark FROM source_state ORDER BY 1"),
    }


def rollup_rows(conn: psycopg.Connection) -> dict[str, set[str]]:
    """Every rollup row as text, hour sums rounded (float addition order may differ)."""
    return {table: {r[0] for r in conn.execute(sql.SQL(
        "SELECT (to_jsonb(t) || jsonb_build_object('close_hours_sum',"
        " round((to_jsonb(t)->>'close_hours_sum')::numeric, 6)))::text FROM {} t").format(
        sql.Identifier(table)))}
        for table in ("rollup_daily", "rollup_closed_daily", "rollup_monthly")}
