"""Rollups per area (every level) x day x kind x category, kept current incrementally.

Three tables (migrations 0001 and 0401):
- rollup_daily: the cases *reported* on a day (the report-day cohort): counts, counts by
  current status, hours to close (sum and histogram), and the close-day lags of the cohort;
- rollup_closed_daily: the cases *closed* on a day, whatever day they were reported;
- rollup_monthly: monthly sums of both, plus per-area totals (kind = category = '*') and
  open_end, the cases still open at the end of the month.

Open at the end of day D is the sum over days <= D of (reported - closed). A changed case can
move a closure to another day; the lags kept on its old cohort row say which closure day to
take it off, so after a merge only the touched (area, report day) rows are recounted from
cases, closures move by difference, the touched months are re-summed and open_end is carried
forward from the first touched month of each touched area. `rebuild` recomputes everything.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from core.case import AreaLevel, Status
from core.settings import GridHubSettings

DEFAULT_TIMEZONE: str = GridHubSettings.model_fields["timezone"].default
# Upper edges (hours) of the hours-to-close histogram; one more bucket holds longer closes.
HOUR_EDGES = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720, 1080, 1440,
              2160, 4320)
HIST_BUCKETS = len(HOUR_EDGES) + 1
STATUS_COLUMNS = tuple(f"status_{s.value}" for s in Status)
# Measures that add up over days and areas (both daily and monthly tables hold them).
ADDITIVE = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed",
            "close_hours_sum", *STATUS_COLUMNS)
TOTAL = "*"  # kind and category of the per-area total rows in rollup_monthly
NOTIFY_CHANNEL = "gridhub_rollups"
REFRESH_LOCK_ID = 7_160_406  # advisory lock serialising rollup refreshes and rebuilds


def _ids(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _cohort_counts(column: str, join: sql.Composable) -> sql.Composed:
    """Per (area, report day, kind, category, close lag) counts of the cases that `join`
    (a JOIN clause, or nothing for every case) keeps."""
    statuses = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE status = {}) AS {}").format(sql.Literal(s.value),
                                                                    sql.Identifier(f"status_{s.value}"))
        for s in Status)
    buckets = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE bucket = {}) AS {}").format(sql.Literal(i), sql.Identifier(f"h{i}"))
        for i in range(HIST_BUCKETS))
    # OFFSET 0 keeps each subquery whole, so hours and bucket are computed once per case
    # rather than once per aggregate that reads them.
    return sql.SQL("""
        SELECT code, day, kind, category, lag,
               count(*) AS reported,
               count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved,
               count(*) FILTER (WHERE status = 'in_mediation') AS in_mediation,
               count(*) FILTER (WHERE outcome = 'settled') AS settled,
               count(*) FILTER (WHERE outcome = 'not_settled') AS not_settled,
               count(hours) AS closed,
               coalesce(sum(hours), 0) AS close_hours_sum,
               {statuses}, {buckets}
        FROM (
            SELECT *, width_bucket(hours, {edges}) AS bucket
            FROM (
                SELECT c.{col} AS code, c.report_day AS day, c.kind, c.category, c.status, c.outcome,
                       CASE WHEN c.closed_at IS NOT NULL THEN greatest(
                           (c.closed_at AT TIME ZONE %(tz)s)::date - c.report_day, 0) END AS lag,
                       CASE WHEN c.closed_at IS NOT NULL THEN greatest(
                           extract(epoch FROM c.closed_at - c.reported_at) / 3600.0, 0)::float8 END AS hours
                FROM cases c {join}
                WHERE c.{col} IS NOT NULL
                OFFSET 0
            ) per_case
            OFFSET 0
        ) c
        GROUP BY 1, 2, 3, 4, 5""").format(
        col=sql.Identifier(column), join=join, statuses=statuses, buckets=buckets,
        edges=sql.SQL("ARRAY[{}]::float8[]").format(sql.SQL(", ").join(map(sql.Literal, HOUR_EDGES))))


def _insert_daily(level: AreaLevel, join: sql.Composable) -> sql.Composed:
    """INSERT INTO rollup_daily from the cases `join` keeps, returning each row's close lags."""
    sums = sql.SQL(", ").join(
        sql.SQL("sum({n})").format(n=sql.Identifier(n)) if n == "close_hours_sum"
        else sql.SQL("sum({n})::int").format(n=sql.Identifier(n)) for n in ADDITIVE)
    hist = sql.SQL(", ").join(sql.SQL("sum({})::int").format(sql.Identifier(f"h{i}"))
                              for i in range(HIST_BUCKETS))
    return sql.SQL("""
        INSERT INTO rollup_daily (area_code, level, day, kind, category, {additive}, close_hist,
                                  close_lags, close_lag_counts)
        SELECT code, {level}, day, kind, category, {sums}, ARRAY[{hist}],
               coalesce(array_agg(lag ORDER BY lag) FILTER (WHERE lag IS NOT NULL), '{{}}'),
               coalesce(array_agg(closed::int ORDER BY lag) FILTER (WHERE lag IS NOT NULL), '{{}}')
        FROM ({counts}) g
        GROUP BY code, day, kind, category
        RETURNING area_code, day, kind, category, close_lags, close_lag_counts""").format(
        additive=_ids(ADDITIVE), level=sql.Literal(level.value), sums=sums, hist=hist,
        counts=_cohort_counts(level.code_column, join))


