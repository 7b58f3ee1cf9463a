"""The alert lifecycle's plan, on frames: what a run of one day does to the alerts it meets."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from alerts.lifecycle import ALERT_COLUMNS, plan_sync
from store.alerts import ALERT_FIELDS

GAP = 7
D = date(2026, 9, 1)


def _day(offset: int) -> date:
    return D + timedelta(days=offset)


def _episode(first: int, last: int, score: float = 5.0, signal: str = "group:labour",
             area: str = "G1", details: dict | None = None) -> dict:
    return {"area_code": area, "level": "grid", "signal": signal, "method": "glm+cusum",
            "severity": "yellow", "first_day": _day(first), "last_day": _day(last),
            "peak_day": _day(last), "alarm_days": last - first + 1, "observed": 4.0,
            "expected": 1.0, "score": score, "p_value": 10 ** -score,
            "details": details or {"linked_parent_days": 0}}


def _alert(alert_id: int, first: int, last: int, status: str = "ongoing", as_of: int | None = None,
           **episode) -> dict:
    row = _episode(first, last, **episode)
    closed = status in ("resolved", "expired")
    return {**row, "alert_id": alert_id, "status": status,
            "as_of": _day(last if as_of is None else as_of),
            "closed_day": _day(last if as_of is None else as_of) if closed else None}


def _existing(*alerts: dict) -> pd.DataFrame:
    return pd.DataFrame(list(alerts), columns=list(ALERT_FIELDS))


def _episodes(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(ALERT_COLUMNS))


def test_a_quiet_alert_closes_before_the_same_place_opens_a_new_one():
    # The issue: last alarm on day 0, alarms again on day 8 (the first day it may close).
    plan = plan_sync(_existing(_alert(1, 0, 0, "new")), _episodes(_episode(8, 8)), _day(8), _day(7), GAP)
    assert plan.changed[["alert_id", "status", "closed_day"]].to_dict("records") == [
        {"alert_id": 1, "status": "expired", "closed_day": _day(8)}]
    assert plan.opened[["first_day", "status", "closed_day"]].to_dict("records") == [
        {"first_day": _day(8), "status": "new", "closed_day": None}]
    assert (plan.counts.opened, plan.counts.updated, plan.counts.closed) == (1, 0, 1)


def test_an_acknowledged_alert_resolves_and_a_weekly_run_does_the_same():
    existing = _existing(_alert(1, 0, 0, "acknowledged"))
    plan = plan_sync(existing, _episodes(_episode(14, 14)), _day(14), _day(7), GAP)
    assert plan.changed["status"].tolist() == ["resolved"]
    assert plan.opened["status"].tolist() == ["new"]


def test_an_earlier_day_run_after_a_later_one_judges_as_of_the_later_day():
    # Day 40 ran first and opened an alert on day 40; now day 10 runs and finds an episode
    # that ended long before that alert began: it is history, opened closed.
    existing = _existing(_alert(1, 40, 40, "new"))
    plan = plan_sync(existing, _episodes(_episode(8, 10)), _day(10), _day(40), GAP)
    assert plan.as_of == _day(40) and plan.changed.empty
    assert plan.opened[["first_day", "last_day", "status", "as_of", "closed_day"]].to_dict("records") == [
        {"first_day": _day(8), "last_day": _day(10), "status": "expired", "as_of": _day(40),
         "closed_day": _day(40)}]


def test_a_continued_alert_takes_every_episode_once_and_only_grows():
    existing = _existing(_alert(1, 0, 5, "ongoing", score=6.0))
    # Two episodes of this run meet the alert: a weaker one inside it and a later one.
    plan = plan_sync(existing, _episodes(_episode(1, 3, score=4.0), _episode(9, 11, score=8.0)),
                     _day(11), _day(10), GAP)
    changed = plan.changed.to_dict("records")
    assert len(changed) == 1 and plan.counts.updated == 1 and plan.counts.closed == 0
    alert = changed[0]
    assert (alert["last_day"], alert["score"], alert["peak_day"], alert["status"]) == (
        _day(11), 8.0, _day(11), "ongoing")
    assert plan.continued == [1]


def test_rerunning_a_day_plans_nothing():
    existing = _existing(_alert(1, 0, 5, "ongoing", as_of=5), _alert(2, -30, -20, "expired", as_of=-12))
    episodes = _episodes(_episode(0, 5), _episode(-25, -20))
    plan = plan_sync(existing, episodes, _day(5), _day(5), GAP)
    assert plan.changed.empty and plan.opened.empty
    # An earlier day run again after later ones changes nothing either.
    plan = plan_sync(existing, _episodes(_episode(0, 3, score=4.0)), _day(3), _day(5), GAP)
    assert plan.changed.empty and plan.opened.empty


def test_details_follow_the_latest_view_of_the_latest_alarm_day():
    existing = _existing(_alert(1, 0, 5, "ongoing", as_of=6, details={"linked_parent_days": 2}))
    later = plan_sync(existing, _episodes(_episode(0, 5, details={"linked_parent_days": 3})),
                      _day(7), _day(6), GAP)
    assert later.changed["details"].tolist() == [{"linked_parent_days": 3}]
    earlier = plan_sync(existing, _episodes(_episode(0, 5, details={"linked_parent_days": 1})),
                        _day(5), _day(6), GAP)
    assert earlier.changed.empty


def test_no_state_leaves_two_alerts_open():
    # An open alert beyond the latest day judged (written by something else than this
    # lifecycle): the run still keeps one alert open, the one that alarmed last.
    existing = _existing(_alert(1, 30, 30, "ongoing"))
    plan = plan_sync(existing, _episodes(_episode(3, 5)), _day(5), None, GAP)
    assert plan.opened["status"].tolist() == ["expired"] and plan.changed.empty
