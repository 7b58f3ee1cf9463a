"""What a scheduler needs around the pipeline's steps: the database to use, which errors
deserve a retry, the slice of a source a backfill reads, resuming a failed load, one writer
of cases at a time, and the steps of the downstream DAGs (rollups, boundaries, data docs)
as single calls.

Free of Airflow imports on purpose: the DAGs in dags/ call these, and so can any other
scheduler or the tests, without paying for Airflow's import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from connectors.spec import SourceFormat, SourceSpec
from core.errors import ConfigError, GridHubError
from core.settings import GridHubSettings
from pipeline import ingest
from pipeline.run import WatermarkWindow
from quality.docs import publish
from store import locks, provision, rollups, runs
from store.db import TRANSIENT_ERRORS, connect
from store.quality_runs import recent_records

# Schemes an Airflow connection URI may carry for PostgreSQL; libpq knows only the first two.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://",
                     "postgresql+psycopg2://")

# Formats whose reader can fetch "records changed between two instants" from the source
# itself; file drops have no such query, so a date range means nothing to them.
WINDOWED_FORMATS = frozenset({SourceFormat.REST, SourceFormat.SQL})
# Advisory lock key of the one scheduler task at a time that writes cases and rollups.


class RetryLaterError(GridHubError):
    """A step that must wait for another run to finish first: a later retry will proceed."""


class RunKind(StrEnum):
    """Why a DAG run exists (Airflow's run types, as plain strings)."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"


def database_url(connection_uri: str | None, settings: GridHubSettings) -> str:
    """The GridHub database: the scheduler's connection, else DATABASE_URL, else `gridhub db up`'s."""
    if connection_uri:
        for scheme in _POSTGRES_SCHEMES:
            if connection_uri.startswith(scheme):
                return "postgresql://" + connection_uri[len(scheme):]
        raise ConfigError(f"the gridhub connection must be a PostgreSQL URI, got scheme "
                          f"{connection_uri.split('://', 1)[0]!r}")
    return provision.resolve_url(settings.database_url, settings.data_dir)


def is_transient(exc: BaseException) -> bool:
    """True when exc, or an error it was raised from, is one a retry can cure: a transient
    database error (store.db.TRANSIENT_ERRORS), or a step told to wait for another run."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (*TRANSIENT_ERRORS, RetryLaterError)):
            return True
        seen.add(id(current))
        # An error raised while handling another one was caused by it, unless `from None`.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


def backfill_window(spec: SourceSpec, run_kind: RunKind | str, interval_start: datetime | None,
                    interval_end: datetime | None, requested: bool = False) -> WatermarkWindow | None:
    """The window a run reads: its data interval for a backfill (or when requested), else
    None: the run reads incrementally from the stored watermark."""
    # Airflow hands in its DagRunType, a str enum; newer run types are simply not backfills.
    if str(getattr(run_kind, "value", run_kind)) != RunKind.BACKFILL.value and not requested:
        return None
    if spec.format not in WINDOWED_FORMATS or not spec.watermark:
        raise ConfigError(
            f"{spec.name}: only {sorted(f.value for f in WINDOWED_FORMATS)} sources with a"
            f" watermark field can read a date range; this one is {spec.format.value}"
            f"{'' if spec.watermark else ' without a watermark'}: run it normally instead")
    if interval_start is None or interval_end is None:
        raise ConfigError(f"{spec.name}: the run has no data interval to read")
    return WatermarkWindow(interval_start, interval_end)


def reopen_failed_run(url: str, source: str, run_id: int) -> bool:
    """Make a landed run that failed while processing processable again; True if it was reopened.

    A failed `process` rolled back everything it wrote, so its landing is intact and running
    it again is safe. Not when a later run of the source is running or has succeeded: that
    one re-reads everything this one would load. The earlier error is kept, marked retried.
    """
    with connect(url) as conn:
        locks.hold_for_transaction(conn, locks.source_lock(source))
        return runs.reopen_failed(conn, source, run_id)


def land_for_run(spec: SourceSpec, settings: GridHubSettings, url: str,
                 window: WatermarkWindow | None, environ: Mapping[str, str]) -> int:
    """Extract and land raw (incrementally, or a backfill's window); returns the run id."""
    return ingest.land(spec, settings, url, variables=dict(environ), window=window)


def process_landed_run(spec: SourceSpec, settings: GridHubSettings, url: str, run_id: int,
                       environ: Mapping[str, str] | None = None) -> ingest.IngestResult:
    """Validate, geocode and load a landed run; a retry resumes it after a failure.

    A backfill's run overtaken by a newer run of the source (interrupted by its landing, or
    beaten by its success) could load records older than that run's: its window is landed
    again (environ fills the spec's placeholders) and the fresh run is loaded instead. Both
    happen under the case-writer lock, so no other load of the scheduler's commits between.
    """
    reopen_failed_run(url, spec.name, run_id)
    with exclusive_case_writer(url):
        run_id = _window_landed_afresh_if_overtaken(spec, settings, url, run_id, environ or {})
        return ingest.process(spec, settings, url, run_id)


def _window_landed_afresh_if_overtaken(spec: SourceSpec, settings: GridHubSettings, url: str,
                                       run_id: int, environ: Mapping[str, str]) -> int:
    record = runs.run_record(url, run_id)
    window = record["params"].get("window") if record else None
    if not window or record["status"] not in ("running", "failed"):
        return run_id  # an incremental run, or one process() will refuse with its reason
    with connect(url) as conn:
        # The pipeline takes any newer succeeded run for one that re-read everything, so a
        # backfill loading first would make an older incremental run refuse to load.
        pending = runs.older_incremental_waiting(conn, spec.name, run_id)
        if pending is not None:
            raise RetryLaterError(f"{spec.name}: backfill run {run_id} waits for the older"
                                  f" incremental run {pending} to load first")
        later = runs.later_succeeded_run(conn, spec.name, run_id)
    if record["status"] == "running" and later is None:
        return run_id
    fresh = ingest.land(spec, settings, url, variables=dict(environ), window=WatermarkWindow(
        datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"])))
    earlier = f"{record['error']}; " if record["error"] else ""
    runs.fail_run(url, run_id, "failed", f"{earlier}overtaken by a later run of the source:"
                  f" its window is landed again as run {fresh}")
    return fresh


@contextmanager
def exclusive_case_writer(url: str) -> Iterator[None]:
    """Hold the one slot for writing cases and rollups while the block runs.

    Loads of different sources touch the same rollup rows (the city's row of a day, at
    least), and two concurrent refreshes of one rollup row end in a unique violation, so
    the scheduler's loads, rollup refreshes and boundary re-assignments take turns. A
    session lock on its own connection: a killed worker's lock goes with its connection.
    """
    with connect(url, autocommit=True) as conn, locks.held_for_session(conn, locks.CASES_WRITER):
        yield


def refresh_rollups(url: str, settings: GridHubSettings, run_ids: list[int] | None) -> int:
    """Recount the rollups of the (area, day) pairs the given runs' cases fall on.

    The ingest already did so in its own commit; this makes the rollups whole again after
    anything that bypassed it. With no run ids (a manual run) every rollup is rebuilt, which
    locks the rollup tables against API reads until it commits. Returns the rows written.
    """
    with exclusive_case_writer(url), connect(url) as conn:
        if not run_ids:
            return rollups.rebuild(conn, settings.timezone)
        return rollups.refresh_runs(conn, run_ids, settings.timezone)


def rebuild_data_docs(url: str, settings: GridHubSettings, limit: int = 200) -> tuple[Path | None, int]:
    """Render the GX Data Docs of the latest validation runs; (index.html or None, runs rendered)."""
    with connect(url) as conn:
        found = recent_records(conn, None, limit)
    index = None
    for record, run in reversed(found):
        index = publish(record, settings.data_dir, run["finished_at"] or run["started_at"])
    return index, len(found)
