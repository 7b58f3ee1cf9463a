"""`gridhub warn run` day after day, as the scheduler runs it: every day, weekly, with days
skipped, re-run and out of order, on the demo city. No run may fail; after every run there is
at most one open alert per area and signal, every closed alert says why (resolved when it was
acknowledged, expired when not, on a day more than gap_days after its last alarm), and running
a day again leaves the alerts identical.

Beside the demo's own alarms, each test plants repeat-place escalations (a few cases at one
spot of a grid) timed so that an alert goes quiet and the place alarms again just after it may
be closed: the timings of the issue "duplicate key value violates unique constraint
alerts_one_open" (daily runs, weekly runs failing on their third run, and a later day run before
an earlier one).
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from alerts.baseline import BaselineSettings
from alerts.budget import BudgetSettings
from alerts.episodes import EpisodeSettings
from alerts.incident_panel import SF_2026, IncidentCounts, read_incidents
from alerts.methods import DetectorSettings
from alerts.run import FALSE_RATE, WarnSettings, judge_panel, run_warnings
from core.settings import PROJECT_ROOT
from store.db import connect

pytestmark = pytest.mark.slow  # every demo feed ingested, then 100 warning runs


GAP = EpisodeSettings().gap_days
START = date(2026, 8, 1)  # the demo's two years end on 2026-10-31
# Daily runs over 60 days: past the planted place's close and reopening on day 47 (BURSTS).
DAILY = [START + timedelta(days=i) for i in range(60)]
WEEKLY = [START + timedelta(days=i) for i in range(0, 90, 7)]
# Days skipped, re-run at once and later, and run out of order (offsets from START).
IRREGULAR = [70, 30, 30, 31, 35, 70, 42, 60, 45, 45, 75, 76, 89, 60, 5, 89, 50, 12, 82, 31, 86]

# The lifecycle does not depend on how the alarms were found: fewer model refits over a
# shorter history keep a run near 1.5 s instead of 5 (the configured detectors still run).
FAST = WarnSettings(judged_days=60, history_days=400,
                    detectors=DetectorSettings(baseline=BaselineSettings(refit_every=28)))

# Repeat-place bursts: (grid number, offset from START, cases). A burst of 3 keeps its place
# alarming for 30 days (the escalation window); one of 4 wakes it again despite that past.
BURSTS = [
    # Daily: alarms on days 10..39, quiet for 7 days, alarms again on day 47, the first day
    # on which the old alert may be closed.
    (0, 10, 3), (0, 47, 4),
    # Weekly (days 0, 7, 14, ...): alarms on day 0, quiet on day 7, alarms on day 14.
    (1, -29, 3), (1, 14, 4),
    # Out of order: alarms on days 20..49 and from day 65; day 70 runs before day 30.
    (2, 20, 3), (2, 65, 4),
]


def _plant_bursts(url: str) -> None:
    """Insert the BURSTS' cases (labour disputes at one point of a grid) straight into cases."""
    with psycopg.connect(url) as conn:
        grids = [code for code, in conn.execute(
            "SELECT DISTINCT ON (left(code, 6)) code FROM areas"
            " WHERE level = 'grid' AND valid_to IS NULL ORDER BY left(code, 6), code LIMIT 3")]
        for number, offset, cases in BURSTS:
            conn.execute("""
                INSERT INTO cases (source, source_record_id, record_hash, run_id, kind, category,
                                   status, reported_at, report_day, geom, grid_code, community_code,
                                   street_code, district_code, city_code, geocode_method,
                                   geocode_precision)
                SELECT 'test', format('burst-%%s-%%s-%%s', %(grid)s::text, %(day)s::date, n), md5(n::text), 0,
                       'dispute', 'labour', 'reported',
                       %(day)s::date::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '10 hours',
                       %(day)s::date, ST_PointOnSurface(g.geom), g.code, c.code, s.code, d.code,
                       d.parent_code, 'coordinates', 'grid'
                FROM areas g
                JOIN areas c ON c.code = g.parent_code AND c.valid_to IS NULL
                JOIN areas s ON s.code = c.parent_code AND s.valid_to IS NULL
                JOIN areas d ON d.code = s.parent_code AND d.valid_to IS NULL,
                     generate_series(1, %(cases)s) AS n
                WHERE g.code = %(grid)s AND g.valid_to IS NULL
                """, {"grid": grids[number], "day": START + timedelta(days=offset), "cases": cases})


