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

Either way the cases of the days concerned are read once, a slice of whole days at a time,
and counted at every level in memory (store.rollup_counts); COPY writes the rows. A bulk
load recounts everything that way, with the rollup tables' indexes built after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

from core.case import AreaLevel
from core.settings import GridHubSettings
from store import locks
from store.copy import copy_table
from store.loading import analyze_if_grown, indexes_built_after, sql_text
from store.rollup_counts import (
    ADDITIVE,
    CASE_COLUMNS,
    CLOSED_COLUMNS,
    DAILY_COLUMNS,
    HIST,
    HIST_BUCKETS,
    HOUR_EDGES,
    MONTH_KEYS,
    MONTH_MEASURES,
    STATUS_COLUMNS,
    TOTAL,
    LevelCounts,
    add_open_end,
    count_level,
    for_copy,
    monthly_rows,
    sum_by,
)

DEFAULT_TIMEZONE: str = GridHubSettings.model_fields["timezone"].default
NOTIFY_CHANNEL = "gridhub_rollups"


# The measures are defined with the counting (store.rollup_counts); the API reads them here.
__all__ = ["ADDITIVE", "HIST_BUCKETS", "HOUR_EDGES", "STATUS_COLUMNS", "TOTAL", "NOTIFY_CHANNEL",
           "refresh_touched", "rebuild", "announce"]
# Cases counted in memory at a time (whole days, so a day of more cases is one slice): it
# bounds the rebuild's memory however many cases there are (README, "Bulk loads").
SLICE_CASES = 125_000


def _ids(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _read_cases(conn: psycopg.Connection, day_filter: sql.Composable,
                timezone: str) -> Iterator[pa.Table]:
    """The rollup columns of the cases on the days day_filter keeps (a condition on `c`), in
    day order, a slice of whole days at a time.

    Each slice is read whole with COPY before it is counted: the connection is needed again
    to write the slice's rows, and only it sees this transaction's cases.
    """
    days = conn.execute(sql.SQL("SELECT c.report_day, count(*) FROM cases c WHERE {}"
                                " GROUP BY 1 ORDER BY 1").format(day_filter)).fetchall()
    for first, last in _slices(days, SLICE_CASES):
        yield _copy_out(conn, sql.SQL("""
            SELECT {codes}, c.report_day, c.kind, c.category, c.status, c.outcome,
                   CASE WHEN c.closed_at IS NOT NULL THEN greatest(
                       extract(epoch FROM c.closed_at - c.reported_at) / 3600.0, 0)::float8 END,
                   CASE WHEN c.closed_at IS NOT NULL THEN
                       greatest((c.closed_at AT TIME ZONE {tz})::date - c.report_day, 0) END
            FROM cases c WHERE {day_filter}
              AND c.report_day BETWEEN {first} AND {last}
            """).format(
            codes=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(level.code_column))
                                     for level in AreaLevel),
            tz=sql.Literal(timezone), day_filter=day_filter, first=sql.Literal(first),
            last=sql.Literal(last)), CASE_COLUMNS)


def _copy_out(conn: psycopg.Connection, query: sql.Composable, columns: dict) -> pa.Table:
    """The rows of query (columns: name -> Arrow type), through COPY ... TO STDOUT."""
    data = bytearray()
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)) as copy:
        for block in copy:
            data += block
    if not data:
        return _empty(columns)
    return pacsv.read_csv(
        pa.py_buffer(data), pacsv.ReadOptions(column_names=list(columns)),
        convert_options=pacsv.ConvertOptions(column_types=columns, strings_can_be_null=True,
                                             quoted_strings_can_be_null=False))


def _slices(days: list[tuple], size: int) -> Iterator[tuple]:
    """(first day, last day) ranges of consecutive days holding about `size` cases each."""
    start, held = 0, 0
    for i, (_, cases) in enumerate(days):
        if held and held + cases > size:
            yield days[start][0], days[i - 1][0]
            start, held = i, 0
        held += cases
    if held:
        yield days[start][0], days[-1][0]


def _recount_days(conn: psycopg.Connection, timezone: str) -> int:
    """Write every rollup row, counted from all cases (the tables are empty); returns daily rows.

    Slices come in day order and a case closes on or after its report day, so once a slice is
    counted the closures up to its last day are final; later ones wait for the next slice.
    A month's rows are summed from the parts of it the slices count and written once the
    month is whole, open cases carried from month to month. One level at a time, as a slice's
    rows at all five levels weigh five times its cases.
    """
    levels = {level: _LevelRollup() for level in AreaLevel}
    written = 0
    for cases in _read_cases(conn, sql.SQL("TRUE"), timezone):
        after = pc.max(cases["day"]).as_py() + timedelta(days=1)
        for level, rollup in levels.items():
            counts = count_level(cases, level)
            written += copy_table(conn, "rollup_daily", for_copy(counts.daily))
            for table, rows in rollup.add_slice(counts, after):
                copy_table(conn, table, rows)
    for rollup in levels.values():  # closures after the last report day, the last months
        for table, rows in rollup.finish():
            copy_table(conn, table, rows)
    return written


