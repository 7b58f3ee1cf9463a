"""The alert lifecycle: new -> ongoing -> acknowledged -> resolved, or expired.

- new: the episode has alarmed on one day so far;
- ongoing: it alarmed again on a later day;
- acknowledged: a person took it on (through the API); it stays so while it continues;
- resolved: acknowledged, then no alarm for more than gap_days;
- expired: never acknowledged, and no alarm for more than gap_days.

A run hands in the episodes it found up to its day; each one continues the alert of the same
area and signal whose span it meets (within gap_days), or opens a new alert. A continued
alert's figures only grow: its last day, alarm days and score (with the peak's figures), red
over yellow, the smallest p-value; its details are those of the latest run's view of its latest
alarm day. Closed alerts stay closed: a later alarm opens a new alert.

Statuses are judged as of the run's day, or as of the latest day already judged when that is
later (a day run again, or out of order): the alerts always describe the latest day judged, and
an earlier day can add what it finds but never moves an alert back. Open alerts quiet for more
than gap_days are closed before new ones are opened, so an area and signal never has two open
alerts (the unique index alerts_one_open); and running a day again changes nothing.

Every alert is listed under its own area and all enclosing ones (alert_areas), and points to
the alert of the nearest enclosing area on the same signal running at the same time
(parent_alert_id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

import pandas as pd

from alerts.panel import AreaHierarchy
from store import alerts as stored
from store import locks

if TYPE_CHECKING:
    import psycopg  # the run's connection, handed to store

# Columns of the episodes a run hands to sync().
ALERT_COLUMNS = ("area_code", "level", "signal", "method", "severity", "first_day", "last_day",
                 "peak_day", "alarm_days", "observed", "expected", "score", "p_value", "details")
_NUMBERS = ("observed", "expected", "score", "p_value")


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


def closed_status(current: AlertStatus) -> AlertStatus:
    """How an open alert closes: resolved once acknowledged, else expired."""
    return AlertStatus.RESOLVED if current is AlertStatus.ACKNOWLEDGED else AlertStatus.EXPIRED


@dataclass
class SyncCounts:
    opened: int = 0
    updated: int = 0
    closed: int = 0


@dataclass
class SyncPlan:
    """What a run does to the alerts table."""

    as_of: date  # the day statuses are judged on
    changed: pd.DataFrame  # existing alerts to write: alert_id and store.alerts.UPDATED
    opened: pd.DataFrame  # new alerts: store.alerts.INSERTED
    continued: list[int] = field(default_factory=list)  # open alerts this run's episodes continue
    counts: SyncCounts = field(default_factory=SyncCounts)


def sync(conn: psycopg.Connection, episodes: pd.DataFrame, as_of: date, gap_days: int,
         areas: AreaHierarchy) -> SyncCounts:
    """Bring the alerts table in line with the episodes found up to `as_of` (ALERT_COLUMNS)."""
    locks.hold_for_transaction(conn, locks.ALERTS)
    since = min(episodes["first_day"]) - pd.Timedelta(days=gap_days) if len(episodes) else None
    existing = stored.read_alerts(conn, [s.value for s in OPEN_STATUSES],
                                  sorted(set(episodes["signal"])), since)
    plan = plan_sync(existing, episodes, as_of, stored.last_judged_day(conn), gap_days)
    stored.update_alerts(conn, plan.changed)  # closes first: the new alerts may replace them
    opened = stored.insert_alerts(conn, plan.opened)
    stored.link_areas(conn, area_links(opened, plan.opened["area_code"], areas))
    stored.link_parents(conn, plan.continued + opened, gap_days)
    return plan.counts


def plan_sync(existing: pd.DataFrame, episodes: pd.DataFrame, day: date, judged: date | None,
              gap_days: int) -> SyncPlan:
    """The run of `day` on the alerts it may touch (store.alerts.ALERT_FIELDS: every open
    alert, and those the episodes may meet), after runs that judged days up to `judged`."""
    as_of = max(day, judged) if judged is not None else day
    alerts = [_as_read(a) for a in existing.to_dict("records")]
    before = {a["alert_id"]: dict(a) for a in alerts}
    by_key: dict[tuple[str, str], list[dict]] = {}
    for alert in alerts:
        by_key.setdefault((alert["area_code"], alert["signal"]), []).append(alert)
    opened: list[dict] = []
    continued: set[int] = set()
    for row in sorted(episodes.to_dict("records"),
                      key=lambda r: (r["area_code"], r["signal"], r["first_day"], r["last_day"])):
        candidates = by_key.setdefault((row["area_code"], row["signal"]), [])
        match = _match(candidates, row, gap_days)
        if match is None:
            alert = _new_alert(row, day)
            candidates.append(alert)
            opened.append(alert)
        elif AlertStatus(match["status"]).is_open:
            _continue(match, row, day)
            if "alert_id" in match:
                continued.add(match["alert_id"])
    for candidates in by_key.values():
        _judge(candidates, continued, as_of, gap_days)
    counts = SyncCounts(opened=len(opened))
    changed = []
    for alert in alerts:
        old = before[alert["alert_id"]]
        if all(alert[c] == old[c] for c in stored.UPDATED if c not in ("as_of", "closed_day")):
            continue
        closed = not AlertStatus(alert["status"]).is_open
        alert.update(as_of=as_of, closed_day=as_of if closed else None)
        changed.append(alert)
        counts.updated += alert["alert_id"] in continued
        counts.closed += closed
    for alert in opened:
        closed = not AlertStatus(alert["status"]).is_open
        alert.update(as_of=as_of, closed_day=as_of if closed else None)
    return SyncPlan(as_of=as_of,
                    changed=pd.DataFrame(changed, columns=["alert_id", *stored.UPDATED]),
                    opened=pd.DataFrame(opened, columns=list(stored.INSERTED)),
                    continued=sorted(continued), counts=counts)


def _match(candidates: list[dict], row: dict, gap_days: int) -> dict | None:
    """The alert whose span meets the episode's (within gap_days), preferring open ones."""
    meeting = [c for c in candidates
               if (row["first_day"] - c["last_day"]).days <= gap_days
               and (c["first_day"] - row["last_day"]).days <= gap_days]
    if not meeting:
        return None
    return min(meeting, key=lambda c: (not AlertStatus(c["status"]).is_open,
                                       abs((c["first_day"] - row["first_day"]).days)))


