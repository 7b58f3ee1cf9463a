"""SQL over the rollup tables only: measures of areas over periods, and open cases at a day.

Every aggregate the API serves is built here from rollup_daily, rollup_closed_daily and
rollup_monthly (DESIGN.md: the API never aggregates raw cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from psycopg import sql

from api.periods import Period, Split, split
from store.rollups import ADDITIVE, HIST_BUCKETS, TOTAL

MEASURES = (*ADDITIVE, "closed_on")


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    category: str | None = None

    @property
    def totals_only(self) -> bool:
        return self.kind is None and self.category is None


@dataclass
class Query:
    """A composed statement and its positional parameters, built piece by piece."""

    parts: list[sql.Composable] = field(default_factory=list)
    params: list = field(default_factory=list)

    def add(self, fragment: sql.Composable, *params) -> Query:
        self.parts.append(fragment)
        self.params.extend(params)
        return self

    def composed(self, sep: str = " ") -> sql.Composed:
        return sql.SQL(sep).join(self.parts)


def _area_clause(codes: list[str] | sql.Composable) -> tuple[sql.Composable, list]:
    """area_code equal to one code, in a list of codes, or in a subquery (a Composable)."""
    if isinstance(codes, sql.Composable):
        return sql.SQL("area_code IN ({})").format(codes), []
    if len(codes) == 1:
        return sql.SQL("area_code = %s"), [codes[0]]
    return sql.SQL("area_code = ANY(%s)"), [list(codes)]


def _filter_clause(filters: Filters, monthly: bool) -> tuple[sql.Composable, list]:
    parts, params = [], []
    if monthly:
        if filters.totals_only:
            parts.append(sql.SQL("kind = {t} AND category = {t}").format(t=sql.Literal(TOTAL)))
        else:
            parts.append(sql.SQL("kind <> {t} AND category <> {t}").format(t=sql.Literal(TOTAL)))
    if filters.kind is not None:
        parts.append(sql.SQL("kind = %s"))
        params.append(filters.kind)
    if filters.category is not None:
        parts.append(sql.SQL("category = %s"))
        params.append(filters.category)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true"), params


def _range(column: str, lo: date | None, hi: date | None) -> tuple[sql.Composable, list]:
    parts, params = [], []
    if lo is not None:
        parts.append(sql.SQL("{} >= %s").format(sql.Identifier(column)))
        params.append(lo)
    if hi is not None:
        parts.append(sql.SQL("{} <= %s").format(sql.Identifier(column)))
        params.append(hi)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true"), params


_ADDITIVE_IDS = sql.SQL(", ").join(sql.Identifier(n) for n in ADDITIVE)
_ZEROS = sql.SQL(", ").join(sql.SQL("0") for _ in ADDITIVE)


def union_rows(labelled: list[tuple[str, Period]], codes: list[str] | sql.Composable, filters: Filters,
               detail: bool, months: bool = True) -> Query:
    """UNION ALL of rollup rows covering each labelled period, columns:
    label, area_code, kind, category, day, <ADDITIVE>, close_hist, closed_on.

    detail=True reads kind x category rows even without filters (for by-kind breakdowns);
    months=False reads daily rows only (for day and week series).
    """
    q = Query()
    area_sql, area_params = _area_clause(codes)
    for label, period in labelled:
        parts = split(period) if months else Split(None, None, False, ((period.start, period.end),))
        if parts.has_months:
            if detail and filters.totals_only:
                f_sql, f_params = sql.SQL("kind <> {t} AND category <> {t}").format(t=sql.Literal(TOTAL)), []
            else:
                f_sql, f_params = _filter_clause(filters, monthly=True)
            r_sql, r_params = _range("month", parts.month_lo, parts.month_hi)
            q.add(sql.SQL(
                "SELECT %s AS label, area_code, kind, category, month AS day, {m}, close_hist, closed_on"
                " FROM rollup_monthly WHERE {a} AND {f} AND {r}").format(
                m=_ADDITIVE_IDS, a=area_sql, f=f_sql, r=r_sql),
                label, *area_params, *f_params, *r_params)
        for lo, hi in parts.day_ranges:
            f_sql, f_params = _filter_clause(filters, monthly=False)
            r_sql, r_params = _range("day", lo, hi)
            q.add(sql.SQL(
                "SELECT %s AS label, area_code, kind, category, day, {m}, close_hist, 0 AS closed_on"
                " FROM rollup_daily WHERE {a} AND {f} AND {r}").format(
                m=_ADDITIVE_IDS, a=area_sql, f=f_sql, r=r_sql),
                label, *area_params, *f_params, *r_params)
            q.add(sql.SQL(
                "SELECT %s, area_code, kind, category, day, {z}, NULL::integer[], closed"
                " FROM rollup_closed_daily WHERE {a} AND {f} AND {r}").format(
                z=_ZEROS, a=area_sql, f=f_sql, r=r_sql),
                label, *area_params, *f_params, *r_params)
    if not q.parts:  # nothing to read: keep the column shape
        q.add(sql.SQL("SELECT NULL::text AS label, NULL::text AS area_code, NULL::text AS kind,"
                      " NULL::text AS category, NULL::date AS day, {z}, NULL::integer[] AS close_hist,"
                      " 0 AS closed_on WHERE false").format(z=_ZEROS))
    return Query([sql.SQL(" UNION ALL ").join(q.parts)], q.params)


def sums() -> sql.Composable:
    """Summed measures and the summed hours-to-close histogram (column hist)."""
    parts = [sql.SQL("sum({n})::float8 AS {n}" if n == "close_hours_sum" else "sum({n})::bigint AS {n}")
             .format(n=sql.Identifier(n)) for n in MEASURES]
    hist = sql.SQL(", ").join(sql.SQL("coalesce(sum(close_hist[{}]), 0)").format(sql.Literal(i + 1))
                              for i in range(HIST_BUCKETS))
    return sql.SQL(", ").join([*parts, sql.SQL("ARRAY[{}]::bigint[] AS hist").format(hist)])


def grouped(rows: Query, group_by: list[str], totals_by: list[str] | None = None) -> Query:
    """SELECT <group_by>, <sums> FROM (<rows>) GROUP BY <group_by>; with totals_by, also one
    row per value of those columns (the other group_by columns NULL in it)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in group_by)
    groups = cols
    if totals_by is not None:
        groups = sql.SQL("GROUPING SETS (({}), ({}))").format(
            cols, sql.SQL(", ").join(sql.Identifier(c) for c in totals_by))
    return Query([sql.SQL("SELECT {c}, {s} FROM ({r}) u GROUP BY {g}").format(
        c=cols, s=sums(), r=rows.composed(), g=groups)], rows.params)