class _LevelRollup:
    """One level's rows of a rebuild that are not final yet: closures after the slices read
    so far, the part of the month the last slice ended in, and the cases open at its start."""

    def __init__(self):
        self.waiting: pa.Table | None = None  # closures on days after the last slice
        self.part: pa.Table | None = None  # month rows of a month not yet whole
        self.carried: pd.DataFrame | None = None  # open_end before the months to come

    def add_slice(self, counts: LevelCounts, after: date) -> Iterator[tuple[str, pa.Table]]:
        """(table, rows) that this slice makes final: closures before `after`, whole months."""
        pending = counts.closed if self.waiting is None else sum_by(
            pa.concat_tables([self.waiting, counts.closed]), _CLOSED_KEYS, ("closed",))
        self.waiting = pending.filter(pc.greater_equal(pending["day"], after))
        yield from self._settled(counts.daily, pending.filter(pc.less(pending["day"], after)),
                                 after.replace(day=1))

    def finish(self) -> Iterator[tuple[str, pa.Table]]:
        """What is left once every slice is counted."""
        if self.waiting is not None:
            yield from self._settled(None, self.waiting, None)

    def _settled(self, daily: pa.Table | None, closed: pa.Table,
                 whole_before: date | None) -> Iterator[tuple[str, pa.Table]]:
        yield "rollup_closed_daily", closed
        months = monthly_rows(_empty(_DAILY_NUMBERS) if daily is None else daily, closed)
        if self.part is not None and len(self.part):
            # The part is of one month, the one the slice before ended in: only it is summed.
            same = pc.equal(months["month"], self.part["month"][0])
            summed = sum_by(pa.concat_tables([self.part, months.filter(same)]), MONTH_KEYS,
                            MONTH_MEASURES)
            months = pa.concat_tables([summed.cast(months.schema), months.filter(pc.invert(same))])
        if whole_before is not None:
            whole = pc.less(months["month"], pa.scalar(whole_before, pa.date32()))
            self.part = months.filter(pc.invert(whole))
            months = months.filter(whole)
        if len(months):
            monthly, self.carried = add_open_end(months, self.carried)
            yield "rollup_monthly", for_copy(monthly)


def _empty(columns: dict) -> pa.Table:
    return pa.table({name: pa.array([], kind) for name, kind in columns.items()})


_CLOSED_KEYS = [c for c in CLOSED_COLUMNS if c != "closed"]
# Daily rows as numbers (histogram by bucket) and close-day rows, as read back for month sums.
_DAILY_NUMBERS = {"area_code": pa.string(), "level": pa.string(), "day": pa.date32(),
                  "kind": pa.string(), "category": pa.string(),
                  **{n: pa.float64() if n == "close_hours_sum" else pa.int32() for n in ADDITIVE},
                  **dict.fromkeys(HIST, pa.int32())}
_CLOSED_NUMBERS = {"area_code": pa.string(), "level": pa.string(), "day": pa.date32(),
                   "kind": pa.string(), "category": pa.string(), "closed": pa.int32()}


def _write_touched_months(conn: psycopg.Connection) -> None:
    """Recount the month rows of rollup_touched_months from the daily tables (open_end after)."""
    in_months = sql.SQL("JOIN rollup_touched_months t ON d.area_code = t.code AND d.day >= t.month"
                        " AND d.day < (t.month + interval '1 month')::date")
    daily = _copy_out(conn, sql.SQL("SELECT d.area_code, d.level, d.day, d.kind, d.category, {additive},"
                                    " {hist} FROM rollup_daily d {months}").format(
        additive=sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(n)) for n in ADDITIVE),
        hist=sql.SQL(", ").join(sql.SQL("d.close_hist[{}]").format(sql.Literal(i + 1)) for i in range(len(HIST))),
        months=in_months), _DAILY_NUMBERS)
    closed = _copy_out(conn, sql.SQL("SELECT d.area_code, d.level, d.day, d.kind, d.category, d.closed"
                                     " FROM rollup_closed_daily d {}").format(in_months), _CLOSED_NUMBERS)
    conn.execute("DELETE FROM rollup_monthly m USING rollup_touched_months t"
                 " WHERE m.area_code = t.code AND m.month = t.month")
    written = copy_table(conn, "rollup_monthly", for_copy(monthly_rows(daily, closed)))
    # The open_end carry joins the table with itself: planned on stale statistics (a table
    # that was empty) it nests loops over every row, minutes on a first large load.
    analyze_if_grown(conn, "rollup_monthly", written)


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
    locks.hold_for_transaction(conn, locks.ROLLUPS)
    _tune(conn)
    written = _recount_touched(conn, timezone)
    conn.execute("TRUNCATE touched_days")
    announce(conn)
    return written


