"""Ingest run records and per-source watermarks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

from store import locks
from store.db import connect


@dataclass
class RunCounts:
    records_read: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated

    def adds_up(self) -> bool:
        """Nothing lost: read = loaded + quarantined + duplicates."""
        return self.records_read == self.loaded + self.quarantined + self.duplicates


# Marks a run whose landing and load one process does at once (the CLI's ingest, a replay):
# once that process is gone, nothing will finish it.
SINGLE_PROCESS = "single_process"
ORPHANED = ("interrupted: the process running it ended before it finished (killed, or its"
            " database connection was lost); run the source again")


def start_run(conn: psycopg.Connection, source: str, params: dict | None = None) -> int:
    """Record a run as running, committed at once so a crash still leaves a trace; conn holds
    the run's lock (store.locks.run_lock) from that statement on until it closes."""
    run_id = conn.execute(
        "WITH run AS (INSERT INTO ingest_runs (source, params) VALUES (%s, %s) RETURNING run_id)"
        " SELECT run_id, pg_advisory_lock(%s, hashtext(%s || run_id)) FROM run",
        (source, json.dumps(params or {}), locks.NAMESPACE, locks.run_lock("")),
    ).fetchone()[0]
    conn.commit()
    return run_id


def reap_orphans(conn: psycopg.Connection) -> list[tuple[int, str]]:
    """Mark failed every running run whose process is gone (no session holds its run lock):
    a landing, or a single-process run at any step. A landed run waiting for a separate
    process step (Airflow's) is left to it. Returns (run_id, source) of each run reaped."""
    return conn.execute(
        "UPDATE ingest_runs r SET status = 'failed', finished_at = now(), error = %(error)s"
        " WHERE status = 'running'"
        " AND (landed_at IS NULL OR coalesce((params->>%(single)s)::boolean, false))"
        " AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
        "  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "  AND l.classid = %(namespace)s::oid AND l.objsubid = 2"
        "  AND l.objid = hashtext(%(prefix)s || r.run_id)::oid)"
        " RETURNING run_id, source",
        {"error": ORPHANED, "single": SINGLE_PROCESS, "namespace": locks.NAMESPACE,
         "prefix": locks.run_lock("")}).fetchall()


def mark_landed(conn: psycopg.Connection, run_id: int, records_read: int, fields: list[str],
                watermark_from: str | None, watermark_to: str | None) -> None:
    """Record a complete landing (in the landing's transaction): count, fields, watermarks."""
    conn.execute(
        "UPDATE ingest_runs SET landed_at = clock_timestamp(), records_read = %s, source_fields = %s,"
        " watermark_from = %s, watermark_to = %s WHERE run_id = %s",
        (records_read, json.dumps(fields, ensure_ascii=False), watermark_from, watermark_to, run_id),
    )


def landed_run(conn: psycopg.Connection, run_id: int) -> dict | None:
    """The run's source, status, landing time, record count, fields and watermarks."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT source, status, landed_at, records_read, coalesce(source_fields, '[]') AS"
            " source_fields, watermark_from, watermark_to FROM ingest_runs WHERE run_id = %s",
            (run_id,)).fetchone()


def later_succeeded_run(conn: psycopg.Connection, source: str, run_id: int) -> int | None:
    """A run of the source newer than run_id that already succeeded, if any."""
    row = conn.execute(
        "SELECT max(run_id) FROM ingest_runs WHERE source = %s AND run_id > %s"
        " AND status = 'succeeded'", (source, run_id)).fetchone()
    return row[0]


def interrupt_stale(conn: psycopg.Connection, source: str, run_id: int) -> int:
    """Mark older runs of the source still 'running' as failed: killed mid-way, or overtaken.

    Called under the source's lock by a new landing, which re-reads everything they would
    have loaded (the watermark has not moved past them).
    """
    cur = conn.execute(
        "UPDATE ingest_runs SET status = 'failed', finished_at = now(),"
        " error = 'interrupted: stopped before it finished; run ' || %s || ' replaces it'"
        " WHERE source = %s AND run_id < %s AND status = 'running'",
        (str(run_id), source, run_id))
    return cur.rowcount


def reopen_failed(conn: psycopg.Connection, source: str, run_id: int) -> bool:
    """Make a landed run that failed while processing running again, unless a later run of the
    source is running or has succeeded; the earlier error is kept, marked retried."""
    return conn.execute(
        "UPDATE ingest_runs SET status = 'running', finished_at = NULL,"
        " error = 'retried after: ' || coalesce(error, 'no error recorded')"
        " WHERE run_id = %(run)s AND source = %(source)s AND status = 'failed'"
        " AND landed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ingest_runs later"
        "  WHERE later.source = %(source)s AND later.run_id > %(run)s"
        "  AND later.status IN ('running', 'succeeded'))",
        {"run": run_id, "source": source}).rowcount == 1


def older_incremental_waiting(conn: psycopg.Connection, source: str, run_id: int) -> int | None:
    """The oldest incremental (not windowed) run of the source before run_id that is landed and
    still waits to load, if any."""
    return conn.execute(
        "SELECT min(run_id) FROM ingest_runs WHERE source = %s AND run_id < %s"
        " AND status = 'running' AND landed_at IS NOT NULL AND NOT params ? 'window'",
        (source, run_id)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, counts: RunCounts) -> None:
    """Mark the run succeeded, inside the transaction that commits its data."""
    conn.execute(
        "UPDATE ingest_runs SET status = 'succeeded', finished_at = now(), records_read = %s,"
        " loaded = %s, inserted = %s, updated = %s, quarantined = %s, duplicates = %s"
        " WHERE run_id = %s",
        (counts.records_read, counts.loaded, counts.inserted, counts.updated, counts.quarantined,
         counts.duplicates, run_id),
    )


def fail_run(url: str, run_id: int, status: str, error: str) -> None:
    """Mark the run failed (or stopped by a gate) with its error, in its own transaction."""
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ingest_runs SET status = %s, finished_at = now(), error = %s WHERE run_id = %s",
            (status, error, run_id),
        )


def get_watermark(conn: psycopg.Connection, source: str) -> str | None:
    """The source's watermark as of its last committed run."""
    row = conn.execute("SELECT watermark FROM source_state WHERE source = %s", (source,)).fetchone()
    return row[0] if row else None


def set_watermark(conn: psycopg.Connection, source: str, watermark: str | None, run_id: int) -> None:
    """Advance the watermark; called in the run's own transaction so it moves only on commit."""
    conn.execute(
        "INSERT INTO source_state (source, watermark, last_run_id, updated_at)"
        " VALUES (%s, %s, %s, now()) ON CONFLICT (source) DO UPDATE SET"
        " watermark = coalesce(EXCLUDED.watermark, source_state.watermark),"
        " last_run_id = EXCLUDED.last_run_id, updated_at = now()",
        (source, watermark, run_id),
    )


def run_record(url: str, run_id: int) -> dict:
    """The whole ingest_runs row of a run."""
    with connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM ingest_runs WHERE run_id = %s", (run_id,)).fetchone()



def recent_runs(conn: psycopg.Connection, source: str | None = None, limit: int = 20) -> list[dict]:
    """The newest ingest runs (of one source, if given): status, times, counts and error."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT run_id, source, status, started_at, finished_at, records_read, loaded,"
            " quarantined, duplicates, error FROM ingest_runs"
            " WHERE %(source)s::text IS NULL OR source = %(source)s"
            " ORDER BY run_id DESC LIMIT %(limit)s", {"source": source, "limit": limit}).fetchall()
