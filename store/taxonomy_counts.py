"""Counts of the values that took the city taxonomy's default, kept in the run's quality record."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb


def add_defaulted(conn: psycopg.Connection, run_id: int, counts: dict[str, int]) -> None:
    """Add a chunk's counts ("field: value" -> rows) to its run's quality record."""
    if not counts:
        return
    conn.execute(
        "UPDATE quality_runs q SET defaulted = (SELECT jsonb_object_agg(k, n) FROM ("
        " SELECT k, sum(n)::bigint AS n FROM ("
        "  SELECT key AS k, value::bigint AS n FROM jsonb_each_text(q.defaulted)"
        "  UNION ALL SELECT key, value::bigint FROM jsonb_each_text(%s::jsonb)) u GROUP BY k) s)"
        " WHERE run_id = %s", (Jsonb(counts), run_id))


def defaulted(conn: psycopg.Connection, run_id: int) -> dict[str, int]:
    """The run's values that took the default, with their row counts."""
    row = conn.execute("SELECT defaulted FROM quality_runs WHERE run_id = %s", (run_id,)).fetchone()
    return {k: int(v) for k, v in (row[0] if row else {}).items()}