def _as_read(alert: dict) -> dict:
    """An alert as read, its missing numbers as None."""
    return {**alert, **{c: _number(alert[c]) for c in _NUMBERS},
            "alarm_days": int(alert["alarm_days"]), "details": dict(alert["details"] or {})}


def _new_alert(row: dict, day: date) -> dict:
    alert = {c: row[c] for c in ALERT_COLUMNS}
    alert.update({c: _number(row[c]) for c in _NUMBERS}, alarm_days=int(row["alarm_days"]),
                 details=dict(row["details"] or {}), status=AlertStatus.NEW.value, details_day=day)
    return alert


def _continue(alert: dict, row: dict, day: date) -> None:
    """Fold one more episode into an alert: every figure only grows."""
    score = _number(row["score"])
    if score is not None and (alert["score"] is None or score > alert["score"]):
        alert.update(score=score, peak_day=row["peak_day"], observed=_number(row["observed"]),
                     expected=_number(row["expected"]))
    p_value = _number(row["p_value"])
    if p_value is not None and (alert["p_value"] is None or p_value < alert["p_value"]):
        alert["p_value"] = p_value
    if row["severity"] == "red":
        alert["severity"] = "red"
    # Details describe the latest alarm day, as seen by the latest run that saw it.
    seen = alert.get("details_day", alert.get("as_of")) or date.min
    if (row["last_day"], day) > (alert["last_day"], seen):
        alert["details"] = {**alert["details"], **(row["details"] or {})}
        alert["details_day"] = day
    alert["last_day"] = max(alert["last_day"], row["last_day"])
    alert["alarm_days"] = max(int(alert["alarm_days"]), int(row["alarm_days"]))


def _judge(candidates: list[dict], continued: set[int], as_of: date, gap_days: int) -> None:
    """Statuses of one area and signal's alerts as of `as_of`; at most one stays open."""
    for alert in candidates:
        current = AlertStatus(alert["status"])
        if not current.is_open:
            continue
        if "alert_id" not in alert or alert["alert_id"] in continued:
            status = next_status(None if "alert_id" not in alert else current,
                                 alert["first_day"], alert["last_day"], as_of, gap_days)
        else:  # not continued: it only closes, once quiet for long enough
            quiet = (as_of - alert["last_day"]).days > gap_days
            status = closed_status(current) if quiet else current
        alert["status"] = status.value
    still_open = [a for a in candidates if AlertStatus(a["status"]).is_open]
    # Cannot happen while the table was written by this lifecycle (an open alert that the
    # episodes do not continue is then quiet); kept so that no earlier state makes a run fail.
    for alert in sorted(still_open, key=lambda a: (a["last_day"], "alert_id" in a))[:-1]:
        alert["status"] = closed_status(AlertStatus(alert["status"])).value


def area_links(alert_ids: list[int], area_codes: pd.Series, areas: AreaHierarchy) -> pd.DataFrame:
    """(area_code, alert_id, depth) of each alert's own area (depth 0) and every enclosing one."""
    rows = []
    for alert_id, code in zip(alert_ids, area_codes, strict=True):
        position = areas.index.get_indexer([code])[0]
        chain = [code] + ([str(areas.codes[i]) for i in areas.ancestors(position)] if position >= 0 else [])
        rows += [(c, alert_id, depth) for depth, c in enumerate(chain)]
    return pd.DataFrame(rows, columns=["area_code", "alert_id", "depth"])


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value

