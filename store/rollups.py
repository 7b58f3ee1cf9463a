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

Either way cases are read twice, whatever the number of levels: one pass sums them per area
chain (grid, community, street, district, city codes) x day x kind x category into a
temporary "base", another counts the closed ones per chain x day x kind x category x close lag
into a "lags" table, and each level's tables are summed from those of the level below. A bulk
load recounts everything that way, with the rollup tables' indexes built after.
"""

from __future__ import annotations

from contextlib import ExitStack

import psycopg
from psycopg import sql

from core.case import AreaLevel, Status
from core.settings import GridHubSettings
from store.loading import indexes_built_after

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


_HIST = tuple(f"h{i}" for i in range(HIST_BUCKETS))
_BASE_MEASURES = (*ADDITIVE, *_HIST)
# Finest level first: each level's base is summed from the one below it.
_LEVELS_UP = tuple(reversed(AreaLevel))


def _base_table(level: AreaLevel) -> sql.Identifier:
    return sql.Identifier(f"rollup_base_{level.value}")


def _lags_table(level: AreaLevel) -> sql.Identifier:
    return sql.Identifier(f"rollup_lags_{level.value}")


def _chain(level: AreaLevel) -> list[str]:
    """Code columns of a level and every level above it."""
    return [lvl.code_column for lvl in AreaLevel if lvl.depth <= level.depth]


def _case_chain() -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(n)) for n in _chain(AreaLevel.GRID))


def _base_from_cases(day_filter: sql.Composable) -> sql.Composed:
    """Temp table of measures per area chain x report day x kind x category, from the cases
    on the days day_filter keeps (a condition on `c`).

    One pass over cases serves every level: the levels above are summed from this table.
    """
    keys = [*_chain(AreaLevel.GRID), "day", "kind", "category"]
    statuses = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE status = {}) AS {}").format(sql.Literal(s.value),
                                                                    sql.Identifier(f"status_{s.value}"))
        for s in Status)
    buckets = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE bucket = {}) AS {}").format(sql.Literal(i), sql.Identifier(h))
        for i, h in enumerate(_HIST))
    # OFFSET 0 keeps each subquery whole, so hours and bucket are computed once per case
    # rather than once per aggregate that reads them.
    return sql.SQL("""
        CREATE TEMP TABLE {base} ON COMMIT DROP AS
        SELECT {keys},
               count(*)::int AS reported,
               count(*) FILTER (WHERE status IN ('resolved', 'closed'))::int AS resolved,
               count(*) FILTER (WHERE status = 'in_mediation')::int AS in_mediation,
               count(*) FILTER (WHERE outcome = 'settled')::int AS settled,
               count(*) FILTER (WHERE outcome = 'not_settled')::int AS not_settled,
               count(hours)::int AS closed,
               coalesce(sum(hours), 0) AS close_hours_sum,
               {statuses}, {buckets}
        FROM (
            SELECT *, width_bucket(hours, {edges}) AS bucket
            FROM (
                SELECT {case_chain}, c.report_day AS day, c.kind, c.category, c.status, c.outcome,
                       CASE WHEN c.closed_at IS NOT NULL THEN greatest(
                           extract(epoch FROM c.closed_at - c.reported_at) / 3600.0, 0)::float8 END AS hours
                FROM cases c WHERE {day_filter}
                OFFSET 0
            ) per_case
            OFFSET 0
        ) c
        GROUP BY {keys}""").format(
        base=_base_table(AreaLevel.GRID), keys=_ids(keys), statuses=statuses, buckets=buckets,
        case_chain=_case_chain(), day_filter=day_filter,
        edges=sql.SQL("ARRAY[{}]::float8[]").format(sql.SQL(", ").join(map(sql.Literal, HOUR_EDGES))))


def _lags_from_cases(day_filter: sql.Composable) -> sql.Composed:
    """Temp table of closed cases per area chain x report day x kind x category x close lag
    (local days from report to close), from the cases on the days day_filter keeps."""
    keys = [*_chain(AreaLevel.GRID), "day", "kind", "category", "lag"]
    return sql.SQL("""
        CREATE TEMP TABLE {lags} ON COMMIT DROP AS
        SELECT {keys}, count(*)::int AS closed
        FROM (
            SELECT {case_chain}, c.report_day AS day, c.kind, c.category,
                   greatest((c.closed_at AT TIME ZONE %(tz)s)::date - c.report_day, 0) AS lag
            FROM cases c WHERE c.closed_at IS NOT NULL AND {day_filter}
        ) c
        GROUP BY {keys}""").format(lags=_lags_table(AreaLevel.GRID), keys=_ids(keys),
                                   case_chain=_case_chain(), day_filter=day_filter)


def _sum_up(table, level: AreaLevel, lag: bool, measures) -> sql.Composed:
    """The `table(level)` temp table summed from `table` of the level below it (cases located
    no further down than `level`, or not at all, are carried up with a null code below it)."""
    below = AreaLevel(list(AreaLevel)[level.depth + 1])
    keys = [*_chain(level), "day", "kind", "category", *(["lag"] if lag else [])]
    return sql.SQL("""
        CREATE TEMP TABLE {target} ON COMMIT DROP AS
        SELECT {keys}, {sums} FROM {below} GROUP BY {keys}""").format(
        target=table(level), below=table(below), keys=_ids(keys), sums=_sums(measures, named=True))


def _sums(names, named: bool = False) -> sql.Composable:
    """sum() of each measure, integers kept integer."""
    return sql.SQL(", ").join(
        sql.SQL("sum({n})" if n == "close_hours_sum" else "sum({n})::int").format(n=sql.Identifier(n))
        + (sql.SQL(" AS {}").format(sql.Identifier(n)) if named else sql.SQL(""))
        for n in names)


def _build_bases(conn: psycopg.Connection, day_filter: sql.Composable, timezone: str) -> None:
    """Fill rollup_base_<level> and rollup_lags_<level> for every level (see _base_from_cases
    and _lags_from_cases). Without lags in its key a base shrinks level by level."""
    for level in _LEVELS_UP:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(_base_table(level), _lags_table(level)))
    conn.execute(_base_from_cases(day_filter))
    conn.execute(_lags_from_cases(day_filter), {"tz": timezone})
    for level in _LEVELS_UP[1:]:
        conn.execute(_sum_up(_base_table, level, False, _BASE_MEASURES))
        conn.execute(_sum_up(_lags_table, level, True, ["closed"]))


def _insert_daily(level: AreaLevel, join: sql.Composable, returning: bool = False) -> sql.Composed:
    """INSERT INTO rollup_daily the level's base rows `join` keeps (a JOIN clause on `b`, or
    nothing for all), with their close lags; returning each row's lags if asked.

    An area's parents are the same for all its cases, so a base row is one daily row.
    """
    col = sql.Identifier(level.code_column)
    return sql.SQL("""
        INSERT INTO rollup_daily (area_code, level, day, kind, category, {additive}, close_hist,
                                  close_lags, close_lag_counts)
        SELECT b.{col}, {level}, b.day, b.kind, b.category, {additive_b}, ARRAY[{hist}],
               coalesce(l.lags, '{{}}'), coalesce(l.counts, '{{}}')
        FROM {base} b {join}
        LEFT JOIN (
            SELECT code, day, kind, category, array_agg(lag) AS lags, array_agg(closed) AS counts
            FROM (
                -- Sorted here so that each row's lags arrive in order, without a sort per
                -- row (what array_agg(... ORDER BY lag) would do).
                SELECT b.{col} AS code, b.day, b.kind, b.category, b.lag, b.closed
                FROM {lags} b {join}
                WHERE b.{col} IS NOT NULL
                ORDER BY 1, 2, 3, 4, 5
            ) sorted
            GROUP BY code, day, kind, category
        ) l ON l.code = b.{col} AND l.day = b.day AND l.kind = b.kind AND l.category = b.category
        WHERE b.{col} IS NOT NULL {returning}""").format(
        additive=_ids(ADDITIVE), level=sql.Literal(level.value),
        additive_b=sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(n)) for n in ADDITIVE),
        hist=sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(h)) for h in _HIST),
        base=_base_table(level), lags=_lags_table(level), col=col, join=join,
        returning=sql.SQL("RETURNING area_code, day, kind, category, close_lags, close_lag_counts"
                          if returning else ""))


def _daily_sources(source_filter: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """Report-day and close-day rows of the daily tables that pass the filter (on `d`)."""
    reported = sql.SQL("SELECT d.area_code, d.level, d.day, d.kind, d.category, {additive}, {hist}"
                       " FROM rollup_daily d {filter}").format(
        additive=sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(n)) for n in ADDITIVE),
        hist=sql.SQL(", ").join(sql.SQL("d.close_hist[{}] AS {}").format(sql.Literal(i + 1), sql.Identifier(h))
                                for i, h in enumerate(_HIST)),
        filter=source_filter)
    closed = sql.SQL("SELECT d.area_code, d.level, d.day, d.kind, d.category, d.closed"
                     " FROM rollup_closed_daily d {filter}").format(filter=source_filter)
    return reported, closed


def _base_sources(level: AreaLevel) -> tuple[sql.Composable, sql.Composable]:
    """Report-day and close-day rows of one level, straight from its base and lags tables."""
    values = dict(code=sql.Identifier(level.code_column), level=sql.Literal(level.value))
    reported = sql.SQL(
        "SELECT {code} AS area_code, {level} AS level, day, kind, category, {measures}"
        " FROM {base} WHERE {code} IS NOT NULL").format(
        measures=_ids(_BASE_MEASURES), base=_base_table(level), **values)
    closed = sql.SQL(
        "SELECT {code}, {level}, day + lag, kind, category, closed"
        " FROM {lags} WHERE {code} IS NOT NULL").format(lags=_lags_table(level), **values)
    return reported, closed


def _insert_monthly(sources: tuple[sql.Composable, sql.Composable],
                    with_open_end: bool = False) -> sql.Composed:
    """INSERT INTO rollup_monthly the month sums of report-day and close-day rows.

    The rows (see _daily_sources) must cover whole months. with_open_end also fills open_end
    (right only when every month of each area is being inserted).
    """
    # Each side is summed to months on its own (hash aggregates, no wide sort), the two are
    # joined, and the per-area totals are summed from those month rows.
    reported_rows, closed_rows = sources
    keys = sql.SQL("area_code, level, month, kind, category")
    detail_values = sql.SQL(", ").join(
        sql.SQL("coalesce(r.{n}, 0) AS {n}").format(n=sql.Identifier(n)) for n in _BASE_MEASURES)
    open_end = sql.SQL(
        ", sum(reported - closed_on) OVER (PARTITION BY area_code, kind, category ORDER BY month)"
        if with_open_end else "")
    return sql.SQL("""
        WITH reported AS (
            SELECT area_code, level, date_trunc('month', day)::date AS month, kind, category, {sums}
            FROM ({reported_rows}) x
            GROUP BY 1, 2, 3, 4, 5
        ), closed AS (
            SELECT area_code, level, date_trunc('month', day)::date AS month, kind, category,
                   sum(closed)::int AS closed_on
            FROM ({closed_rows}) x (area_code, level, day, kind, category, closed)
            GROUP BY 1, 2, 3, 4, 5
        ), detail AS MATERIALIZED (
            SELECT {keys}, {detail_values}, coalesce(c.closed_on, 0) AS closed_on
            FROM reported r FULL JOIN closed c USING (area_code, level, month, kind, category)
        ), month_rows AS (
            SELECT * FROM detail
            UNION ALL
            SELECT area_code, level, month, {total}, {total}, {measure_sums}
            FROM detail GROUP BY area_code, level, month
        )
        INSERT INTO rollup_monthly (area_code, level, month, kind, category, {additive},
                                    close_hist, closed_on {open_end_col})
        SELECT {keys}, {additive}, ARRAY[{hist}], closed_on {open_end} FROM month_rows
    """).format(keys=keys, sums=_sums(_BASE_MEASURES, named=True), reported_rows=reported_rows,
                closed_rows=closed_rows, detail_values=detail_values, total=sql.Literal(TOTAL),
                measure_sums=_sums((*_BASE_MEASURES, "closed_on")), additive=_ids(ADDITIVE),
                hist=_ids(_HIST), open_end=open_end,
                open_end_col=sql.SQL(", open_end" if with_open_end else ""))


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


def refresh_touched(conn: psycopg.Connection, timezone: str = DEFAULT_TIMEZONE,
                    recount_all: bool = False) -> int:
    """Recompute rollups for the (area, day) pairs in the temp table touched_days.

    Returns the number of rollup_daily rows written. `timezone` decides the local day a case
    was closed on and must be the city's (GridHubSettings.timezone). recount_all (after a
    bulk load, which touches most pairs) recounts every rollup in one pass instead.
    """
    exists = conn.execute("SELECT to_regclass('pg_temp.touched_days')").fetchone()[0]
    if exists is None:
        return 0
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM touched_days)").fetchone()[0]:
        return 0
    # One refresh at a time: a second ingest waits here until the first commits, then recounts
    # with the first one's cases visible (each statement sees what is committed by then).
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK_ID,))
    _tune(conn)
    written = _recount_all(conn, timezone) if recount_all else _recount_touched(conn, timezone)
    conn.execute("TRUNCATE touched_days")
    announce(conn)
    return written


def rebuild(conn: psycopg.Connection, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Recompute every rollup row from cases (after a boundary change, or a bulk load)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK_ID,))
    _tune(conn)
    written = _recount_all(conn, timezone)
    announce(conn)
    return written


def _tune(conn: psycopg.Connection) -> None:
    # Compiling these wide aggregates costs more than it saves; memory keeps hashes off disk.
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '512MB'")


def _recount_all(conn: psycopg.Connection, timezone: str) -> int:
    """Refill the rollup tables from the bases and lags of all cases; returns daily rows written.

    The tables are emptied and written whole, so every index (keys too) is built after.
    API readers wait on the tables' locks until the commit rather than see them half-filled.
    """
    _build_bases(conn, sql.SQL("TRUE"), timezone)
    conn.execute("TRUNCATE rollup_daily, rollup_closed_daily, rollup_monthly")
    with ExitStack() as deferred:
        for table in ("rollup_daily", "rollup_closed_daily", "rollup_monthly"):
            deferred.enter_context(indexes_built_after(conn, table, keys_too=True))
        return _insert_all(conn)


def _insert_all(conn: psycopg.Connection) -> int:
    written = 0
    for level in _LEVELS_UP:
        written += conn.execute(_insert_daily(level, sql.SQL(""))).rowcount
        sources = _base_sources(level)
        conn.execute(sql.SQL("""
            INSERT INTO rollup_closed_daily (area_code, level, day, kind, category, closed)
            SELECT area_code, level, day, kind, category, sum(closed)
            FROM ({closed_rows}) x (area_code, level, day, kind, category, closed)
            GROUP BY 1, 2, 3, 4, 5 HAVING sum(closed) <> 0""").format(closed_rows=sources[1]))
        # One level at a time: the month sums of all levels at once outgrow work_mem and
        # spill to disk on large loads.
        conn.execute(_insert_monthly(sources, with_open_end=True))
    return written


def _recount_touched(conn: psycopg.Connection, timezone: str) -> int:
    """Recount the touched (area, day) rows; returns daily rows written."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_moves (area_code text, day date,"
                 " kind text, category text, n integer) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_touched_months (code text, month date)"
                 " ON COMMIT DROP")
    conn.execute("TRUNCATE rollup_touched_months")
    # The city's row of a touched day counts every case of that day, so the cases of the
    # touched days are read once, and every level is summed from that one read.
    conn.execute("DROP TABLE IF EXISTS rollup_touched_day_list")
    conn.execute("CREATE TEMP TABLE rollup_touched_day_list ON COMMIT DROP AS"
                 " SELECT DISTINCT day FROM touched_days")
    conn.execute("ANALYZE touched_days, rollup_touched_day_list")
    _build_bases(conn, sql.SQL("c.report_day IN (SELECT day FROM rollup_touched_day_list)"),
                 timezone)
    written = sum(_refresh_level(conn, level) for level in _LEVELS_UP)
    conn.execute("ANALYZE rollup_touched_months")
    conn.execute("DELETE FROM rollup_monthly m USING rollup_touched_months t"
                 " WHERE m.area_code = t.code AND m.month = t.month")
    conn.execute(_insert_monthly(_daily_sources(sql.SQL(
        "JOIN rollup_touched_months t ON d.area_code = t.code AND d.day >= t.month"
        " AND d.day < (t.month + interval '1 month')::date"))))
    conn.execute(_CARRY_OPEN_END.format(
        scope=sql.SQL("WHERE r.area_code IN (SELECT code FROM rollup_touched_months)"),
        from_month=sql.SQL("JOIN (SELECT code, min(month) AS first_month FROM rollup_touched_months"
                           " GROUP BY code) f ON f.code = w.area_code AND w.month >= f.first_month")))
    return written


def _refresh_level(conn: psycopg.Connection, level: AreaLevel) -> int:
    column = sql.Identifier(level.code_column)
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE touched_pairs ON COMMIT DROP AS"
        " SELECT DISTINCT {col} AS code, day FROM touched_days WHERE {col} IS NOT NULL"
    ).format(col=column))
    conn.execute("ANALYZE touched_pairs")
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
    # ... recount them, their closures as positive moves ...
    written = conn.execute(sql.SQL("""
        WITH new AS ({insert}), moves AS (
            INSERT INTO rollup_moves
            SELECT area_code, day + lag, kind, category, n
            FROM new, unnest(close_lags, close_lag_counts) AS u(lag, n)
        )
        SELECT count(*) FROM new""").format(
        insert=_insert_daily(level, sql.SQL("JOIN touched_pairs t ON b.{col} = t.code AND b.day = t.day")
                             .format(col=column), returning=True))).fetchone()[0]
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


def announce(conn: psycopg.Connection) -> None:
    """Move the rollup generation on and tell listening API workers (on commit), so that
    cached answers built on the rollups or on the alerts are dropped."""
    conn.execute("SELECT nextval('rollup_generation')")
    conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(NOTIFY_CHANNEL)))
