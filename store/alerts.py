"""Early warning's tables (migrations 0001 and 0501): alerts, the areas each is listed under,
Gi* hotspots and the record of every warning run.

alerts.lifecycle decides what each alert becomes; these functions read and write the rows, in
the caller's transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

# Columns of an alert frame, as read_alerts returns them.
ALERT_FIELDS = ("alert_id", "area_code", "level", "signal", "method", "severity", "status",
                "first_day", "last_day", "peak_day", "alarm_days", "observed", "expected", "score",
                "p_value", "details", "as_of", "closed_day")
# What insert_alerts writes (the database numbers the alert).
INSERTED = ALERT_FIELDS[1:]
# What update_alerts writes, by alert_id: an alert's area, signal, method and first day stay.
UPDATED = ("severity", "status", "last_day", "peak_day", "alarm_days", "observed", "expected",
           "score", "p_value", "details", "as_of", "closed_day")
_NUMBERS = frozenset({"observed", "expected", "score", "p_value"})


def last_judged_day(conn: psycopg.Connection) -> date | None:
    """The latest day that a warning run judged or that an alert was judged on, None before
    the first run."""
    return conn.execute("SELECT greatest((SELECT max(as_of) FROM warning_runs),"
                        " (SELECT max(as_of) FROM alerts))").fetchone()[0]


def read_alerts(conn: psycopg.Connection, statuses: Iterable[str], signals: Iterable[str],
                since: date | None) -> pd.DataFrame:
    """Alerts in one of `statuses`, and alerts of `signals` whose last day is on or after
    since (ALERT_FIELDS), locked until the transaction ends."""
    rows = conn.execute(sql.SQL(
        "SELECT {} FROM alerts WHERE status = ANY(%(statuses)s)"
        " OR (%(since)s::date IS NOT NULL AND signal = ANY(%(signals)s) AND last_day >= %(since)s)"
        " ORDER BY alert_id FOR UPDATE").format(_names(ALERT_FIELDS)),
        {"statuses": list(statuses), "signals": list(signals), "since": since}).fetchall()
    return pd.DataFrame(rows, columns=list(ALERT_FIELDS))


def insert_alerts(conn: psycopg.Connection, alerts: pd.DataFrame) -> list[int]:
    """Insert the alerts (INSERTED columns); their ids, in the frame's order."""
    if alerts.empty:
        return []
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("INSERT INTO alerts ({}) VALUES ({}) RETURNING alert_id").format(
                _names(INSERTED), sql.SQL(", ").join(map(sql.Placeholder, INSERTED))),
            _params(alerts, INSERTED), returning=True)
        ids = []
        while True:
            ids.append(cur.fetchone()[0])
            if not cur.nextset():
                break
    return ids


def update_alerts(conn: psycopg.Connection, alerts: pd.DataFrame) -> int:
    """Write the UPDATED columns of each alert (by alert_id); the number of alerts written."""
    if alerts.empty:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("UPDATE alerts SET {}, updated_at = now() WHERE alert_id = %(alert_id)s").format(
                sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                                   for c in UPDATED)),
            _params(alerts, ("alert_id", *UPDATED)))
    return len(alerts)


def link_areas(conn: psycopg.Connection, links: pd.DataFrame) -> None:
    """List alerts under areas: rows of (area_code, alert_id, depth), depth 0 the alert's own."""
    if links.empty:
        return
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO alert_areas (area_code, alert_id, depth) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        [(str(a), int(i), int(d)) for a, i, d in
                         links[["area_code", "alert_id", "depth"]].itertuples(index=False)])


def link_parents(conn: psycopg.Connection, alert_ids: list[int], gap_days: int) -> None:
    """Point each alert at the alert of the nearest enclosing area on its signal whose span
    meets its own within gap_days (the latest such), or at none."""
    if not alert_ids:
        return
    conn.execute("""
        UPDATE alerts c SET parent_alert_id = (
            SELECT p.alert_id FROM alert_areas aa JOIN alerts p ON p.area_code = aa.area_code
            WHERE aa.alert_id = c.alert_id AND aa.depth > 0 AND p.signal = c.signal
              AND p.first_day <= c.last_day + %(gap)s AND c.first_day <= p.last_day + %(gap)s
            ORDER BY aa.depth, p.first_day DESC LIMIT 1)
        WHERE c.alert_id = ANY(%(ids)s)
        """, {"ids": [int(i) for i in alert_ids], "gap": gap_days})


def replace_hotspots(conn: psycopg.Connection, day: date, hotspots: pd.DataFrame) -> int:
    """Make these (signal, grid_code, z_score, p_value, q_value, observed, expected) the
    hotspots of the day; the number written."""
    conn.execute("DELETE FROM hotspots WHERE day = %s", (day,))
    if hotspots.empty:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO hotspots (day, signal, grid_code, z_score, p_value, q_value, observed, expected)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(day, r.signal, r.grid_code, float(r.z_score), float(r.p_value), float(r.q_value),
              float(r.observed), float(r.expected)) for r in hotspots.itertuples(index=False)])
    return len(hotspots)


def record_run(conn: psycopg.Connection, as_of: date, method: str, opened: int, updated: int,
               closed: int, hotspots: int, escalations: int, params: dict) -> None:
    """Add a finished warning run to warning_runs."""
    conn.execute(
        "INSERT INTO warning_runs (as_of, method, finished_at, opened, updated, closed, hotspots,"
        " escalations, params) VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s)",
        (as_of, method, opened, updated, closed, hotspots, escalations,
         json.dumps(params, default=str)))


def _names(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def _params(alerts: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """The frame's rows as query parameters: NaN as NULL, numpy scalars as Python values."""
    return [{c: _value(c, row[c]) for c in columns} for row in alerts.to_dict("records")]


def _value(column: str, value):
    if column == "details":
        return Jsonb(value if isinstance(value, dict) else {})
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if column in _NUMBERS:
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value