def _snapshot(url: str) -> tuple[list, list]:
    """Every alert and every alert-area link, in a stable order."""
    with psycopg.connect(url) as conn:
        alerts = conn.execute("SELECT * FROM alerts ORDER BY alert_id").fetchall()
        links = conn.execute("SELECT * FROM alert_areas ORDER BY alert_id, depth").fetchall()
    return alerts, links


def _check(url: str, day: date) -> None:
    """The lifecycle's invariants, after the run of `day`."""
    with psycopg.connect(url) as conn:
        twice = conn.execute(
            "SELECT area_code, signal, count(*) FROM alerts"
            " WHERE status IN ('new', 'ongoing', 'acknowledged') GROUP BY 1, 2 HAVING count(*) > 1"
        ).fetchall()
        assert twice == [], f"{day}: more than one open alert for {twice}"
        judged = conn.execute("SELECT max(as_of) FROM warning_runs").fetchone()[0]
        unexplained = conn.execute("""
            SELECT alert_id, status, first_day, last_day, closed_day, acknowledged_at FROM alerts
            WHERE NOT CASE
                WHEN status IN ('new', 'ongoing') THEN closed_day IS NULL AND acknowledged_at IS NULL
                    AND last_day >= %(judged)s::date - %(gap)s
                WHEN status = 'acknowledged' THEN closed_day IS NULL AND acknowledged_at IS NOT NULL
                    AND last_day >= %(judged)s::date - %(gap)s
                WHEN status = 'resolved' THEN acknowledged_at IS NOT NULL
                    AND closed_day - last_day > %(gap)s AND closed_day <= %(judged)s
                WHEN status = 'expired' THEN acknowledged_at IS NULL
                    AND closed_day - last_day > %(gap)s AND closed_day <= %(judged)s
                ELSE false END
               OR first_day > last_day OR as_of < last_day OR as_of > %(judged)s
            """, {"judged": judged, "gap": GAP}).fetchall()
        assert unexplained == [], f"{day}: alerts in no valid state: {unexplained}"
        unlisted = conn.execute(
            "SELECT a.alert_id FROM alerts a LEFT JOIN alert_areas aa"
            " ON aa.alert_id = a.alert_id AND aa.depth = 0 AND aa.area_code = a.area_code"
            " WHERE aa.alert_id IS NULL").fetchall()
        assert unlisted == [], f"{day}: alerts not listed under their own area: {unlisted}"