def _monthly_from_daily(source_filter: sql.Composable, with_open_end: bool = False) -> sql.Composed:
    """INSERT INTO rollup_monthly the sums of both daily tables over rows passing the filter.

    The filter may use `d` (a daily row with columns area_code and day) and must keep whole
    months; it is applied to rollup_daily and rollup_closed_daily alike. with_open_end also
    fills open_end (right only when every month of each area is being inserted).
    """
    month_sums = sql.SQL(", ").join(
        sql.SQL("sum({n}) AS {n}").format(n=sql.Identifier(n)) if n == "close_hours_sum"
        else sql.SQL("sum({n})::int AS {n}").format(n=sql.Identifier(n)) for n in ADDITIVE)
    zeros = sql.SQL(", ").join(sql.SQL("0 AS {}").format(sql.Identifier(n)) for n in ADDITIVE)
    hist = sql.SQL(", ").join(sql.SQL("coalesce(sum(close_hist[{}]), 0)::int").format(sql.Literal(i + 1))
                              for i in range(HIST_BUCKETS))
    open_end = sql.SQL(
        ", sum(reported - closed_on) OVER (PARTITION BY area_code, kind, category ORDER BY month)"
        if with_open_end else "")
    return sql.SQL("""
        INSERT INTO rollup_monthly (area_code, level, month, kind, category, {additive},
                                    close_hist, closed_on {open_end_col})
        SELECT *{open_end} FROM (
        SELECT area_code, level, month,
               CASE WHEN grouping(kind) = 1 THEN {total} ELSE kind END AS kind,
               CASE WHEN grouping(category) = 1 THEN {total} ELSE category END AS category,
               {month_sums}, ARRAY[{hist}] AS close_hist, sum(closed_on)::int AS closed_on
        FROM (
            SELECT d.area_code, d.level, date_trunc('month', d.day)::date AS month, d.kind,
                   d.category, {additive_d}, d.close_hist, 0 AS closed_on
            FROM rollup_daily d {filter}
            UNION ALL
            SELECT d.area_code, d.level, date_trunc('month', d.day)::date, d.kind, d.category,
                   {zeros}, NULL::integer[], d.closed
            FROM rollup_closed_daily d {filter}
        ) u
        GROUP BY GROUPING SETS ((area_code, level, month, kind, category), (area_code, level, month))
        ) g
    """).format(open_end=open_end, open_end_col=sql.SQL(", open_end" if with_open_end else ""),
                additive=_ids(ADDITIVE), total=sql.Literal(TOTAL), month_sums=month_sums,
                hist=hist, additive_d=sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(n))
                                                         for n in ADDITIVE),
                zeros=zeros, filter=source_filter)


_CARRY_OPEN_END = sql.SQL("""
    UPDATE rollup_monthly m SET open_end = w.open_end
    FROM (
        SELECT area_code, month, kind, category,
               sum(reported - closed_on) OVER (PARTITION BY area_code, kind, category
                                               ORDER BY month) AS open_end
        FROM rollup_monthly r {scope}
    ) w {from_month}
    WHERE m.area_code = w.area_code AND m.month = w.month AND m.kind = w.kind
      AND m.category = w.category AND m.open_end IS DISTINCT FROM w.open_end""")


