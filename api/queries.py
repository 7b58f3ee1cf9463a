"""Statements over the rollup tables: measures of areas over periods, and open cases at a day.

Every aggregate the API serves is read here from rollup_daily, rollup_closed_daily and
rollup_monthly: the API never aggregates raw cases, so what an answer costs grows with the
areas and days it covers, not with the number of cases (store/rollups.py keeps them current).

A statement is a UNION ALL of pieces, one per rollup table and stretch of a period (whole
months, loose days), each read under named parameters: `area` or `areas`, `kind`,
`category`, and `<stretch>_from` / `<stretch>_to` for its bounds. The text of a piece depends
only on which of those are set, so it is composed with psycopg.sql once and kept; values go
in as parameters on every request. Composing the text on every request cost more CPU than
the database spent answering it, and one text per shape also lets psycopg prepare the
statement on each connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import lru_cache

from psycopg import sql

from api.database import Statement, merged
from api.periods import Period, Split, split
from store.rollups import ADDITIVE, HIST_BUCKETS, TOTAL

MEASURES = (*ADDITIVE, "closed_on")


@dataclass(frozen=True)
class Filters:
    """The kind and category a request asks for (None: all)."""

    kind: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class OuterColumn:
    """Areas given by a column of an enclosing query (a LATERAL subquery's outer row)."""

    table: str
    column: str


Areas = Sequence[str] | OuterColumn


class Rows(Enum):
    """Which rows of a rollup table a piece reads."""

    DAILY = "daily"    # the daily tables hold kind x category rows only
    TOTALS = "totals"  # rollup_monthly's per-area totals (kind = category = TOTAL)
    DETAIL = "detail"  # rollup_monthly's kind x category rows


class Source(Enum):
    """What a piece selects, and from which table; `{where}` takes its conditions."""

    MONTHS = ("SELECT {label} AS label, area_code, kind, category, month AS day, {measures},"
              " close_hist, closed_on FROM rollup_monthly WHERE {where}")
    DAYS = ("SELECT {label} AS label, area_code, kind, category, day, {measures}, close_hist,"
            " 0 AS closed_on FROM rollup_daily WHERE {where}")
    CLOSES = ("SELECT {label}, area_code, kind, category, day, {zeros}, NULL::integer[], closed"
              " FROM rollup_closed_daily WHERE {where}")
    # Open at the end of a day: the latest month's open_end, plus reported less closed since.
    OPEN_MONTHS = ("SELECT area_code, open_end::bigint AS n FROM (SELECT DISTINCT ON (area_code,"
                   " kind, category) area_code, open_end FROM rollup_monthly WHERE {where}"
                   " ORDER BY area_code, kind, category, month DESC) m")
    OPENED_DAYS = "SELECT area_code, reported::bigint FROM rollup_daily WHERE {where}"
    CLOSED_DAYS = "SELECT area_code, -closed::bigint FROM rollup_closed_daily WHERE {where}"


@dataclass(frozen=True)
class Match:
    """What every piece of a statement matches: areas, and whether kind and category are set."""

    areas: str | OuterColumn  # the parameter "area" (one code), "areas" (a list), or a column
    kind: bool
    category: bool


@dataclass(frozen=True)
class Bounds:
    """A date column bounded by named parameters (None: unbounded on that side)."""

    column: str
    lo: str | None
    hi: str | None


def _monthly_rows(filters: Filters, detail: bool = False) -> Rows:
    """The per-area totals answer an unfiltered read; a filter or a breakdown needs the rest."""
    return Rows.TOTALS if filters.kind is None and filters.category is None and not detail else Rows.DETAIL


def _match(areas: Areas, filters: Filters, params: dict) -> Match:
    """The Match of `areas` and `filters`, their values put into `params`."""
    if isinstance(areas, OuterColumn):
        name = areas
    elif len(areas) == 1:
        name, params["area"] = "area", areas[0]
    else:
        name, params["areas"] = "areas", list(areas)
    for key, value in (("kind", filters.kind), ("category", filters.category)):
        if value is not None:
            params[key] = value
    return Match(name, filters.kind is not None, filters.category is not None)


def _bounds(column: str, stretch: str, lo: date | None, hi: date | None, params: dict) -> Bounds:
    """Bounds of `column` named after `stretch`, their values put into `params`."""
    bounds = Bounds(column, None if lo is None else f"{stretch}_from",
                    None if hi is None else f"{stretch}_to")
    for name, value in ((bounds.lo, lo), (bounds.hi, hi)):
        if name is not None:
            params[name] = value
    return bounds


_MEASURE_IDS = sql.SQL(", ").join(sql.Identifier(n) for n in ADDITIVE)
_ZEROS = sql.SQL(", ").join(sql.SQL("0") for _ in ADDITIVE)


def _conditions(match: Match, rows: Rows, bounds: Bounds) -> sql.Composable:
    """The WHERE of a piece: its areas, which rows, the filters set and the bounds set."""
    if isinstance(match.areas, OuterColumn):
        areas = sql.SQL("area_code = {}").format(sql.Identifier(match.areas.table, match.areas.column))
    elif match.areas == "area":
        areas = sql.SQL("area_code = {}").format(sql.Placeholder("area"))
    else:
        areas = sql.SQL("area_code = ANY({})").format(sql.Placeholder("areas"))
    parts = [areas]
    if rows is Rows.TOTALS:
        parts.append(sql.SQL("kind = {t} AND category = {t}").format(t=sql.Literal(TOTAL)))
    elif rows is Rows.DETAIL:
        parts.append(sql.SQL("kind <> {t} AND category <> {t}").format(t=sql.Literal(TOTAL)))
    parts += [sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
              for name, wanted in (("kind", match.kind), ("category", match.category)) if wanted]
    parts += [sql.SQL("{} {} {}").format(sql.Identifier(bounds.column), sql.SQL(op), sql.Placeholder(name))
              for op, name in ((">=", bounds.lo), ("<=", bounds.hi)) if name is not None]
    return sql.SQL(" AND ").join(parts)


@lru_cache(maxsize=4096)
def _piece(source: Source, label: str | None, match: Match, rows: Rows, bounds: Bounds) -> bytes:
    """The text of one piece, composed once per shape."""
    return sql.SQL(source.value).format(
        label=sql.Literal(label), measures=_MEASURE_IDS, zeros=_ZEROS,
        where=_conditions(match, rows, bounds)).as_bytes(None)


def period_rows(labelled: Sequence[tuple[str, Period]], areas: Areas, filters: Filters,
                detail: bool = False, months: bool = True) -> Statement:
    """UNION ALL of rollup rows covering each labelled period, columns:
    label, area_code, kind, category, day, <ADDITIVE>, close_hist, closed_on.

    detail=True reads kind x category rows even without filters (for by-kind breakdowns);
    months=False reads daily rows only (for day and week series).
    """
    params: dict = {}
    match = _match(areas, filters, params)
    monthly = _monthly_rows(filters, detail)
    pieces = []
    for label, period in labelled:
        parts = split(period) if months else Split(None, None, False, ((period.start, period.end),))
        if parts.has_months:
            bounds = _bounds("month", f"{label}_months", parts.month_lo, parts.month_hi, params)
            pieces.append(_piece(Source.MONTHS, label, match, monthly, bounds))
        for i, (lo, hi) in enumerate(parts.day_ranges):
            bounds = _bounds("day", f"{label}_days{i}", lo, hi, params)
            pieces += [_piece(source, label, match, Rows.DAILY, bounds)
                       for source in (Source.DAYS, Source.CLOSES)]
    return Statement(b" UNION ALL ".join(pieces), params)


def open_at_end(codes: Sequence[str], filters: Filters, end: date | None) -> Statement:
    """Cases open at the end of day `end` (None: now) per area: (area_code, open).

    Whole months come from rollup_monthly.open_end (latest month on or before), the days of
    a month not yet finished from the daily tables.
    """
    params: dict = {}
    match = _match(codes, filters, params)
    parts = split(Period(None, end))
    monthly = _monthly_rows(filters)
    pieces = [_piece(Source.OPEN_MONTHS, None, match, monthly,
                     _bounds("month", "open_months", None, parts.month_hi, params))]
    for i, (lo, hi) in enumerate(parts.day_ranges):
        bounds = _bounds("day", f"open_days{i}", lo, hi, params)
        pieces += [_piece(source, None, match, Rows.DAILY, bounds)
                   for source in (Source.OPENED_DAYS, Source.CLOSED_DAYS)]
    return _OPEN.around(Statement(b" UNION ALL ".join(pieces), params))


@dataclass(frozen=True)
class Wrapper:
    """A statement around a rows statement, its text before and after the rows composed once."""

    before: bytes
    after: bytes

    @classmethod
    def of(cls, template: str, **parts: sql.Composable) -> Wrapper:
        """From a template with `{rows}` where the rows go; its other {fields} take `parts`."""
        before, after = template.split("{rows}")
        return cls(*(sql.SQL(half).format(**parts).as_bytes(None) for half in (before, after)))

    def around(self, rows: Statement, **params: object) -> Statement:
        """This statement around `rows`; `params` are its own named parameters."""
        return Statement(self.before + rows.text + self.after, merged(rows.params, params))


_OPEN = Wrapper.of("SELECT area_code, sum(n)::bigint AS open FROM ({rows}) o GROUP BY area_code")


def _sums() -> sql.Composable:
    """Summed measures and the summed hours-to-close histogram (column hist)."""
    parts = [sql.SQL("sum({n})::float8 AS {n}" if n == "close_hours_sum" else "sum({n})::bigint AS {n}")
             .format(n=sql.Identifier(n)) for n in MEASURES]
    hist = sql.SQL(", ").join(sql.SQL("coalesce(sum(close_hist[{}]), 0)").format(sql.Literal(i + 1))
                              for i in range(HIST_BUCKETS))
    return sql.SQL(", ").join([*parts, sql.SQL("ARRAY[{}]::bigint[] AS hist").format(hist)])


@lru_cache(maxsize=16)
def _summed_by(by: tuple[str, ...]) -> Wrapper:
    return Wrapper.of("SELECT {by}, {sums} FROM ({rows}) u GROUP BY {by}",
                      by=sql.SQL(", ").join(map(sql.Identifier, by)), sums=_sums())


def summed(rows: Statement, *by: str) -> Statement:
    """SELECT <by>, <sum of every measure>, hist FROM (<rows>) GROUP BY <by>."""
    return _summed_by(by).around(rows)
