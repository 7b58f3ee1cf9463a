"""SQL over the rollup tables only: measures of areas over periods, and open cases at a day.

Every aggregate the API serves is built here from rollup_daily, rollup_closed_daily and
rollup_monthly: the API never aggregates raw cases, so what an answer costs grows with the
areas and days it covers, not with the number of cases (store/rollups.py keeps them current).

A statement is built in two halves. Its *shape* (which periods split into whole months and
loose days, which bounds and filters are set, one area or many) fixes the text, which is
composed with psycopg.sql once per shape and kept; the values go in as parameters on every
request. Composing the text on every request cost more CPU than the database spent answering
it, and one text per shape also lets psycopg prepare the statement on each connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

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


@dataclass(frozen=True)
class Query:
    """A statement: `shape` (hashable) names its text, `params` are its positional values."""

    shape: tuple
    params: tuple

    def text(self) -> bytes:
        """The statement text, composed once per shape."""
        return _render(self.shape)


# ---------------------------------------------------------------- shapes and parameters
# Each helper returns (shape, params): the shape says which SQL to write, the params fill it.

Codes = list[str] | sql.SQL | sql.Identifier


def _area(codes: Codes) -> tuple[tuple, list]:
    """area_code equal to one code, in a list of codes, in a subquery (an sql.SQL) or equal to
    a column of an enclosing query (an sql.Identifier, for LATERAL joins)."""
    if isinstance(codes, sql.Identifier):
        return ("column", codes.as_string()), []
    if isinstance(codes, sql.SQL):
        return ("in", codes.as_string()), []
    if len(codes) == 1:
        return ("one",), [codes[0]]
    return ("any",), [list(codes)]


def _filter(filters: Filters, monthly: bool, detail: bool = False) -> tuple[tuple, list]:
    """Kind and category conditions. Monthly rows hold per-area totals (kind = category = '*')
    beside the kind x category rows: read the totals unless filtered or asked for detail."""
    params = [v for v in (filters.kind, filters.category) if v is not None]
    if not monthly:
        rows = "daily"
    elif filters.totals_only and not detail:
        rows = "totals"
    else:
        rows = "detail"
    return (rows, filters.kind is not None, filters.category is not None), params


def _range(column: str, lo: date | None, hi: date | None) -> tuple[tuple, list]:
    return (column, lo is not None, hi is not None), [v for v in (lo, hi) if v is not None]


def union_rows(labelled: list[tuple[str, Period]], codes: Codes, filters: Filters,
               detail: bool, months: bool = True) -> Query:
    """UNION ALL of rollup rows covering each labelled period, columns:
    label, area_code, kind, category, day, <ADDITIVE>, close_hist, closed_on.

    detail=True reads kind x category rows even without filters (for by-kind breakdowns);
    months=False reads daily rows only (for day and week series).
    """
    area_shape, area_params = _area(codes)
    pieces, params = [], []
    for label, period in labelled:
        parts = split(period) if months else Split(None, None, False, ((period.start, period.end),))
        if parts.has_months:
            f_shape, f_params = _filter(filters, monthly=True, detail=detail)
            r_shape, r_params = _range("month", parts.month_lo, parts.month_hi)
            pieces.append(("monthly", area_shape, f_shape, r_shape))
            params += [label, *area_params, *f_params, *r_params]
        for lo, hi in parts.day_ranges:
            f_shape, f_params = _filter(filters, monthly=False)
            r_shape, r_params = _range("day", lo, hi)
            for table in ("daily", "closed"):
                pieces.append((table, area_shape, f_shape, r_shape))
                params += [label, *area_params, *f_params, *r_params]
    return Query(("union", tuple(pieces)), tuple(params))


def grouped(rows: Query, group_by: list[str]) -> Query:
    """SELECT <group_by>, <sums of every measure> FROM (<rows>) GROUP BY <group_by>."""
    return Query(("grouped", rows.shape, tuple(group_by)), rows.params)


def wrapped(template: sql.SQL, rows: Query, before: tuple = (), after: tuple = ()) -> Query:
    """`template` with `{rows}` standing for the rows statement; its own %s placeholders before
    and after that place take `before` and `after`."""
    return Query(("wrapped", template.as_string(), rows.shape), (*before, *rows.params, *after))


def open_at_end(codes: list[str], filters: Filters, end: date | None) -> Query:
    """Cases open at the end of day `end` (None: now) per area: (area_code, open).

    Whole months come from rollup_monthly.open_end (latest month on or before), the days of
    a month not yet finished from the daily tables.
    """
    parts = split(Period(None, end))
    area_shape, area_params = _area(codes)
    f_shape, f_params = _filter(filters, monthly=True)
    r_shape, r_params = _range("month", None, parts.month_hi)
    pieces = [("open_months", area_shape, f_shape, r_shape)]
    params = [*area_params, *f_params, *r_params]
    for lo, hi in parts.day_ranges:
        d_shape, d_params = _filter(filters, monthly=False)
        rr_shape, rr_params = _range("day", lo, hi)
        for table in ("open_daily", "open_closed"):
            pieces.append((table, area_shape, d_shape, rr_shape))
            params += [*area_params, *d_params, *rr_params]
    return Query(("open", tuple(pieces)), tuple(params))


def day_before(d: date | None) -> date | None:
    return None if d is None else d - timedelta(days=1)


# ---------------------------------------------------------------- text, once per shape
_ADDITIVE_IDS = sql.SQL(", ").join(sql.Identifier(n) for n in ADDITIVE)
_ZEROS = sql.SQL(", ").join(sql.SQL("0") for _ in ADDITIVE)
_TOTAL = sql.Literal(TOTAL)


def _sums() -> sql.Composable:
    """Summed measures and the summed hours-to-close histogram (column hist)."""
    parts = [sql.SQL("sum({n})::float8 AS {n}" if n == "close_hours_sum" else "sum({n})::bigint AS {n}")
             .format(n=sql.Identifier(n)) for n in MEASURES]
    hist = sql.SQL(", ").join(sql.SQL("coalesce(sum(close_hist[{}]), 0)").format(sql.Literal(i + 1))
                              for i in range(HIST_BUCKETS))
    return sql.SQL(", ").join([*parts, sql.SQL("ARRAY[{}]::bigint[] AS hist").format(hist)])


def _area_sql(shape: tuple) -> sql.Composable:
    if shape[0] == "column":
        return sql.SQL("area_code = {}").format(sql.SQL(shape[1]))
    if shape[0] == "in":
        return sql.SQL("area_code IN ({})").format(sql.SQL(shape[1]))
    return sql.SQL("area_code = %s" if shape[0] == "one" else "area_code = ANY(%s)")


def _filter_sql(shape: tuple) -> sql.Composable:
    rows, has_kind, has_category = shape
    parts = []
    if rows == "totals":
        parts.append(sql.SQL("kind = {t} AND category = {t}").format(t=_TOTAL))
    elif rows == "detail":
        parts.append(sql.SQL("kind <> {t} AND category <> {t}").format(t=_TOTAL))
    if has_kind:
        parts.append(sql.SQL("kind = %s"))
    if has_category:
        parts.append(sql.SQL("category = %s"))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def _range_sql(shape: tuple) -> sql.Composable:
    column, has_lo, has_hi = shape
    parts = []
    if has_lo:
        parts.append(sql.SQL("{} >= %s").format(sql.Identifier(column)))
    if has_hi:
        parts.append(sql.SQL("{} <= %s").format(sql.Identifier(column)))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


_PIECES = {
    "monthly": "SELECT %s AS label, area_code, kind, category, month AS day, {m}, close_hist, closed_on"
               " FROM rollup_monthly WHERE {a} AND {f} AND {r}",
    "daily": "SELECT %s AS label, area_code, kind, category, day, {m}, close_hist, 0 AS closed_on"
             " FROM rollup_daily WHERE {a} AND {f} AND {r}",
    "closed": "SELECT %s, area_code, kind, category, day, {z}, NULL::integer[], closed"
              " FROM rollup_closed_daily WHERE {a} AND {f} AND {r}",
    "open_months": "SELECT area_code, open_end::bigint AS n FROM ("
                   " SELECT DISTINCT ON (area_code, kind, category) area_code, open_end FROM rollup_monthly"
                   " WHERE {a} AND {f} AND {r} ORDER BY area_code, kind, category, month DESC) m",
    "open_daily": "SELECT area_code, reported::bigint FROM rollup_daily WHERE {a} AND {f} AND {r}",
    "open_closed": "SELECT area_code, -closed::bigint FROM rollup_closed_daily WHERE {a} AND {f} AND {r}",
}
_NO_ROWS = ("SELECT NULL::text AS label, NULL::text AS area_code, NULL::text AS kind,"
            " NULL::text AS category, NULL::date AS day, {z}, NULL::integer[] AS close_hist,"
            " 0 AS closed_on WHERE false")


def _piece(shape: tuple) -> sql.Composable:
    kind, area, filters, bounds = shape
    return sql.SQL(_PIECES[kind]).format(m=_ADDITIVE_IDS, z=_ZEROS, a=_area_sql(area),
                                         f=_filter_sql(filters), r=_range_sql(bounds))


def _composed(shape: tuple) -> sql.Composable:
    kind = shape[0]
    if kind == "union":
        if not shape[1]:  # nothing to read: keep the column shape
            return sql.SQL(_NO_ROWS).format(z=_ZEROS)
        return sql.SQL(" UNION ALL ").join(_piece(p) for p in shape[1])
    if kind == "grouped":
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in shape[2])
        return sql.SQL("SELECT {c}, {s} FROM ({r}) u GROUP BY {c}").format(
            c=cols, s=_sums(), r=_composed(shape[1]))
    if kind == "wrapped":
        return sql.SQL(shape[1]).format(rows=_composed(shape[2]))
    if kind == "open":
        return sql.SQL("SELECT area_code, sum(n)::bigint AS open FROM ({u}) o GROUP BY area_code").format(
            u=sql.SQL(" UNION ALL ").join(_piece(p) for p in shape[1]))
    raise ValueError(f"unknown statement shape {kind!r}")


@lru_cache(maxsize=4096)
def _render(shape: tuple) -> bytes:
    return _composed(shape).as_bytes(None)
