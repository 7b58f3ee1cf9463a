"""GridHub's advisory locks: one key space, each lock named for the invariant it protects.

Every lock is the pair (NAMESPACE, hashtext(name)), so GridHub's locks never meet another
application's on a shared server, and a lock is read in `pg_locks` as (7160, hash of name).

| lock | held by | protects |
|---|---|---|
| `run:<run_id>` | the connection that started the run, for its whole life (session; taken in the statement that records the run) | a `running` run whose lock nobody holds lost its process: the reaper (`store.runs.reap_orphans`) marks it failed |
| `ingest:<source>` | landing, processing, backfill windows, replays, reopening a failed run of that source (transaction) | one run of a source moves at a time: its watermark advances in run order and no two runs land or load the same records at once |
| `cases-writer` | the scheduler's loads, rollup refreshes, boundary loads (session, on a connection of its own) | one writer of cases and rollups among the tasks that may run in parallel: two refreshes of one rollup row would end in a unique violation |
| `rollups` | every rollup refresh and rebuild (transaction) | a refresh recounts with the previous refresh's cases visible, so two ingests never write the same rollup rows at once |
| `alerts` | the alert lifecycle of a warning run (transaction) | at most one open alert per area and signal |
| `links` | a linking run (transaction) | two runs never give one dispute two groups: each sees the groups the last one committed |
| `migrations` | schema migrations (session) | two processes never migrate at once |
| `partitions:<table>` | making a new month of a partitioned table (transaction; taken in SQL by `gridhub_month_partitions`, migration 0625) | two ingests that need the same new month take turns instead of one failing on the other's table |

Transaction locks end with the transaction; a session lock goes with its connection, so a
killed worker never leaves one behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

NAMESPACE = 7160

CASES_WRITER = "cases-writer"
ROLLUPS = "rollups"
ALERTS = "alerts"
LINKS = "links"
MIGRATIONS = "migrations"


def source_lock(source: str) -> str:
    """The name of the lock that one run of `source` holds at a time."""
    return f"ingest:{source}"


def run_lock(run_id: int | str) -> str:
    """The name of the lock that the process of a run holds while the run lives."""
    return f"run:{run_id}"


def hold_for_transaction(conn: psycopg.Connection, name: str) -> None:
    """Wait for the lock `name` and hold it until conn's transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (NAMESPACE, name))


@contextmanager
def held_for_session(conn: psycopg.Connection, name: str) -> Iterator[None]:
    """Hold the lock `name` on conn while the block runs, whatever its transactions do."""
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (NAMESPACE, name))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (NAMESPACE, name))
