"""Quality records in `quality_runs`, and the run history the batch gates compare against."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from core.errors import GridHubError
from quality.gates import RunFacts
from quality.records import QualityRecord

_READ_RECORD = ("SELECT run_id, source, suite, rows_evaluated, rows_passed, rows_failed,"
                " mapping_failed, oldest_reported_at, newest_reported_at, expectations, gates,"
                " success FROM quality_runs WHERE run_id = %s")


def read_record(conn: psycopg.Connection, run_id: int, lock: bool = False) -> QualityRecord | None:
    """The run's quality record, if it has one (locked for this transaction with lock)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_READ_RECORD + (" FOR UPDATE" if lock else ""), (run_id,)).fetchone()
    return QualityRecord(**row) if row else None


def save_record(conn: psycopg.Connection, r: QualityRecord) -> None:
    """Write the run's record (its gates are appended apart, by save_gates)."""
    conn.execute(
        "INSERT INTO quality_runs (run_id, source, suite, validated_at, rows_evaluated, rows_passed,"
        " rows_failed, mapping_failed, oldest_reported_at, newest_reported_at, expectations, success)"
        " VALUES (%(run_id)s, %(source)s, %(suite)s, now(), %(rows_evaluated)s, %(rows_passed)s,"
        " %(rows_failed)s, %(mapping_failed)s, %(oldest)s, %(newest)s, %(expectations)s, %(success)s)"
        " ON CONFLICT (run_id) DO UPDATE SET validated_at = now(),"
        " rows_evaluated = EXCLUDED.rows_evaluated, rows_passed = EXCLUDED.rows_passed,"
        " rows_failed = EXCLUDED.rows_failed, mapping_failed = EXCLUDED.mapping_failed,"
        " oldest_reported_at = EXCLUDED.oldest_reported_at,"
        " newest_reported_at = EXCLUDED.newest_reported_at,"
        " expectations = EXCLUDED.expectations, success = EXCLUDED.success",
        {"run_id": r.run_id, "source": r.source, "suite": r.suite,
         "rows_evaluated": r.rows_evaluated, "rows_passed": r.rows_passed,
         "rows_failed": r.rows_failed, "mapping_failed": r.mapping_failed,
         "oldest": r.oldest_reported_at, "newest": r.newest_reported_at,
         "expectations": Jsonb(r.expectations), "success": r.success})


# The run's tallies kept as {"what: detail": records}: `counts` (placeholder points, clock
# changes) and `defaulted` (source values that took the city taxonomy's default).
TALLIES = frozenset({"counts", "defaulted"})


def add_counts(conn: psycopg.Connection, run_id: int, counts: dict[str, int],
               tally: str = "counts") -> None:
    """Add a chunk's counts to its run's quality record in `tally` (TALLIES), key by key."""
    if tally not in TALLIES:
        raise ValueError(f"no tally {tally!r} in a quality record")
    if not counts:
        return
    conn.execute(sql.SQL(
        "UPDATE quality_runs q SET {tally} = (SELECT jsonb_object_agg(k, n) FROM ("
        " SELECT k, sum(n)::bigint AS n FROM ("
        "  SELECT key AS k, value::bigint AS n FROM jsonb_each_text(q.{tally})"
        "  UNION ALL SELECT key, value::bigint FROM jsonb_each_text(%s::jsonb)) u GROUP BY k) s)"
        " WHERE run_id = %s").format(tally=sql.Identifier(tally)), (Jsonb(counts), run_id))


def read_counts(conn: psycopg.Connection, run_id: int, tally: str = "counts") -> dict[str, int]:
    """The run's counts in `tally` (add_counts), empty when it has none or no record."""
    if tally not in TALLIES:
        raise ValueError(f"no tally {tally!r} in a quality record")
    row = conn.execute(sql.SQL("SELECT {} FROM quality_runs WHERE run_id = %s").format(
        sql.Identifier(tally)), (run_id,)).fetchone()
    return {k: int(v) for k, v in (row[0] if row else {}).items()}


def save_gates(conn: psycopg.Connection, run_id: int, gates: list[dict]) -> None:
    """Append gate outcomes to the run's record."""
    conn.execute("UPDATE quality_runs SET gates = gates || %s WHERE run_id = %s",
                 (Jsonb(gates), run_id))


def recent_records(conn: psycopg.Connection, source: str | None = None,
                   limit: int = 20) -> list[tuple[QualityRecord, dict]]:
    """Latest quality records (newest run first), each with its run's status and error."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT q.run_id, q.source, q.suite, q.rows_evaluated, q.rows_passed, q.rows_failed,"
            " q.mapping_failed, q.oldest_reported_at, q.newest_reported_at, q.expectations, q.gates,"
            " q.success, r.status, r.error, r.started_at, r.finished_at"
            " FROM quality_runs q JOIN ingest_runs r USING (run_id)"
            " WHERE (%(source)s::text IS NULL OR q.source = %(source)s)"
            " ORDER BY q.run_id DESC LIMIT %(limit)s", {"source": source, "limit": limit}).fetchall()
    run_keys = ("status", "error", "started_at", "finished_at")
    return [(QualityRecord(**{k: v for k, v in row.items() if k not in run_keys}),
             {k: row[k] for k in run_keys}) for row in rows]


def run_facts(conn: psycopg.Connection, run_id: int) -> RunFacts:
    """What the landing recorded about a run: its size, its source fields, whether a replay."""
    row = conn.execute(
        "SELECT records_read, coalesce(source_fields, '[]'::jsonb), params ? 'replay_of'"
        " FROM ingest_runs WHERE run_id = %s", (run_id,)).fetchone()
    if row is None:
        raise GridHubError(f"no ingest run {run_id}")
    return RunFacts(int(row[0]), list(row[1]), bool(row[2]))


def volume_history(conn: psycopg.Connection, source: str, run_id: int, runs: int) -> list[int]:
    """Record counts of the source's latest successful runs before this one that read anything
    (replays excluded): an incremental source's empty runs say nothing about its usual volume."""
    rows = conn.execute(
        "SELECT records_read FROM ingest_runs WHERE source = %s AND run_id < %s"
        " AND status = 'succeeded' AND records_read > 0 AND NOT params ? 'replay_of'"
        " ORDER BY run_id DESC LIMIT %s",
        (source, run_id, runs)).fetchall()
    return [int(r[0]) for r in rows]


def baseline_fields(conn: psycopg.Connection, source: str, run_id: int) -> list[str] | None:
    """The columns of the source's last successful run before this one, if any. A run that
    read nothing (a quiet interval, an empty backfill window) saw no columns: it is no baseline."""
    row = conn.execute(
        "SELECT source_fields FROM ingest_runs WHERE source = %s AND run_id < %s"
        " AND status = 'succeeded' AND source_fields IS NOT NULL AND records_read > 0"
        " AND NOT params ? 'replay_of'"
        " ORDER BY run_id DESC LIMIT 1", (source, run_id)).fetchone()
    return list(row[0]) if row else None
