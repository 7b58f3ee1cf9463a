"""Ingest one source: read -> land raw -> map -> validate -> geocode -> load -> rollups.

A run's data, its watermark and its "succeeded" record commit in one transaction; a run that
fails or is killed leaves nothing but its "running"/"failed" record, so re-running it ends
with exactly the rows of a clean run. A per-source advisory lock keeps two ingests (CLI,
Airflow) of one source apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import psycopg

from connectors.mapping import map_chunk
from connectors.readers import POSITION, read_chunks
from connectors.spec import SourceSpec
from core.hashing import row_hashes
from core.settings import GridHubSettings
from geo.geocode import geocode
from geo.grids import GridIndex
from quality.verdicts import judge
from store import rollups, runs
from store.db import connect
from store.loading import land_raw, merge_cases, quarantine

Progress = Callable[[int], None]


@dataclass
class IngestResult:
    source: str
    run_id: int
    counts: runs.RunCounts


def source_lock_id(source: str) -> str:
    return f"gridhub-ingest:{source}"


def ingest(spec: SourceSpec, settings: GridHubSettings, url: str,
           progress: Progress | None = None) -> IngestResult:
    """Run one ingest of a source end to end."""
    run_id = runs.start_run(url, spec.name, {"format": spec.format.value})
    try:
        counts = _run(spec, settings, url, run_id, progress)
    except BaseException as exc:  # recorded, then re-raised unchanged
        runs.fail_run(url, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    return IngestResult(spec.name, run_id, counts)


def _run(spec: SourceSpec, settings: GridHubSettings, url: str, run_id: int,
         progress: Progress | None) -> runs.RunCounts:
    counts = runs.RunCounts()
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (source_lock_id(spec.name),))
        watermark_from = runs.get_watermark(conn, spec.name)
        grids = GridIndex.from_database(conn)
        for raw in read_chunks(spec, settings.data_dir, watermark_from):
            _process_chunk(conn, spec, settings, run_id, raw, grids, counts)
            if progress:
                progress(len(raw))
        rollups.refresh_touched(conn)
        runs.set_watermark(conn, spec.name, None, run_id)
        runs.finish_run(conn, run_id, counts, watermark_from, None)
    return counts


def _process_chunk(conn: psycopg.Connection, spec: SourceSpec, settings: GridHubSettings,
                   run_id: int, raw: pd.DataFrame, grids: GridIndex, counts: runs.RunCounts) -> None:
    counts.records_read += len(raw)
    landing = raw_landing_frame(spec, raw)
    raw_ids = land_raw(conn, spec.name, run_id, landing)
    fields = raw.drop(columns=[POSITION])
    mapped = map_chunk(spec, fields, settings.hash_key.get_secret_value().encode(),
                       settings.timezone, settings.city_code)
    mapped.cases["raw_id"] = raw_ids.to_numpy()
    verdict = judge(mapped.cases, mapped.problems)
    located = geocode(verdict.passed, grids)
    located["position"] = raw.loc[located.index, POSITION].to_numpy()
    merged = merge_cases(conn, run_id, located)
    failed = pd.DataFrame({
        "source_record_id": verdict.failed["source_record_id"],
        "raw_id": verdict.failed["raw_id"],
        "payload": landing.loc[verdict.failed.index, "payload"],
        "reasons": verdict.reasons,
    })
    newly_quarantined = quarantine(conn, spec.name, run_id, failed)
    counts.inserted += merged.inserted
    counts.updated += merged.updated
    counts.quarantined += newly_quarantined
    counts.duplicates += merged.unchanged + (len(failed) - newly_quarantined)


def raw_landing_frame(spec: SourceSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """position, record_key, content_hash and JSON payload of each raw record, unchanged."""
    fields = raw.drop(columns=[POSITION])
    payload = fields.to_json(orient="records", lines=True, force_ascii=False).split("\n")
    payload = [line for line in payload if line]
    content_hash = row_hashes(fields, "raw")
    key = fields[spec.primary_key] if spec.primary_key in fields else pd.Series(None, index=raw.index)
    return pd.DataFrame({
        "position": raw[POSITION].to_numpy(),
        "record_key": key.to_numpy(),
        "content_hash": content_hash.to_numpy(),
        "payload": payload,
    }, index=raw.index)

