"""The count panel a warning run judges, from the rollups and areas in the store."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from alerts.panel import CountPanel, build_panel
from core.errors import NotFoundError
from store.warning_inputs import last_rollup_day, read_hierarchy, read_rollups

if TYPE_CHECKING:
    import psycopg  # the run's connection, handed to store


def load_panel(conn: psycopg.Connection, end: date | None = None,
               history_days: int | None = None) -> CountPanel:
    """The count panel up to `end` (default: the last rollup day), over history_days at most."""
    end = end or last_rollup_day(conn)
    if end is None:
        raise NotFoundError("rollup_daily is empty: ingest some data first")
    start = end - timedelta(days=history_days - 1) if history_days else None
    rollups = read_rollups(conn, start, end)
    if rollups.empty:
        raise NotFoundError(f"no rollup rows on or before {end}")
    return build_panel(rollups, read_hierarchy(conn), end=end, start=start)
