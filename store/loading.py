"""Idempotent loads: raw landing, quarantine and the merge of canonical cases.

Every load stages rows with COPY into a temporary table, then merges on the natural key in
one statement, so a retried or repeated load changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.json as pajson
from psycopg import sql

from store.copy import copy_frame

# Canonical columns as staged (lon/lat become the geometry in the merge).
STAGE_COLUMNS = (
    "source", "source_record_id", "record_hash", "raw_id", "kind", "category", "raw_category",
    "status", "outcome", "reported_at", "occurred_at", "closed_at", "report_day", "lon", "lat",
    "src_x", "src_y", "src_crs", "address", "area_name", "source_grid_code", "grid_code",
    "community_code", "street_code", "district_code", "city_code", "geocode_method",
    "geocode_precision", "unlocated_reason", "severity", "parties", "amount", "person_key",
    "attributes", "position",
)


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # exact duplicates of what is stored, or repeated within the batch

    def __iadd__(self, other: MergeCounts) -> MergeCounts:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def land_raw(conn: psycopg.Connection, source: str, run_id: int, raw: pd.DataFrame) -> np.ndarray:
    """Store raw records once per content and link every one read to the run.

    raw must have columns position, record_key, content_hash, payload (JSON text). Returns the
    raw_id of each of raw's rows, in raw's order.
    """
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS stage_raw (position bigint, record_key text,"
        " content_hash text, payload text) ON COMMIT DELETE ROWS")
    conn.execute("TRUNCATE stage_raw")
    copy_frame(conn, "stage_raw", raw[["position", "record_key", "content_hash", "payload"]])
    # New contents link to the ids their insert returns; only contents landed before are
    # looked up in raw_records (on a first load, almost none). Rows go in in hash order, so
    # the content index is updated page by page rather than at random (measured: a fifth
    # less time).
    cur = conn.execute("""
        WITH landed AS (
            INSERT INTO raw_records (source, run_id, position, record_key, content_hash, payload)
            SELECT DISTINCT ON (content_hash) %(source)s, %(run)s, position, record_key, content_hash,
                   payload::json
            FROM stage_raw ORDER BY content_hash, position
            -- a payload purged by retention (store/retention.py) comes back with its content
            ON CONFLICT (source, content_hash) DO UPDATE SET payload = EXCLUDED.payload, purged_at = NULL
                WHERE raw_records.payload IS NULL
            RETURNING raw_id, content_hash
        )
        INSERT INTO run_records (run_id, position, raw_id)
        SELECT %(run)s, s.position, l.raw_id FROM stage_raw s JOIN landed l USING (content_hash)
        UNION ALL
        SELECT %(run)s, s.position, r.raw_id
        FROM stage_raw s JOIN raw_records r ON r.source = %(source)s AND r.content_hash = s.content_hash
        WHERE NOT EXISTS (SELECT 1 FROM landed l WHERE l.content_hash = s.content_hash)
        RETURNING position, raw_id""",
        {"source": source, "run": run_id})
    linked = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 2)
    if len(linked) != len(raw):
        raise RuntimeError(f"landing linked {len(linked)} of {len(raw)} records to run {run_id}")
    raw_ids = pd.Series(linked[:, 1], index=linked[:, 0])
    return raw_ids.reindex(raw["position"].to_numpy()).to_numpy()


@dataclass
class LandedChunk:
    """Records of a run read back from the raw landing: source fields as text, in input order."""

    fields: pd.DataFrame
    positions: np.ndarray
    raw_ids: np.ndarray
    payloads: list[str]


def read_landed(conn: psycopg.Connection, run_id: int, fields: list[str],
                chunk_rows: int) -> Iterator[LandedChunk]:
    """Stream a run's landed records back in chunks (a server-side cursor; flat memory)."""
    schema = pa.schema([(name, pa.string()) for name in fields])
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    with conn.cursor(name=f"landed_{run_id}") as cur:
        cur.itersize = chunk_rows
        cur.execute(
            "SELECT rr.position, rr.raw_id, r.payload::text FROM run_records rr"
            " JOIN raw_records r USING (raw_id) WHERE rr.run_id = %s ORDER BY rr.position",
            (run_id,))
        while rows := cur.fetchmany(chunk_rows):
            positions, raw_ids, payloads = zip(*rows, strict=True)
            data = "\n".join(payloads).encode("utf-8")
            table = pajson.read_json(pa.py_buffer(data), parse_options=options)
            frame = table.to_pandas()
            yield LandedChunk(frame, np.asarray(positions, dtype=np.int64),
                              np.asarray(raw_ids, dtype=np.int64), list(payloads))


