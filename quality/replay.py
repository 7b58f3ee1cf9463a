"""Replay: put a source's open quarantine rows into a new run, so that the pipeline processes
them again with the spec and suite as they are now.

The replay run is an ordinary landed run (its records linked in run_records) marked by
params.replay_of; gates do not judge it (its size says nothing about the source), and each
of its rows that passes leaves quarantine in the transaction that loads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from quality.quarantine import release_superseded


@dataclass(frozen=True)
class ReplayPlan:
    run_id: int
    records: int  # raw records linked into the replay run
    superseded: int  # released without loading: a newer version of their record is loaded
    fields: list[str]  # source fields the linked records carry


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