def _acknowledge_one(url: str) -> None:
    """What POST /warnings/{id}/ack does, to the oldest alert still new or ongoing."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_by = 'grid worker',"
            " acknowledged_at = now(), updated_at = now() WHERE alert_id = ("
            "SELECT min(alert_id) FROM alerts WHERE status IN ('new', 'ongoing'))")


def _run_all(url: str, days: list[date], acknowledge_every: int = 0, run=None) -> dict[str, int]:
    """Run the days in the given order (run(day), default: warn run on the store's rollups),
    checking after each run; a day run before must leave the alerts and their links exactly
    as they were."""
    done: set[date] = set()
    seen = {"opened": 0, "closed": 0, "reruns": 0}
    for i, day in enumerate(days):
        before = _snapshot(url) if day in done else None
        result = run(day) if run else run_warnings(url, day, FAST)
        _check(url, day)
        if before is not None:
            assert _snapshot(url) == before, f"re-running {day} changed the alerts"
            assert (result.opened, result.updated, result.closed) == (0, 0, 0)
            seen["reruns"] += 1
        done.add(day)
        seen["opened"] += result.opened
        seen["closed"] += result.closed
        if acknowledge_every and i % acknowledge_every == acknowledge_every - 1:
            _acknowledge_one(url)
    return seen


def test_warn_run_every_day_in_order(all_feeds_db):
    _plant_bursts(all_feeds_db)
    # Every day, then a few of them again: a re-run, long after, changes nothing.
    seen = _run_all(all_feeds_db, DAILY + [DAILY[47], DAILY[59], DAILY[10]], acknowledge_every=9)
    assert seen["reruns"] == 3
    assert seen["opened"] > 10 and seen["closed"] > 5  # the lifecycle did turn over
    with psycopg.connect(all_feeds_db) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM alerts GROUP BY 1").fetchall())
        place = conn.execute(
            "SELECT first_day, last_day, closed_day, status IN ('resolved', 'expired') FROM alerts"
            " WHERE signal = 'escalation:repeat_place' AND area_code = ("
            "SELECT grid_code FROM cases WHERE source_record_id LIKE 'burst-%%' AND report_day = %s"
            " LIMIT 1) ORDER BY first_day", (DAILY[10],)).fetchall()
    assert {"expired", "resolved"} <= set(statuses)
    # The planted place: one alert over days 10..39, closed on day 47 as the next one opens,
    # which still alarms on the last day run (its burst keeps it alarming until day 76).
    assert place == [(DAILY[10], DAILY[39], DAILY[47], True), (DAILY[47], DAILY[59], None, False)]


def test_warn_run_weekly(all_feeds_db):
    _plant_bursts(all_feeds_db)
    seen = _run_all(all_feeds_db, WEEKLY + [WEEKLY[2], WEEKLY[0]], acknowledge_every=4)
    assert seen["reruns"] == 2 and seen["opened"] > 0


def test_warn_run_with_days_skipped_rerun_and_out_of_order(all_feeds_db):
    _plant_bursts(all_feeds_db)
    days = [START + timedelta(days=offset) for offset in IRREGULAR]
    seen = _run_all(all_feeds_db, days, acknowledge_every=5)
    assert seen["reruns"] == len(IRREGULAR) - len(set(IRREGULAR))
    with psycopg.connect(all_feeds_db) as conn:
        place = conn.execute(
            "SELECT first_day, last_day, status FROM alerts WHERE signal = 'escalation:repeat_place'"
            " AND first_day BETWEEN %s AND %s ORDER BY first_day",
            (START + timedelta(days=20), START + timedelta(days=89))).fetchall()
    # Day 30 ran after day 70: its alarm is history by then, closed as soon as it was opened.
    assert (START + timedelta(days=30), START + timedelta(days=30), "expired") in place


SF_EXTRACT = PROJECT_ROOT.parent / "shared" / "data" / "real" / "sf" / "sf_police_incidents_2026-01-01_to_04-16.csv"
# A budget far above the default, so that real alerts open, continue and close on 106 days.
SF_LOOSE = WarnSettings(detectors=DetectorSettings(
    budget=BudgetSettings(false_per_100_area_weeks={"city": 40.0, "district": 40.0})))


@pytest.fixture(scope="module")
def sf() -> IncidentCounts:
    counts = read_incidents(SF_EXTRACT, SF_2026)  # fails loudly when the shared data is missing
    panel = counts.panel()
    assert panel.shape == (42, 106) and counts.unplaced == 0  # the city and 41 neighbourhoods
    return counts


def _judge(url: str, counts: IncidentCounts, cfg: WarnSettings):
    def run(day: date):
        with connect(url) as conn:
            return judge_panel(conn, counts.panel(end=day), cfg)
    return run


SF_DAYS = [date(2026, 1, 1) + timedelta(days=i) for i in range(106)]


def test_sf_every_day_then_weekly(empty_db, sf):
    seen = _run_all(empty_db, SF_DAYS + [SF_DAYS[60], SF_DAYS[105]], acknowledge_every=11,
                    run=_judge(empty_db, sf, SF_LOOSE))
    assert seen["reruns"] == 2 and seen["opened"] >= 3 and seen["closed"] >= 1
    with psycopg.connect(empty_db) as conn:
        rates = [r for r, in conn.execute("SELECT details ->> %s FROM alerts", (FALSE_RATE,))]
        conn.execute("TRUNCATE alerts, alert_areas, warning_runs")
    # Every alert carries the expected false-alert rate of its threshold, within its budget.
    assert rates and all(r is not None and 0.0 <= float(r) <= 40.0 for r in rates), rates
    seen = _run_all(empty_db, SF_DAYS[::7] + [SF_DAYS[14]], acknowledge_every=3,
                    run=_judge(empty_db, sf, SF_LOOSE))
    assert seen["reruns"] == 1


def test_sf_days_skipped_rerun_and_out_of_order(empty_db, sf):
    offsets = [70, 45, 45, 46, 50, 70, 57, 90, 60, 60, 100, 101, 105, 75, 40, 105, 65, 52, 97, 46]
    seen = _run_all(empty_db, [SF_DAYS[i] for i in offsets], acknowledge_every=4,
                    run=_judge(empty_db, sf, SF_LOOSE))
    assert seen["reruns"] == len(offsets) - len(set(offsets)) and seen["opened"] >= 1


def test_sf_default_budget_holds_every_day(empty_db, sf):
    """With the default budget (1 false alert per 100 area-weeks), daily runs over the real
    panel, which has no known outbreak, raise at most that many alerts."""
    _run_all(empty_db, SF_DAYS, run=_judge(empty_db, sf, WarnSettings()))
    with psycopg.connect(empty_db) as conn:
        alerts = conn.execute("SELECT count(*) FROM alerts WHERE method <> 'escalation'").fetchone()[0]
    area_weeks = 42 * 106 / 7
    assert 100 * alerts / area_weeks <= 1.0, alerts