def refresh_runs(conn: psycopg.Connection, run_ids: list[int],
                 timezone: str = DEFAULT_TIMEZONE) -> int:
    """Recount the rollups of the (area, day) pairs that the given runs' cases fall on."""
    conn.execute(sql_text("stage_cases.sql"))  # creates touched_days
    conn.execute(
        "INSERT INTO touched_days SELECT report_day, grid_code, community_code, street_code,"
        " district_code, city_code FROM cases WHERE run_id = ANY(%s)", (run_ids,))
    return refresh_touched(conn, timezone)


def rebuild(conn: psycopg.Connection, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Recompute every rollup row from cases (after a boundary change, or a bulk load)."""
    locks.hold_for_transaction(conn, locks.ROLLUPS)
    _tune(conn)
    written = _recount_all(conn, timezone)
    announce(conn)
    return written


def _tune(conn: psycopg.Connection) -> None:
    # Compiling these wide aggregates costs more than it saves; memory keeps hashes off disk.
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '512MB'")


def _recount_all(conn: psycopg.Connection, timezone: str) -> int:
    """Refill the rollup tables from all cases; returns daily rows written.

    The tables are emptied and written whole, so every index (keys too) is built after.
    API readers wait on the tables' locks until the commit rather than see them half-filled.
    """
    conn.execute("TRUNCATE rollup_daily, rollup_closed_daily, rollup_monthly")
    with ExitStack() as deferred:
        for table in ("rollup_daily", "rollup_closed_daily", "rollup_monthly"):
            deferred.enter_context(indexes_built_after(conn, table, keys_too=True))
        return _recount_days(conn, timezone)


def _recount_touched(conn: psycopg.Connection, timezone: str) -> int:
    """Recount the touched (area, day) rows; returns daily rows written."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_moves (area_code text, day date,"
                 " kind text, category text, n integer) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_touched_months (code text, month date)"
                 " ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_fresh_daily (LIKE rollup_daily)"
                 " ON COMMIT DROP")
    conn.execute("TRUNCATE rollup_touched_months, rollup_fresh_daily")
    # The city's row of a touched day counts every case of that day, so the cases of the
    # touched days are read once and counted at every level.
    conn.execute("DROP TABLE IF EXISTS rollup_touched_day_list")
    conn.execute("CREATE TEMP TABLE rollup_touched_day_list ON COMMIT DROP AS"
                 " SELECT DISTINCT day FROM touched_days")
    conn.execute("ANALYZE touched_days, rollup_touched_day_list")
    for cases in _read_cases(conn, sql.SQL("c.report_day IN (SELECT day FROM rollup_touched_day_list)"),
                             timezone):
        for level in AreaLevel:
            copy_table(conn, "rollup_fresh_daily", for_copy(count_level(cases, level).daily))
    conn.execute("ANALYZE rollup_fresh_daily")
    written = sum(_refresh_level(conn, level) for level in AreaLevel)
    conn.execute("ANALYZE rollup_touched_months")
    _write_touched_months(conn)
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
    # ... put the recounted ones in, their closures as positive moves ...
    written = conn.execute(sql.SQL("""
        WITH new AS (
            INSERT INTO rollup_daily ({columns})
            SELECT {fresh} FROM rollup_fresh_daily f
            JOIN touched_pairs t ON f.area_code = t.code AND f.day = t.day
            WHERE f.level = {level}
            RETURNING area_code, day, kind, category, close_lags, close_lag_counts
        ), moves AS (
            INSERT INTO rollup_moves
            SELECT area_code, day + lag, kind, category, n
            FROM new, unnest(close_lags, close_lag_counts) AS u(lag, n)
        )
        SELECT count(*) FROM new""").format(
        columns=_ids(DAILY_COLUMNS), level=sql.Literal(level.value),
        fresh=sql.SQL(", ").join(sql.SQL("f.{}").format(sql.Identifier(c)) for c in DAILY_COLUMNS))
    ).fetchone()[0]
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
    # The row, not only the sequence: a replica replays the row with this transaction.
    conn.execute("UPDATE rollup_state SET generation = nextval('rollup_generation')")
    conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(NOTIFY_CHANNEL)))
