"""Periods of whole local days, and how they split into whole months and loose days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Query

from api.errors import BadParameterError

# Days a period may name: wide enough for any record a city holds, narrow enough that no
# request can ask for centuries of empty days.
EARLIEST, LATEST = date(1970, 1, 1), date(2099, 12, 31)
# The most points a time series may hold (about ten years of days): each point costs its
# answer ~100 bytes, and an answer is built whole in memory before it is sent or cached.
MAX_SERIES_POINTS = 3_700
DAYS_PER_POINT = {"day": 1, "week": 7, "month": 28}  # a month's shortest, so never undercounted


@dataclass(frozen=True)
class Period:
    """Days start..end, both inclusive; None means open on that side."""

    start: date | None = None
    end: date | None = None

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def days(self) -> int | None:
        return (self.end - self.start).days + 1 if self.bounded else None

    @property
    def whole_months(self) -> int | None:
        """How many calendar months the period spans, when it is exactly whole months."""
        if not self.bounded or self.start.day != 1 or _next_month(self.end).replace(day=1) - timedelta(days=1) != self.end:
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def previous(self) -> Period | None:
        """The period of equal length just before this one: as many calendar months before a
        period of whole months (June -> May), else as many days."""
        if not self.bounded:
            return None
        months = self.whole_months
        if months:
            start = self.start
            for _ in range(months):
                start = (start - timedelta(days=1)).replace(day=1)
            return Period(start, self.start - timedelta(days=1))
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end}


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Split:
    """A period as whole months (month_lo..month_hi, first days) plus loose day ranges."""

    month_lo: date | None
    month_hi: date | None
    has_months: bool
    day_ranges: tuple[tuple[date | None, date | None], ...]


def split(period: Period) -> Split:
    """Cover the period with whole months where possible and days elsewhere, no overlap."""
    start, end = period.start, period.end
    first_full = None if start is None else (start if start.day == 1 else _next_month(start))
    if end is None:
        after_last_full = None
    else:
        after_last_full = _next_month(end) if _next_month(end) - timedelta(days=1) == end else _month_start(end)
    if first_full is not None and after_last_full is not None and first_full >= after_last_full:
        return Split(None, None, False, ((start, end),))
    ranges = []
    if start is not None and first_full is not None and start < first_full:
        ranges.append((start, first_full - timedelta(days=1)))
    if after_last_full is not None and end is not None and end >= after_last_full:
        ranges.append((after_last_full, end))
    month_hi = None
    if after_last_full is not None:
        month_hi = _month_start(after_last_full - timedelta(days=1))
    return Split(first_full, month_hi, True, tuple(ranges))


async def period_params(
    start: Annotated[date | None, Query(alias="from", description="first day, inclusive (city time)",
                                        examples=["2025-06-01"])] = None,
    end: Annotated[date | None, Query(alias="to", description="last day, inclusive (city time)",
                                      examples=["2025-06-30"])] = None,
) -> Period:
    """The `from` / `to` query parameters as a Period (async: FastAPI would run a plain
    function in a worker thread)."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise BadParameterError(name, f"{value} is outside {EARLIEST}..{LATEST}")
    if start is not None and end is not None and start > end:
        raise BadParameterError("from", f"{start} is after to={end}")
    return Period(start, end)


def check_series_length(period: Period, interval: str, today: date | None = None) -> None:
    """400 when a series over the period, one point per interval, would hold more than
    MAX_SERIES_POINTS. An open end runs to today (no case is reported later); an open start
    runs from the area's first case, which the data bounds (counted here from today, so that
    only the days after it count against a `to` far ahead)."""
    today = today or date.today()
    last = period.end or today
    first = period.start or min(last, today)
    points = (last - first).days // DAYS_PER_POINT[interval] + 1
    if points > MAX_SERIES_POINTS:
        name = "from" if period.start is not None else "to"
        raise BadParameterError(name, f"{first}..{last} by {interval} is {points:,} points;"
                                        f" at most {MAX_SERIES_POINTS:,} per series (about"
                                        f" {MAX_SERIES_POINTS * DAYS_PER_POINT[interval] // 365} years"
                                        f" by {interval}): narrow the period or take a longer interval")
