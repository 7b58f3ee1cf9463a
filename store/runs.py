"""Ingest run records and per-source watermarks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

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


def start_run(url: str, source: str, params: dict | None = None) -> int:
    """Record a run as running, committed at once so a crash still leaves a trace."""
    with connect(url, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO ingest_runs (source, params) VALUES (%s, %s) RETURNING run_id",
            (source, json.dumps(params or {})),
        ).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, counts: RunCounts,
               watermark_from: str | None, watermark_to: str | None) -> None:
    """Mark the run succeeded, inside the transaction that commits its data."""
    conn.execute(
        "UPDATE ingest_runs SET status = 'succeeded', finished_at = now(), records_read = %s,"
        " loaded = %s, inserted = %s, updated = %s, quarantined = %s, duplicates = %s,"
        " watermark_from = %s, watermark_to = %s WHERE run_id = %s",
        (counts.records_read, counts.loaded, counts.inserted, counts.updated, counts.quarantined,
         counts.duplicates, watermark_from, watermark_to, run_id),
    )


def fail_run(url: str, run_id: int, status: str, error: str) -> None:
    """Mark the run failed (or stopped by a gate) with its error, in its own transaction."""
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ingest_runs SET status = %s, finished_at = now(), error = %s WHERE run_id = %s",
            (status, error, run_id),
        )


def get_watermark(conn: psycopg.Connection, source: str) -> str | None:
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
    with connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM ingest_runs WHERE run_id = %s", (run_id,)).fetchone()

