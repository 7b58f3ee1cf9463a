"""The alert lifecycle in PostGIS: new -> ongoing -> acknowledged -> resolved, or expired.

- new: the episode has alarmed on one day so far;
- ongoing: it alarmed again on a later day;
- acknowledged: a person took it on (through the API); it stays so while it continues;
- resolved: acknowledged, then no alarm for more than gap_days;
- expired: never acknowledged, and no alarm for more than gap_days.

A run hands in the episodes it found up to its day; each one updates the alert of the same
area and signal whose span it meets (within gap_days), or opens a new alert. Re-running a day
changes nothing. Every alert is listed under its own area and all enclosing ones
(alert_areas), and points to the alert of the nearest enclosing area on the same signal
running at the same time (parent_alert_id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import pandas as pd
import psycopg

from alerts.panel import AreaHierarchy
from store import locks

# Columns of the episodes a run hands to sync().
ALERT_COLUMNS = ("area_code", "level", "signal", "method", "severity", "first_day", "last_day",
                 "peak_day", "alarm_days", "observed", "expected", "score", "p_value", "details")


class AlertStatus(StrEnum):
    NEW = "new"
    ONGOING = "ongoing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({AlertStatus.NEW, AlertStatus.ONGOING, AlertStatus.ACKNOWLEDGED})
ACKNOWLEDGEABLE = frozenset({AlertStatus.NEW, AlertStatus.ONGOING})


def next_status(current: AlertStatus | None, first_day: date, last_day: date, as_of: date,
                gap_days: int) -> AlertStatus:
    """The status an alert should have on `as_of`, given the span of its episode."""
    ended = (as_of - last_day).days > gap_days
    if current in (AlertStatus.RESOLVED, AlertStatus.EXPIRED):
        return current  # closed alerts stay closed; a later alarm opens a new alert
    if current is AlertStatus.ACKNOWLEDGED:
        return AlertStatus.RESOLVED if ended else AlertStatus.ACKNOWLEDGED
    if ended:
        return AlertStatus.EXPIRED
    return AlertStatus.ONGOING if last_day > first_day else AlertStatus.NEW


@dataclass
class SyncCounts:
    opened: int = 0
    updated: int = 0
    closed: int = 0


def sync(conn: psycopg.Connection, episodes: pd.DataFrame, as_of: date, gap_days: int,
         areas: AreaHierarchy) -> SyncCounts:
    """Bring the alerts table in line with the episodes found up to `as_of` (ALERT_COLUMNS)."""
    locks.hold_for_transaction(conn, locks.ALERTS)
    counts = SyncCounts()
    existing = _existing(conn, episodes, gap_days)
    touched: list[int] = []
    for row in episodes.itertuples(index=False):
        match = _match(existing.get((row.area_code, row.signal), []), row, gap_days)
        if match is None:
            status = next_status(None, row.first_day, row.last_day, as_of, gap_days)
            alert_id = _insert(conn, row, status, as_of)
            _link_areas(conn, alert_id, row.area_code, areas)
            counts.opened += 1
            touched.append(alert_id)
            continue
        current = AlertStatus(match["status"])
        if not current.is_open:
            continue
        status = next_status(current, match["first_day"], max(match["last_day"], row.last_day), as_of, gap_days)
        if _update(conn, match["alert_id"], row, status, as_of):
            counts.updated += 1
            counts.closed += int(not status.is_open)
        touched.append(match["alert_id"])
    counts.closed += _close_quiet(conn, as_of, gap_days, touched)
    _link_parents(conn, touched, gap_days)
    return counts


def _existing(conn: psycopg.Connection, episodes: pd.DataFrame, gap_days: int) -> dict:
    """Alerts that episodes of this run might continue, by (area, signal)."""
    if episodes.empty:
        return {}
    earliest = min(episodes["first_day"]) - pd.Timedelta(days=gap_days)
    rows = conn.execute(
        "SELECT alert_id, area_code, signal, status, first_day, last_day FROM alerts"
        " WHERE last_day >= %s AND signal = ANY(%s)",
        (earliest, sorted(set(episodes["signal"])))).fetchall()
    found: dict[tuple[str, str], list[dict]] = {}
    for alert_id, area, signal, status, first, last in rows:
        found.setdefault((area, signal), []).append(
            {"alert_id": alert_id, "status": status, "first_day": first, "last_day": last})
    return found


def _match(candidates: list[dict], row, gap_days: int) -> dict | None:
    """The alert whose span meets the episode's (within gap_days), preferring open ones."""
    meeting = [c for c in candidates
               if (row.first_day - c["last_day"]).days <= gap_days
               and (c["first_day"] - row.last_day).days <= gap_days]
    if not meeting:
        return None
    return min(meeting, key=lambda c: (not AlertStatus(c["status"]).is_open,
                                       abs((c["first_day"] - row.first_day).days)))