def open_at_end(codes: list[str], filters: Filters, end: date | None) -> Query:
    """Cases open at the end of day `end` (None: now) per area: (area_code, open).

    Whole months come from rollup_monthly.open_end (latest month on or before), the days of
    a month not yet finished from the daily tables.
    """
    parts = split(Period(None, end))
    area_sql, area_params = _area_clause(codes)
    f_sql, f_params = _filter_clause(filters, monthly=True)
    q = Query()
    r_sql, r_params = _range("month", None, parts.month_hi)
    q.add(sql.SQL(
        "SELECT area_code, open_end::bigint AS n FROM ("
        " SELECT DISTINCT ON (area_code, kind, category) area_code, open_end FROM rollup_monthly"
        " WHERE {a} AND {f} AND {r} ORDER BY area_code, kind, category, month DESC) m").format(
        a=area_sql, f=f_sql, r=r_sql), *area_params, *f_params, *r_params)
    for lo, hi in parts.day_ranges:
        d_sql, d_params = _filter_clause(filters, monthly=False)
        rr_sql, rr_params = _range("day", lo, hi)
        q.add(sql.SQL("SELECT area_code, reported::bigint FROM rollup_daily WHERE {a} AND {f} AND {r}")
              .format(a=area_sql, f=d_sql, r=rr_sql), *area_params, *d_params, *rr_params)
        q.add(sql.SQL("SELECT area_code, -closed::bigint FROM rollup_closed_daily WHERE {a} AND {f} AND {r}")
              .format(a=area_sql, f=d_sql, r=rr_sql), *area_params, *d_params, *rr_params)
    return Query([sql.SQL("SELECT area_code, sum(n)::bigint AS open FROM ({u}) o GROUP BY area_code")
                  .format(u=sql.SQL(" UNION ALL ").join(q.parts))], q.params)


def day_before(d: date | None) -> date | None:
    return None if d is None else d - timedelta(days=1)
