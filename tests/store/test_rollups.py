"""The rollups equal a recount from cases, and an incremental refresh equals a rebuild."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from core.case import AreaLevel, Status
from store import rollups
from store.loading import STAGE_COLUMNS, merge_cases
from store.rollups import HOUR_EDGES, STATUS_COLUMNS

TZ = "Asia/Shanghai"


def _recount_daily(conn, level: AreaLevel) -> set[tuple]:
    return set(conn.execute(sql.SQL(
        "SELECT {col}, report_day, kind, category, count(*),"
        " count(*) FILTER (WHERE status IN ('resolved', 'closed')),"
        " count(*) FILTER (WHERE status = 'unresolved'), count(*) FILTER (WHERE closed_at IS NOT NULL)"
        " FROM cases WHERE {col} IS NOT NULL GROUP BY 1, 2, 3, 4").format(
        col=sql.Identifier(level.code_column))).fetchall())


def _rollup_daily(conn, level: AreaLevel) -> set[tuple]:
    return set(conn.execute(
        "SELECT area_code, day, kind, category, reported, resolved, status_unresolved, closed"
        " FROM rollup_daily WHERE level = %s", (level.value,)).fetchall())


def _snapshot(conn) -> dict[str, set]:
    """Every rollup row as text (hour sums rounded: their float addition order may differ)."""
    return {table: {r[0] for r in conn.execute(sql.SQL(
        "SELECT (to_jsonb(t) || jsonb_build_object('close_hours_sum',"
        " round((to_jsonb(t)->>'close_hours_sum')::numeric, 6)))::text FROM {} t").format(
        sql.Identifier(table)))}
            for table in ("rollup_daily", "rollup_closed_daily", "rollup_monthly")}


def test_every_level_equals_a_recount(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        for level in AreaLevel:
            assert _rollup_daily(conn, level) == _recount_daily(conn, level), level
        closed_recount = set(conn.execute(
            "SELECT district_code, greatest((closed_at AT TIME ZONE %s)::date, report_day), count(*)"
            " FROM cases WHERE closed_at IS NOT NULL AND district_code IS NOT NULL GROUP BY 1, 2",
            (TZ,)).fetchall())
        closed_rollup = set(conn.execute(
            "SELECT area_code, day, sum(closed) FROM rollup_closed_daily WHERE level = 'district'"
            " GROUP BY 1, 2").fetchall())
        assert closed_rollup == closed_recount
        # Open at the end of each month, per district, against a recount at that instant.
        month_ends = conn.execute(
            "SELECT area_code, month, open_end FROM rollup_monthly WHERE level = 'district'"
            " AND kind = '*' AND category = '*'").fetchall()
        assert len(month_ends) > 50
        for code, month, open_end in month_ends[::7]:
            expected = conn.execute(
                "SELECT count(*) FROM cases WHERE district_code = %s"
                " AND report_day < (%s::date + interval '1 month')"
                " AND (closed_at IS NULL OR greatest((closed_at AT TIME ZONE %s)::date, report_day)"
                "      >= (%s::date + interval '1 month'))", (code, month, TZ, month)).fetchone()[0]
            assert open_end == expected, (code, month)


def _recount_measures(conn, level: AreaLevel) -> set[tuple]:
    """Every measure of a level's daily rows, counted case by case in SQL: statuses and
    outcomes, hours (rounded), one row per histogram bucket and per close lag."""
    col = sql.Identifier(level.code_column)
    per_case = sql.SQL(
        "SELECT {col} AS code, report_day AS day, kind, category, status, outcome,"
        " CASE WHEN closed_at IS NOT NULL THEN greatest(extract(epoch FROM closed_at - reported_at)"
        " / 3600.0, 0)::float8 END AS hours,"
        " CASE WHEN closed_at IS NOT NULL THEN"
        " greatest((closed_at AT TIME ZONE %(tz)s)::date - report_day, 0) END AS lag"
        " FROM cases WHERE {col} IS NOT NULL").format(col=col)
    statuses = sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE status = {})").format(sql.Literal(s.value))
                                  for s in Status)
    query = sql.SQL("""
        WITH c AS ({per_case})
        SELECT 'row', code, day, kind, category, jsonb_build_array(count(*),
               count(*) FILTER (WHERE status = 'in_mediation'),
               count(*) FILTER (WHERE outcome = 'settled'), count(*) FILTER (WHERE outcome = 'not_settled'),
               round(coalesce(sum(hours), 0)::numeric, 6), {statuses})::text
        FROM c GROUP BY code, day, kind, category
        UNION ALL
        SELECT 'bucket', code, day, kind, category,
               jsonb_build_array(width_bucket(hours, %(edges)s::float8[]), count(*))::text
        FROM c WHERE hours IS NOT NULL GROUP BY 2, 3, 4, 5, width_bucket(hours, %(edges)s::float8[])
        UNION ALL
        SELECT 'lag', code, day, kind, category, jsonb_build_array(lag, count(*))::text
        FROM c WHERE lag IS NOT NULL GROUP BY 2, 3, 4, 5, lag""").format(per_case=per_case, statuses=statuses)
    return set(conn.execute(query, {"tz": TZ, "edges": list(HOUR_EDGES)}).fetchall())


def _rollup_measures(conn, level: AreaLevel) -> set[tuple]:
    statuses = sql.SQL(", ").join(sql.Identifier(c) for c in STATUS_COLUMNS)
    query = sql.SQL("""
        SELECT 'row', area_code, day, kind, category, jsonb_build_array(reported, in_mediation,
               settled, not_settled, round(close_hours_sum::numeric, 6), {statuses})::text
        FROM rollup_daily WHERE level = %(level)s
        UNION ALL
        SELECT 'bucket', area_code, day, kind, category, jsonb_build_array(i - 1, n)::text
        FROM rollup_daily, unnest(close_hist) WITH ORDINALITY AS u(n, i) WHERE level = %(level)s AND n > 0
        UNION ALL
        SELECT 'lag', area_code, day, kind, category, jsonb_build_array(lag, n)::text
        FROM rollup_daily, unnest(close_lags, close_lag_counts) AS u(lag, n)
        WHERE level = %(level)s""").format(statuses=statuses)
    return set(conn.execute(query, {"level": level.value}).fetchall())


def test_every_measure_equals_a_case_by_case_recount(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        # The hotline has no mediation outcomes: give some cases each outcome.
        conn.execute("UPDATE cases SET outcome = CASE WHEN case_id % 2 = 0 THEN 'settled'"
                     " ELSE 'not_settled' END WHERE case_id % 5 = 0")
        rollups.rebuild(conn, TZ)
        settled = conn.execute("SELECT sum(settled), sum(not_settled) FROM rollup_daily"
                               " WHERE level = 'city'").fetchone()
        assert min(settled) > 100
        for level in (AreaLevel.GRID, AreaLevel.DISTRICT, AreaLevel.CITY):
            recount = _recount_measures(conn, level)
            assert any(kind == "lag" for kind, *_ in recount)
            assert _rollup_measures(conn, level) == recount, level
        merge_cases(conn, 999, _changed_cases(conn, 300))
        rollups.refresh_touched(conn, TZ)
        for level in (AreaLevel.GRID, AreaLevel.STREET):
            assert _rollup_measures(conn, level) == _recount_measures(conn, level), level


def _changed_cases(conn, n: int) -> pd.DataFrame:
    """n stored cases with new statuses, close times, days and grids, ready to merge again."""
    cols = [c for c in STAGE_COLUMNS if c not in ("lon", "lat", "position")]
    cur = conn.execute(sql.SQL(
        "SELECT {}, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases"
        " WHERE grid_code IS NOT NULL ORDER BY case_id LIMIT %s").format(
        sql.SQL(", ").join(map(sql.Identifier, cols))), (n,))
    frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    other = conn.execute("SELECT grid_code, community_code, street_code, district_code FROM cases"
                         " WHERE grid_code IS NOT NULL ORDER BY case_id DESC LIMIT 1").fetchone()
    third = len(frame) // 3
    # a third closed later (a closure moves days), a third re-opened, a third moved day and grid
    frame.loc[:third, "closed_at"] = frame.loc[:third, "reported_at"] + pd.Timedelta(days=40)
    frame.loc[:third, "status"] = "resolved"
    frame.loc[third:2 * third, "closed_at"] = pd.NaT
    frame.loc[third:2 * third, "status"] = "in_mediation"
    moved = frame.index[2 * third:]
    frame.loc[moved, "report_day"] = pd.to_datetime(frame.loc[moved, "report_day"]) - pd.Timedelta(days=3)
    frame.loc[moved, ["grid_code", "community_code", "street_code", "district_code"]] = list(other)
    frame["record_hash"] = frame["record_hash"] + "-v2"
    frame["position"] = range(len(frame))
    frame["attributes"] = None
    return frame


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_incremental_refresh_equals_a_rebuild(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        total_rows = conn.execute("SELECT count(*) FROM rollup_daily").fetchone()[0]
        changed = _changed_cases(conn, 300)
        merged = merge_cases(conn, 999, changed)
        assert merged.updated == 300
        written = rollups.refresh_touched(conn, TZ)
        assert 0 < written < total_rows / 5  # only the touched pairs were recomputed
        incremental = _snapshot(conn)
        for level in AreaLevel:
            assert _rollup_daily(conn, level) == _recount_daily(conn, level), level
        rollups.rebuild(conn, TZ)
        rebuilt = _snapshot(conn)
    for table in incremental:
        assert incremental[table] == rebuilt[table], table


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_two_ingests_refreshing_at_once_end_like_a_rebuild(hotline_db):
    import threading

    with psycopg.connect(hotline_db) as conn:
        changed = _changed_cases(conn, 400)
    first, second = changed.iloc[:200].copy(), changed.iloc[200:].copy()
    second["position"] = range(len(second))
    a = psycopg.connect(hotline_db)
    merge_cases(a, 998, first)
    rollups.refresh_touched(a, TZ)  # holds the refresh lock until it commits

    def other_ingest():
        with psycopg.connect(hotline_db) as b:
            merge_cases(b, 999, second)
            rollups.refresh_touched(b, TZ)

    worker = threading.Thread(target=other_ingest)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive()  # waiting for the first refresh
    a.commit()
    a.close()
    worker.join(timeout=60)
    with psycopg.connect(hotline_db) as conn:
        incremental = _snapshot(conn)
        rollups.rebuild(conn, TZ)
        rebuilt = _snapshot(conn)
    for table in incremental:
        assert incremental[table] == rebuilt[table], table


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_a_rebuild_in_many_slices_equals_one_in_a_single_slice(hotline_db, monkeypatch):
    with psycopg.connect(hotline_db) as conn:
        per_day = conn.execute("SELECT count(*) / count(DISTINCT report_day) FROM cases").fetchone()[0]
        monkeypatch.setattr(rollups, "SLICE_CASES", 10 ** 9)
        rollups.rebuild(conn, TZ)
        whole = _snapshot(conn)
        # About ten days a slice: months split across slices, closures wait for later ones.
        monkeypatch.setattr(rollups, "SLICE_CASES", per_day * 10)
        rollups.rebuild(conn, TZ)
        sliced = _snapshot(conn)
    assert all(len(rows) > 1000 for rows in whole.values())
    for table in whole:
        assert sliced[table] == whole[table], table
