"""A run of a source, and what its landing reads.

Every step that works on a run (landing, processing, the one-pass ingest, a backfill's window,
a replay) goes through a SourceRun: its row in `ingest_runs`, the source's lock (store.locks),
and one rule for recording how it failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

from connectors.spec import SourceSpec
from core.errors import ConfigError, GridHubError, SourceError
from store import locks, runs
from store.db import one_line


class ConnectionLostError(GridHubError):
    """A run's database connection broke (server restarted, backend terminated)."""


def connection_lost(exc: BaseException) -> bool:
    """Whether a database error says the connection itself is gone: no SQLSTATE (libpq lost
    the socket), a connection exception (08...) or an operator intervention (57P0...)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P0"))


@dataclass(frozen=True)
class SourceRun:
    spec: SourceSpec
    url: str
    run_id: int

    @classmethod
    @contextmanager
    def started(cls, spec: SourceSpec, url: str, holder: psycopg.Connection,
                **params) -> Iterator[SourceRun]:
        """A new run of the source, recorded as running, for the block; its failures recorded.

        The holder connection holds the run's lock until it closes: open it around everything
        the process does for the run. Runs whose process is gone are reaped first.
        """
        runs.reap_orphans(holder)
        run = cls(spec, url, runs.start_run(holder, spec.name, {"format": spec.format.value, **params}))
        with run.failures_recorded():
            yield run

    @property
    def source(self) -> str:
        return self.spec.name

    def lock(self, conn: psycopg.Connection) -> None:
        """Hold the source's lock until conn's transaction ends: one run moves at a time."""
        locks.hold_for_transaction(conn, locks.source_lock(self.source))

    @contextmanager
    def failures_recorded(self) -> Iterator[SourceRun]:
        """Record a failure of the block on the run, then raise it again: the status the error
        names (a quality gate's "stopped"), else "failed"."""
        try:
            yield self
        except BaseException as exc:
            status = getattr(exc, "run_status", "failed")
            runs.fail_run(self.url, self.run_id, status, f"{type(exc).__name__}: {exc}")
            if connection_lost(exc):
                raise ConnectionLostError(
                    f"{self.source}: the database connection was lost during run {self.run_id}"
                    f" ({one_line(exc)}); the run is marked failed and nothing of it was loaded:"
                    " run the source again") from exc
            raise


@dataclass(frozen=True)
class WatermarkWindow:
    """Read only records whose watermark field lies in [start, end) (a backfill's interval)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ConfigError(f"a watermark window needs timezone-aware bounds, got {self}")
        if self.end <= self.start:
            raise ConfigError(f"empty watermark window: {self.start} is not before {self.end}")

    def bounds(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def inside(self, chunk: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
        """The records of chunk whose watermark lies in the window."""
        marks = _watermarks(chunk, spec)
        return chunk[(marks >= self.start) & (marks < self.end)]

    def passed(self, chunk: pd.DataFrame, spec: SourceSpec) -> bool:
        """Whether every record of chunk lies after the window (windowed readers return
        records in watermark order, so nothing later can fall inside)."""
        return bool((_watermarks(chunk, spec) >= self.end).all())


def _watermarks(chunk: pd.DataFrame, spec: SourceSpec) -> pd.Series:
    if spec.watermark not in chunk:
        raise SourceError(f"{spec.name}: records carry no watermark field {spec.watermark!r}")
    # Records whose watermark cannot be read as a time are left to the incremental runs.
    return pd.to_datetime(chunk[spec.watermark], format="ISO8601", utc=True, errors="coerce")
