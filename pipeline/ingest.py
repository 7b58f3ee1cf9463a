"""Ingest one source, as two steps that Airflow runs as separate tasks:

1. `land`: read the source in chunks and store every record raw (payload, position, content
   hash), linked to the run. The landing commits on its own, so a run stopped later by a
   quality gate, failed or killed keeps its raw records for replay and audit.
2. `process`: read the run's landing back in chunks -> map -> validate -> geocode -> load ->
   rollups -> watermark -> "succeeded", all in one transaction: a run that fails or is killed
   here loads nothing, and re-running it ends with exactly the rows of a clean run.

`ingest` (the CLI's) runs both in one pass over the source: each chunk is processed as soon
as it is landed, on a second connection, with the same commits as the two steps. A
per-source advisory lock keeps two ingests (CLI, Airflow) of one source apart; the watermark
moves only when the load commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing, nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from connectors.mapping import clock_change_counts, map_chunk
from connectors.readers import POSITION, ReadContext, read_chunks
from connectors.spec import SourceSpec
from connectors.watermark import highest
from core.errors import GridHubError
from core.hashing import row_hashes
from core.prefetch import prefetched
from core.profile import Taxonomy
from core.settings import GridHubSettings
from geo.crs import to_wgs84
from geo.geocode import geocode
from geo.geocoder import Geocoder
from geo.placeholders import placeholder_counts
from pipeline.run import SourceRun, WatermarkWindow
from pipeline.settle import settle_batch, settle_run
from quality.suite import CityExtent
from quality.verdicts import Verdict, judge
from store import quality_runs, rollups, runs
from store.db import connect
from store.geocoding import load_geocoder
from store.loading import (
    LandedChunk,
    analyze_if_grown,
    bulk_load_threshold,
    indexes_built_after,
    is_bulk_load,
    land_raw,
    merge_cases,
    quarantine,
    read_landed,
)

# progress(step, records): step is "land" or "process".
Progress = Callable[[str, int], None]


class RunStateError(GridHubError):
    """A run cannot be processed in its present state (not landed, finished, superseded)."""


@dataclass
class IngestResult:
    source: str
    run_id: int
    counts: runs.RunCounts


def ingest(spec: SourceSpec, settings: GridHubSettings, url: str, progress: Progress | None = None,
           variables: Mapping[str, str] | None = None) -> IngestResult:
    """Run one ingest of a source end to end, landing and processing in one pass.

    Each chunk is landed on one connection and then mapped, validated, geocoded and loaded on
    a second while the next chunks are read and landed: the landing's database work overlaps
    the Python work, and nothing is read back. The landing commits as soon as it is whole, as
    `land` would; the gates are then judged over the whole run and the load commits, as
    `process` would. A run that fails to load still lands the rest of its records.
    """
    with (connect(url) as conn, SourceRun.started(spec, url, conn, **{runs.SINGLE_PROCESS: True}) as run,
          connect(url) as lander):
        run.lock(conn)  # held until the load commits, after the landing's commit
        geocoder, extent = _areas_to_place_on(conn, settings)
        counts = runs.RunCounts()
        bulk_from = bulk_load_threshold(conn, "cases", settings.bulk_load_min_records)
        # Three threads: read, hash and land; map, validate and geocode; load. The landing
        # waits on the server, so it shares a thread with the reading rather than with the
        # Python-bound preparation (a thread of its own would hold two more chunks).
        landed = prefetched(_committed_after(lander, _landed_chunks(
            lander, run, settings, variables, progress, read_ahead=False)), name="land")
        prepared = prefetched((_prepare_chunk(spec, settings, _as_landed(*chunk), geocoder, extent)
                               for chunk in landed), name="process")
        bulk = False
        with closing(landed):
            try:
                with closing(prepared), ExitStack() as deferred:
                    for chunk in prepared:
                        # A load that turns out big enough builds the case indexes after it.
                        if not bulk and counts.records_read + chunk.records >= bulk_from:
                            bulk = True
                            deferred.enter_context(indexes_built_after(conn, "cases"))
                        _load_chunk(conn, run, settings, chunk, counts, bulk, judge_gates=False)
                        if progress:
                            progress("process", chunk.records)
            except Exception:
                # Keep the whole landing of a run that fails to load, for audit and replay.
                for _ in landed:
                    pass
                raise
        settle_run(conn, spec, run.run_id, settings.data_dir)
        _finish(conn, run, settings, counts, bulk)
    return IngestResult(spec.name, run.run_id, counts)


def land(spec: SourceSpec, settings: GridHubSettings, url: str, progress: Progress | None = None,
         variables: Mapping[str, str] | None = None,
         window: WatermarkWindow | None = None) -> int:
    """Read the source and land every record raw; returns the run id.

    Incrementally from the source's watermark, or, given a window, a backfill of the records
    whose watermark lies in it: older running runs are then left alone (this run does not
    re-read what they would load) and the source's watermark does not move.
    """
    with (connect(url) as conn,
          SourceRun.started(spec, url, conn, **({"window": window.bounds()} if window else {})) as run):
        run.lock(conn)
        for _ in _landed_chunks(conn, run, settings, variables, progress, window=window):
            pass
    return run.run_id


def _landed_chunks(conn: psycopg.Connection, run: SourceRun, settings: GridHubSettings,
                   variables: Mapping[str, str] | None, progress: Progress | None,
                   read_ahead: bool = True, window: WatermarkWindow | None = None,
                   ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """Read the source (from its watermark, or the window's records) and land it on conn,
    yielding each chunk as landed: the records, their landing frame (raw_landing_frame) and
    their raw ids.

    With read_ahead, a thread reads and hashes the next chunk while one is landed. After the
    last chunk the run is marked landed; the caller commits. The caller holds the source's
    lock.
    """
    spec = run.spec
    if window is None:
        runs.interrupt_stale(conn, spec.name, run.run_id)
        watermark_from = runs.get_watermark(conn, spec.name)
    else:
        watermark_from = window.bounds()["from"]
    context = ReadContext(settings.data_dir, variables or {}, watermark_from)
    read, fields, watermark_to = 0, {}, watermark_from
    bulk_from = bulk_load_threshold(conn, "raw_records", settings.bulk_load_min_records)
    # Closing the chunks stops the reading thread when a landing fails. A bulk landing builds
    # the landing table's lookup indexes once it is done; on a failure the rollback keeps them
    # as they were.
    chunks = ((raw, raw_landing_frame(spec, raw))
              for raw in _read_records(spec, context, window))
    if read_ahead:
        chunks = prefetched(chunks, name="read")
    with closing(chunks), ExitStack() as deferred:
        for raw, landing in chunks:
            if read < bulk_from <= read + len(raw):
                deferred.enter_context(indexes_built_after(conn, "raw_records"))
            raw_ids = land_raw(conn, spec.name, run.run_id, landing)
            read += len(raw)
            fields.update(dict.fromkeys(c for c in raw.columns if c != POSITION))
            if window is None and spec.watermark and spec.watermark in raw:
                watermark_to = highest(raw[spec.watermark], watermark_to)
            if progress:
                progress("land", len(raw))
            yield raw, landing, raw_ids
    # A window's run lands with no watermark_to: its load leaves the source's watermark alone.
    runs.mark_landed(conn, run.run_id, read, list(fields), watermark_from,
                     None if window else watermark_to)


def _read_records(spec: SourceSpec, context: ReadContext,
                  window: WatermarkWindow | None) -> Iterator[pd.DataFrame]:
    """The source's chunks; of a window, only its records, numbered from 0."""
    if window is None:
        yield from read_chunks(spec, context)
        return
    position = 0
    for chunk in read_chunks(spec, context):
        inside = window.inside(chunk, spec)
        if inside.empty:
            if window.passed(chunk, spec):
                break
            continue
        inside = inside.reset_index(drop=True)
        inside[POSITION] = range(position, position + len(inside))
        position += len(inside)
        yield inside


def _committed_after(conn: psycopg.Connection, chunks: Iterator) -> Iterator:
    """The landed chunks, then the landing's commit."""
    yield from chunks
    conn.commit()


def _as_landed(raw: pd.DataFrame, landing: pd.DataFrame, raw_ids: np.ndarray) -> LandedChunk:
    """A chunk just landed, as process() would read it back."""
    return LandedChunk(raw.drop(columns=[POSITION]), landing["position"].to_numpy(), raw_ids,
                       landing["payload"].tolist())


def process(spec: SourceSpec, settings: GridHubSettings, url: str, run_id: int,
            progress: Progress | None = None) -> IngestResult:
    """Map, validate, geocode and load a landed run, then rollups and watermark, in one commit."""
    run = SourceRun(spec, url, run_id)
    with run.failures_recorded(), connect(url) as conn, connect(url) as reader:
        run.lock(conn)
        landed = runs.landed_run(conn, run_id)
        _check_processable(conn, spec, run_id, landed)
        geocoder, extent = _areas_to_place_on(conn, settings)
        counts = runs.RunCounts()
        bulk = is_bulk_load(conn, "cases", landed["records_read"], settings.bulk_load_min_records)
        # The landing is committed, so a second connection reads it back while this one
        # loads; chunks are mapped, validated and geocoded one ahead of their load.
        prepared = prefetched((_prepare_chunk(spec, settings, chunk, geocoder, extent)
                               for chunk in read_landed(reader, run_id, landed["source_fields"],
                                                        spec.chunk_rows)), name="process")
        with closing(prepared), indexes_built_after(conn, "cases") if bulk else nullcontext():
            for chunk in prepared:
                _load_chunk(conn, run, settings, chunk, counts, bulk)
                if progress:
                    progress("process", chunk.records)
        _finish(conn, run, settings, counts, bulk)
    return IngestResult(spec.name, run_id, counts)


def _finish(conn: psycopg.Connection, run: SourceRun, settings: GridHubSettings,
            counts: runs.RunCounts, bulk: bool) -> None:
    """After the last chunk of a landed run: rollups, watermark, "succeeded" (the caller commits)."""
    run_id = run.run_id
    landed = runs.landed_run(conn, run_id)
    if counts.records_read != landed["records_read"]:
        raise RunStateError(f"run {run_id} landed {landed['records_read']} records but"
                            f" {counts.records_read} were processed")
    # A bulk load touches most (area, day) pairs: every rollup is recounted at once.
    if not bulk:
        rollups.refresh_touched(conn, settings.timezone)
        analyze_if_grown(conn, "cases", counts.inserted)  # a bulk load's index rebuild did
    elif counts.inserted or counts.updated:
        rollups.rebuild(conn, settings.timezone)
    runs.set_watermark(conn, run.source, landed["watermark_to"], run_id)
    runs.finish_run(conn, run_id, counts)


class NoAreasError(GridHubError):
    """A source was ingested before the city's finest areas were loaded."""


def _areas_to_place_on(conn: psycopg.Connection, settings: GridHubSettings) -> tuple[Geocoder, CityExtent]:
    """The geocoder over the stored areas and the city's extent; refused when there are none."""
    geocoder = load_geocoder(conn)
    if len(geocoder.current.grids) == 0:
        finest = settings.profile.levels[-1].name
        raise NoAreasError(f"no {finest} areas are loaded, so no case can be placed: load the"
                           f" city's areas first (gridhub areas load FILE --level {finest})")
    return geocoder, CityExtent.around(geocoder.current.grids.geoms, to_wgs84)


def _check_processable(conn: psycopg.Connection, spec: SourceSpec, run_id: int, landed: dict | None) -> None:
    if landed is None or landed["source"] != spec.name:
        raise RunStateError(f"no run {run_id} of source {spec.name!r}")
    if landed["landed_at"] is None:
        raise RunStateError(f"run {run_id} has not finished landing; land it again")
    if landed["status"] != "running":
        raise RunStateError(f"run {run_id} is already {landed['status']}")
    later = runs.later_succeeded_run(conn, spec.name, run_id)
    if later is not None:
        # Loading older data over a newer run's would undo its updates.
        raise RunStateError(f"run {run_id} is superseded by run {later}, which already succeeded")


@dataclass
class PreparedChunk:
    """A landed chunk mapped, judged and geocoded, ready to load."""

    records: int
    verdict: Verdict
    located: pd.DataFrame
    failed: pd.DataFrame  # source_record_id, raw_id, payload, reasons
    defaulted: dict[str, int] = field(default_factory=dict)  # MappedChunk.defaulted
    counts: dict[str, int] = field(default_factory=dict)  # placeholder points, clock changes


def _prepare_chunk(spec: SourceSpec, settings: GridHubSettings, chunk: LandedChunk,
                   geocoder: Geocoder, extent: CityExtent) -> PreparedChunk:
    """The Python side of a chunk (no database): map -> validate -> geocode."""
    taxonomy = settings.profile.taxonomy
    mapped = map_chunk(spec, chunk.fields, settings.hash_key.get_secret_value().encode(),
                       settings.timezone, settings.city_code, taxonomy)
    mapped.cases["raw_id"] = pd.array(chunk.raw_ids, dtype="Int64")
    verdict = judge(mapped.cases, mapped.problems, spec=spec, extent=extent,
                    categories=_categories(taxonomy))
    located = geocode(verdict.passed, geocoder, spec.placeholder_points)
    located["position"] = chunk.positions[located.index.to_numpy()]
    rows = verdict.failed.index.to_numpy()
    failed = pd.DataFrame({
        "source_record_id": verdict.failed["source_record_id"],
        "raw_id": verdict.failed["raw_id"],
        "payload": [chunk.payloads[i] for i in rows],
        "reasons": verdict.reasons,
    })
    return PreparedChunk(len(chunk.positions), verdict, located, failed, mapped.defaulted,
                         {**placeholder_counts(located), **clock_change_counts(located)})


def _categories(taxonomy: Taxonomy) -> tuple[str, ...] | None:
    """The category codes quality checks against (empty: the sources' own, any is known)."""
    codes = taxonomy.category_codes
    return () if codes is None else tuple(codes)


def _load_chunk(conn: psycopg.Connection, run: SourceRun, settings: GridHubSettings,
                chunk: PreparedChunk, counts: runs.RunCounts, bulk: bool,
                judge_gates: bool = True) -> None:
    """The database side of a chunk: quality gates, merge into cases, quarantine."""
    counts.records_read += chunk.records
    # May stop the run (GateFailed).
    settle_batch(conn, run.spec, run.run_id, chunk.verdict, settings.data_dir, judge_gates=judge_gates)
    quality_runs.add_counts(conn, run.run_id, chunk.defaulted, tally="defaulted")
    quality_runs.add_counts(conn, run.run_id, chunk.counts)
    merged = merge_cases(conn, run.run_id, chunk.located, track_touched=not bulk)
    newly_quarantined = quarantine(conn, run.source, run.run_id, chunk.failed)
    counts.inserted += merged.inserted
    counts.updated += merged.updated
    counts.quarantined += newly_quarantined
    counts.duplicates += merged.unchanged + (len(chunk.failed) - newly_quarantined)


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


@dataclass
class SourceCheck:
    """A dry run of a source on a sample: raw records, mapped cases, and each row's problems."""

    raw: pd.DataFrame
    cases: pd.DataFrame
    reasons: pd.Series  # list of {"check", "message"} per row; empty when the row passes


def check_source(spec: SourceSpec, settings: GridHubSettings, rows: int = 10,
                 variables: Mapping[str, str] | None = None) -> SourceCheck:
    """Read the first rows of a source, map and validate them; nothing is written anywhere."""
    context = ReadContext(settings.data_dir, variables or {}, None, limit=rows)
    chunks = list(read_chunks(spec, context))
    raw = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame({POSITION: []})
    fields = raw.drop(columns=[POSITION])
    taxonomy = settings.profile.taxonomy
    mapped = map_chunk(spec, fields, settings.hash_key.get_secret_value().encode(),
                       settings.timezone, settings.city_code, taxonomy)
    verdict = judge(mapped.cases, mapped.problems, spec=spec, categories=_categories(taxonomy))
    reasons = pd.Series([[] for _ in range(len(raw))], index=raw.index, dtype=object)
    for index, found in verdict.reasons.items():
        reasons.at[index] = list(found)
    return SourceCheck(raw=raw, cases=mapped.cases, reasons=reasons)