def quarantine(conn: psycopg.Connection, source: str, run_id: int, rows: pd.DataFrame) -> int:
    """Quarantine rows (source_record_id, raw_id, payload, reasons); returns how many are new.

    A raw record already waiting in quarantine is not added again: it counts as a duplicate.
    """
    if rows.empty:
        return 0
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS stage_quarantine (source_record_id text, raw_id bigint,"
        " payload text, reasons text) ON COMMIT DELETE ROWS")
    conn.execute("TRUNCATE stage_quarantine")
    copy_frame(conn, "stage_quarantine", rows[["source_record_id", "raw_id", "payload", "reasons"]])
    cur = conn.execute(
        "INSERT INTO quarantine (source, source_record_id, run_id, raw_id, payload, reasons)"
        " SELECT DISTINCT ON (raw_id) %s, source_record_id, %s, raw_id, payload::jsonb, reasons::jsonb"
        " FROM stage_quarantine ORDER BY raw_id"
        " ON CONFLICT (source, raw_id) WHERE released_at IS NULL DO NOTHING", (source, run_id))
    return cur.rowcount


def merge_cases(conn: psycopg.Connection, run_id: int, cases: pd.DataFrame,
                track_touched: bool = True) -> MergeCounts:
    """Upsert canonical cases on (source, source_record_id) (see sql/merge_cases.sql), making
    the months of cases their days need first.

    The (day, area) pairs the merge changes go to touched_days for rollups.refresh_touched,
    unless track_touched is false (a bulk load, after which every rollup is rebuilt).
    """
    if cases.empty:
        return MergeCounts()
    conn.execute(sql_text("stage_cases.sql"))
    copy_frame(conn, "stage_cases", cases[list(STAGE_COLUMNS)])
    conn.execute("SELECT gridhub_month_partitions('cases', (SELECT array_agg(DISTINCT report_day)"
                 " FROM stage_cases))")
    inserted, updated = conn.execute(sql_text("merge_cases.sql"), {
        "run_id": run_id, "track_touched": track_touched}).fetchone()
    return MergeCounts(inserted=inserted, updated=updated, unchanged=len(cases) - inserted - updated)


# A load of at least this many records, and of at least this share of the rows a table
# already holds, builds the table's secondary indexes after loading instead of during it.
BULK_MIN_RECORDS = 100_000
BULK_SHARE = 0.5


def bulk_load_threshold(conn: psycopg.Connection, table: str,
                        min_records: int = BULK_MIN_RECORDS) -> int:
    """How many records a load into table needs to be better done with its indexes built after."""
    # The planner's estimate spares a scan of a large table; it is -1 before the first ANALYZE.
    stored = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                          (table,)).fetchone()[0]
    if stored < 0:
        stored = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
    return max(min_records, math.ceil(BULK_SHARE * stored))


def is_bulk_load(conn: psycopg.Connection, table: str, records: int,
                 min_records: int = BULK_MIN_RECORDS) -> bool:
    """Whether loading `records` rows into table is better done with its indexes built after."""
    # A small load needs no look at the table.
    return records >= min_records and records >= bulk_load_threshold(conn, table, min_records)


# Autovacuum analyses a table once a tenth of it changed, but only on its next round (a
# minute or more): until then the planner plans the first pages of /cases over stale counts.
ANALYZE_SHARE = 0.1


def analyze_if_grown(conn: psycopg.Connection, table: str, added: int) -> bool:
    """ANALYZE table in the caller's transaction when `added` rows are a tenth or more of what
    its statistics know (or it was never analysed); returns whether it did."""
    known = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                         (table,)).fetchone()[0]
    if added <= 0 or (known >= 0 and added < ANALYZE_SHARE * known):
        return False
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return True


@contextmanager
def indexes_built_after(conn: psycopg.Connection, table: str, keys_too: bool = False) -> Iterator[None]:
    """Drop the table's secondary indexes for the block, then build them again.

    Building an index over the loaded table once is several times cheaper than keeping it up
    to date row by row (a GiST index above all). Unique indexes (the keys ON CONFLICT needs)
    stay unless keys_too, for a block that writes every row of an emptied table with no
    conflict possible (their constraints are added back, so a duplicate still fails the
    load). Inside the caller's transaction: if the block fails, the rollback brings the
    indexes back, and readers of the table wait until the commit.
    """
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') AND %s",
        (table, keys_too)).fetchall()
    indexes = conn.execute(
        "SELECT n.nspname, x.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace"
        " WHERE i.indrelid = %s::regclass AND (%s OR NOT i.indisunique)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (table, keys_too)).fetchall()
    target = sql.Identifier(table)
    for name, _ in constraints:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(target, sql.Identifier(name)))
    for schema, name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    yield
    for name, definition in constraints:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            target, sql.Identifier(name), sql.SQL(definition)))
    for _, _, definition in indexes:
        # A partitioned table's index reads back as "ON ONLY": built so, it would cover no
        # partition and stay invalid.
        conn.execute(definition.replace(" ON ONLY ", " ON ", 1))
    conn.execute(sql.SQL("ANALYZE {}").format(target))


@cache
def sql_text(name: str) -> str:
    """A SQL file shipped in store/sql."""
    return (resources.files("store") / "sql" / name).read_text(encoding="utf-8")
