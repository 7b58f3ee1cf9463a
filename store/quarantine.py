"""The quarantine: what waits there and why, letting rows out exactly once, and linking them
into a replay run.

A row leaves quarantine when a replay loads it (released_run_id names the replay run), or
when a newer version of its record was loaded meanwhile (it is released with a note, not
loaded). `released_at IS NULL` in every update makes a second release impossible. A replay
run is an ordinary landed run (its records linked in run_records) marked by
params.replay_of.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row


@dataclass
class QuarantinedRow:
    quarantine_id: int
    source: str
    source_record_id: str | None
    run_id: int
    raw_id: int | None
    reasons: list[dict]
    quarantined_at: datetime
    released_at: datetime | None
    released_run_id: int | None
    release_note: str | None


@dataclass(frozen=True)
class ReplayPlan:
    run_id: int
    records: int  # raw records linked into the replay run
    superseded: int  # released without loading: a newer version of their record is loaded
    fields: list[str]  # source fields the linked records carry


def list_quarantined(conn: psycopg.Connection, source: str | None = None, reason: str | None = None,
                     run_id: int | None = None, include_released: bool = False,
                     limit: int = 100) -> list[QuarantinedRow]:
    """Rows in quarantine, newest first; reason matches a check name or part of a message."""
    with conn.cursor(row_factory=class_row(QuarantinedRow)) as cur:
        return cur.execute(
            "SELECT quarantine_id, source, source_record_id, run_id, raw_id, reasons,"
            " quarantined_at, released_at, released_run_id, release_note FROM quarantine q"
            " WHERE (%(source)s::text IS NULL OR source = %(source)s)"
            " AND (%(run)s::bigint IS NULL OR run_id = %(run)s)"
            " AND (%(released)s OR released_at IS NULL)"
            " AND (%(reason)s::text IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(q.reasons) r"
            "      WHERE r->>'check' = %(reason)s OR r->>'message' ILIKE '%%' || %(reason)s || '%%'))"
            " ORDER BY quarantine_id DESC LIMIT %(limit)s",
            {"source": source, "run": run_id, "released": include_released, "reason": reason,
             "limit": limit}).fetchall()


def count_by_reason(conn: psycopg.Connection, source: str | None = None) -> list[tuple[str, str, int]]:
    """(source, check, open rows) for every reason that holds rows in quarantine."""
    return conn.execute(
        "SELECT q.source, r->>'check' AS check_name, count(DISTINCT q.quarantine_id)"
        " FROM quarantine q, jsonb_array_elements(q.reasons) r"
        " WHERE q.released_at IS NULL AND (%(source)s::text IS NULL OR q.source = %(source)s)"
        " GROUP BY 1, 2 ORDER BY 1, 3 DESC", {"source": source}).fetchall()


def open_rows(conn: psycopg.Connection, source: str, run_id: int | None = None) -> int:
    """How many of the source's rows (of one run, if given) wait in quarantine."""
    return conn.execute(
        "SELECT count(*) FROM quarantine WHERE source = %(source)s AND released_at IS NULL"
        " AND (%(run)s::bigint IS NULL OR run_id = %(run)s)",
        {"source": source, "run": run_id}).fetchone()[0]


def released_by(conn: psycopg.Connection, run_id: int) -> int:
    """How many rows the replay run run_id loaded out of quarantine."""
    return conn.execute(
        "SELECT count(*) FROM quarantine WHERE released_run_id = %s AND release_note IS NULL",
        (run_id,)).fetchone()[0]


def release_loaded(conn: psycopg.Connection, source: str, run_id: int, raw_ids: Iterable[int]) -> int:
    """Release the open quarantine rows of these raw records: replay run run_id loads them."""
    ids = [int(i) for i in raw_ids]
    if not ids:
        return 0
    return conn.execute(
        "UPDATE quarantine SET released_at = now(), released_run_id = %s"
        " WHERE source = %s AND released_at IS NULL AND raw_id = ANY(%s)",
        (run_id, source, ids)).rowcount


def release_superseded(conn: psycopg.Connection, source: str, run_id: int,
                       quarantine_ids: Iterable[int]) -> int:
    """Release rows whose record a later run has loaded in a newer version; they are not loaded."""
    ids = [int(i) for i in quarantine_ids]
    if not ids:
        return 0
    return conn.execute(
        "UPDATE quarantine q SET released_at = now(), released_run_id = %s,"
        " release_note = 'superseded: run ' || c.run_id || ' loaded a newer version of the record'"
        " FROM cases c WHERE q.quarantine_id = ANY(%s) AND q.released_at IS NULL"
        " AND c.source = q.source AND c.source_record_id = q.source_record_id AND q.source = %s",
        (run_id, ids, source)).rowcount


def link_replay(conn: psycopg.Connection, source: str, run_id: int,
                of_run: int | None = None) -> ReplayPlan:
    """Link the open quarantine rows of a source (of one run, if given) into replay run run_id."""
    params = {"source": source, "of_run": of_run, "run_id": run_id}
    superseded = [r[0] for r in conn.execute(
        "SELECT q.quarantine_id FROM quarantine q JOIN cases c"
        " ON c.source = q.source AND c.source_record_id = q.source_record_id"
        " WHERE q.source = %(source)s AND q.released_at IS NULL AND q.raw_id IS NOT NULL"
        " AND (%(of_run)s::bigint IS NULL OR q.run_id = %(of_run)s) AND c.run_id > q.run_id",
        params).fetchall()]
    released = release_superseded(conn, source, run_id, superseded)
    linked = conn.execute(
        "INSERT INTO run_records (run_id, position, raw_id)"
        " SELECT %(run_id)s, row_number() OVER (ORDER BY q.run_id, r.position, q.raw_id) - 1,"
        " q.raw_id FROM quarantine q JOIN raw_records r USING (raw_id)"
        " WHERE q.source = %(source)s AND q.released_at IS NULL"
        " AND (%(of_run)s::bigint IS NULL OR q.run_id = %(of_run)s)", params).rowcount
    fields = [r[0] for r in conn.execute(
        "SELECT DISTINCT k FROM run_records rr JOIN raw_records r USING (raw_id),"
        " json_object_keys(r.payload) AS k WHERE rr.run_id = %s ORDER BY k", (run_id,)).fetchall()]
    return ReplayPlan(run_id, linked, released, fields)