def _insert(conn: psycopg.Connection, row, status: AlertStatus, as_of: date) -> int:
    closed_day = as_of if not status.is_open else None
    return conn.execute(
        "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
        " peak_day, alarm_days, observed, expected, score, p_value, details, as_of, closed_day)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
        (row.area_code, row.level, row.signal, row.method, row.severity, status.value, row.first_day,
         row.last_day, row.peak_day, int(row.alarm_days), _num(row.observed), _num(row.expected),
         _num(row.score), _num(row.p_value), json.dumps(row.details, ensure_ascii=False), as_of,
         closed_day)).fetchone()[0]


def _update(conn: psycopg.Connection, alert_id: int, row, status: AlertStatus, as_of: date) -> bool:
    """Extend an alert with its episode's latest figures; True when anything changed."""
    cur = conn.execute("""
        UPDATE alerts SET
            last_day = greatest(last_day, %(last_day)s),
            alarm_days = greatest(alarm_days, %(alarm_days)s),
            peak_day = CASE WHEN %(score)s > coalesce(score, '-infinity') THEN %(peak_day)s ELSE peak_day END,
            observed = CASE WHEN %(score)s > coalesce(score, '-infinity') THEN %(observed)s ELSE observed END,
            expected = CASE WHEN %(score)s > coalesce(score, '-infinity') THEN %(expected)s ELSE expected END,
            p_value = least(p_value, %(p_value)s),
            score = greatest(score, %(score)s),
            severity = CASE WHEN severity = 'red' OR %(severity)s = 'red' THEN 'red' ELSE 'yellow' END,
            status = %(status)s,
            closed_day = CASE WHEN %(closed)s THEN %(as_of)s END,
            details = details || %(details)s::jsonb,
            as_of = %(as_of)s,
            updated_at = now()
        WHERE alert_id = %(alert_id)s
          AND (last_day < %(last_day)s OR alarm_days < %(alarm_days)s OR status <> %(status)s
               OR score IS DISTINCT FROM greatest(score, %(score)s)
               OR details IS DISTINCT FROM details || %(details)s::jsonb)
        """, {"alert_id": alert_id, "last_day": row.last_day, "alarm_days": int(row.alarm_days),
              "score": _num(row.score), "peak_day": row.peak_day, "observed": _num(row.observed),
              "expected": _num(row.expected), "p_value": _num(row.p_value), "severity": row.severity,
              "status": status.value, "closed": not status.is_open, "as_of": as_of,
              "details": json.dumps(row.details, ensure_ascii=False)})
    return cur.rowcount > 0


def _close_quiet(conn: psycopg.Connection, as_of: date, gap_days: int, touched: list[int]) -> int:
    """Close open alerts this run did not continue once they have been quiet for gap_days."""
    cur = conn.execute("""
        UPDATE alerts SET
            status = CASE WHEN status = 'acknowledged' THEN 'resolved' ELSE 'expired' END,
            closed_day = %(as_of)s, as_of = %(as_of)s, updated_at = now()
        WHERE status IN ('new', 'ongoing', 'acknowledged')
          AND last_day < %(as_of)s::date - %(gap)s
          AND NOT (alert_id = ANY(%(touched)s))
        """, {"as_of": as_of, "gap": gap_days, "touched": touched})
    return cur.rowcount


def _link_areas(conn: psycopg.Connection, alert_id: int, area_code: str, areas: AreaHierarchy) -> None:
    position = areas.index.get_indexer([area_code])[0]
    chain = [area_code] + ([str(areas.codes[i]) for i in areas.ancestors(position)] if position >= 0 else [])
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO alert_areas (area_code, alert_id, depth) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        [(code, alert_id, depth) for depth, code in enumerate(chain)])


def _link_parents(conn: psycopg.Connection, alert_ids: list[int], gap_days: int) -> None:
    """Point each alert at the nearest enclosing area's alert on its signal, if one overlaps."""
    if not alert_ids:
        return
    conn.execute("""
        UPDATE alerts c SET parent_alert_id = (
            SELECT p.alert_id FROM alert_areas aa JOIN alerts p ON p.area_code = aa.area_code
            WHERE aa.alert_id = c.alert_id AND aa.depth > 0 AND p.signal = c.signal
              AND p.first_day <= c.last_day + %(gap)s AND c.first_day <= p.last_day + %(gap)s
            ORDER BY aa.depth, p.first_day DESC LIMIT 1)
        WHERE c.alert_id = ANY(%(ids)s)
        """, {"ids": alert_ids, "gap": gap_days})


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