def refresh_touched(conn: psycopg.Connection, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Recompute rollups for the (area, day) pairs in the temp table touched_days.

    Returns the number of rollup_daily rows written. `timezone` decides the local day a case
    was closed on and must be the city's (GridHubSettings.timezone).
    """
    exists = conn.execute("SELECT to_regclass('pg_temp.touched_days')").fetchone()[0]
    if exists is None:
        return 0
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM touched_days)").fetchone()[0]:
        return 0
    # One refresh at a time: a second ingest waits here until the first commits, then recounts
    # with the first one's cases visible (each statement sees what is committed by then).
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK_ID,))
    conn.execute("SET LOCAL jit = off")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_moves (area_code text, day date,"
                 " kind text, category text, n integer) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_touched_months (code text, month date)"
                 " ON COMMIT DROP")
    conn.execute("TRUNCATE rollup_touched_months")
    written = 0
    for level in AreaLevel:
        written += _refresh_level(conn, level, timezone)
    conn.execute("DELETE FROM rollup_monthly m USING rollup_touched_months t"
                 " WHERE m.area_code = t.code AND m.month = t.month")
    conn.execute(_monthly_from_daily(sql.SQL(
        "JOIN rollup_touched_months t ON d.area_code = t.code AND d.day >= t.month"
        " AND d.day < (t.month + interval '1 month')::date")))
    conn.execute(_CARRY_OPEN_END.format(
        scope=sql.SQL("WHERE r.area_code IN (SELECT code FROM rollup_touched_months)"),
        from_month=sql.SQL("JOIN (SELECT code, min(month) AS first_month FROM rollup_touched_months"
                           " GROUP BY code) f ON f.code = w.area_code AND w.month >= f.first_month")))
    conn.execute("TRUNCATE touched_days")
    _announce(conn)
    return written


def _refresh_level(conn: psycopg.Connection, level: AreaLevel, timezone: str) -> int:
    column = sql.Identifier(level.code_column)
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE touched_pairs ON COMMIT DROP AS"
        " SELECT DISTINCT {col} AS code, day FROM touched_days WHERE {col} IS NOT NULL"
    ).format(col=column))
    conn.execute("TRUNCATE rollup_moves")
    # Take the old cohort rows away, remembering their closures as negative moves ...
    conn.execute("""
        WITH old AS (
            DELETE FROM rollup_daily r USING touched_pairs t
            WHERE r.area_code = t.code AND r.day = t.day
            RETURNING r.area_code, r.day, r.kind, r.category, r.close_lags, r.close_lag_counts
        )
        INSERT INTO rollup_moves
        SELECT area_code, day + lag, kind, category, -n
        FROM old, unnest(close_lags, close_lag_counts) AS u(lag, n)""")
    # ... recount them from cases, their closures as positive moves ...
    conn.execute(sql.SQL("""
        WITH new AS ({insert})
        INSERT INTO rollup_moves
        SELECT area_code, day + lag, kind, category, n
        FROM new, unnest(close_lags, close_lag_counts) AS u(lag, n)""").format(
        insert=_insert_daily(level, sql.SQL(
            "JOIN touched_pairs t ON c.{col} = t.code AND c.report_day = t.day").format(col=column))),
        {"tz": timezone})
    written = conn.execute("SELECT count(*) FROM rollup_daily r JOIN touched_pairs t"
                           " ON r.area_code = t.code AND r.day = t.day").fetchone()[0]
    # ... and move the closures by the difference.
    conn.execute("""
        INSERT INTO rollup_closed_daily AS r (area_code, level, day, kind, category, closed)
        SELECT area_code, %s, day, kind, category, sum(n)
        FROM rollup_moves GROUP BY area_code, day, kind, category HAVING sum(n) <> 0
        ON CONFLICT (area_code, day, kind, category) DO UPDATE SET closed = r.closed + EXCLUDED.closed
        """, (level.value,))
    conn.execute("DELETE FROM rollup_closed_daily r USING rollup_moves m"
                 " WHERE r.area_code = m.area_code AND r.day = m.day AND r.closed = 0")
    conn.execute("""
        INSERT INTO rollup_touched_months
        SELECT code, date_trunc('month', day)::date FROM touched_pairs
        UNION SELECT area_code, date_trunc('month', day)::date FROM rollup_moves
        EXCEPT SELECT code, month FROM rollup_touched_months""")
    conn.execute("DROP TABLE touched_pairs")
    return written


def rebuild(conn: psycopg.Connection, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Recompute every rollup row from cases (after a boundary change, or a bulk load)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK_ID,))
    conn.execute("SET LOCAL jit = off")  # compiling these big aggregates costs more than it saves
    conn.execute("TRUNCATE rollup_daily, rollup_closed_daily, rollup_monthly")
    written = 0
    for level in AreaLevel:
        cur = conn.execute(_insert_daily(level, sql.SQL("")), {"tz": timezone})
        written += cur.rowcount
    conn.execute("""
        INSERT INTO rollup_closed_daily (area_code, level, day, kind, category, closed)
        SELECT area_code, level, day + lag, kind, category, sum(n)
        FROM rollup_daily, unnest(close_lags, close_lag_counts) AS u(lag, n)
        GROUP BY area_code, level, day + lag, kind, category""")
    conn.execute(_monthly_from_daily(sql.SQL(""), with_open_end=True))
    _announce(conn)
    return written


def _announce(conn: psycopg.Connection) -> None:
    """Move the rollup generation on and tell listening API workers (on commit)."""
    conn.execute("SELECT nextval('rollup_generation')")
    conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(NOTIFY_CHANNEL)))
