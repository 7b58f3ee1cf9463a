"""One area over time: the summary of a period and its time series, from the rollups."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from psycopg import sql

from api.auth import CurrentPrincipal, area_in_scope
from api.cache import cached
from api.database import Statement, fetch_all, fetch_together
from api.disclosure import area_figures, series_seen
from api.figures import Figures, breakdown_seen, figures
from api.hub import hub_of
from api.levels import level_name
from api.params import AreaCode, FiltersDep, TableFormat
from api.periods import Period, check_series_length, period_params
from api.queries import Wrapper, open_at_end, period_rows, summed
from api.rendering import JSON, TableFormats, csv_response, dumps
from api.schemas import (
    CSV_CONTENT,
    KEY_SCHEMES,
    KEYED_ERRORS,
    Summary,
    TimeSeries,
    errors,
    with_alternatives,
)
from api.suppression import threshold

router = APIRouter(prefix="/areas", tags=["areas"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
PeriodDep = Annotated[Period, Depends(period_params)]
OPEN_ALERTS = ["new", "ongoing", "acknowledged"]
ALERTS = (b"SELECT alert_id, signal, method, severity, status, first_day, last_day, observed,"
          b" expected, score FROM alerts WHERE area_code = %(area)s AND status = ANY(%(alert_statuses)s)"
          b" ORDER BY severity DESC, last_day DESC LIMIT 100")
BREAKDOWN = Wrapper.of("SELECT kind, category, sum(reported)::bigint AS reported FROM ({rows}) u"
                       " GROUP BY GROUPING SETS ((kind), (category))")
SERIES = Wrapper.of(
    "SELECT date_trunc({interval}, day)::date AS bucket, sum(reported)::bigint AS reported,"
    " sum(resolved)::bigint AS resolved, sum(in_mediation)::bigint AS in_mediation,"
    " sum(closed_on)::bigint AS closed FROM ({rows}) u GROUP BY 1 ORDER BY 1",
    interval=sql.Placeholder("interval"))


SERIES_COLUMNS = ["start", "reported", "resolved", "in_mediation", "closed", "open_at_end"]


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def _laid_out(f: Figures) -> dict:
    """The figures as the summary shows them (nested mediation and change)."""
    return {
        "total": f.reported,
        "resolved": f.resolved,
        "resolution_rate": f.resolution_rate,
        "in_mediation": f.in_mediation,
        "mediation": {"settled": f.settled, "not_settled": f.not_settled,
                      "success_rate": f.mediation_success_rate},
        "closed": f.closed,
        "mean_hours_to_close": f.mean_hours_to_close,
        "median_hours_to_close": f.median_hours_to_close,
        "by_status": f.by_status,
    }


def _reported_by(breakdown: list[dict], column: str, k: int, total_hidden: bool) -> dict[str, int | None]:
    counts = sorted((r[column], int(r["reported"])) for r in breakdown
                    if r[column] is not None and r["reported"])
    return breakdown_seen(dict(counts), k, total_hidden)


@router.get("/{code}/summary", summary="Totals of an area over a period", response_model=Summary,
            responses=errors(400, 404))
async def summary(request: Request, principal: CurrentPrincipal, code: AreaCode, period: PeriodDep,
                  filters: FiltersDep) -> Response:
    """Totals by kind, category and status; resolution and mediation rates; median time to
    close; change against the previous period of equal length; cases open at the end; open
    early warnings. Without `from`/`to` the period is all time."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    k = threshold(principal.role, area.level, hub.api.k_threshold)

    async def build():
        previous = period.previous()
        labelled = [("cur", period)] + ([("prev", previous)] if previous else [])
        # Totals from the per-area total rows; the breakdown reads kind x category rows but
        # returns only the reported counts (parsing full measures of every combination cost
        # more than the whole rest of the request).
        totals_rows, breakdown, open_rows, warnings = await fetch_together(
            hub.pool, summed(period_rows(labelled, [code], filters), "label"),
            BREAKDOWN.around(period_rows([("cur", period)], [code], filters, detail=True)),
            open_at_end([code], filters, period.end),
            Statement(ALERTS, {"area": code, "alert_statuses": OPEN_ALERTS}))
        for w in warnings:  # JSON gives whole floats as ints: keep them floats
            for key in ("observed", "expected", "score"):
                if w[key] is not None:
                    w[key] = float(w[key])
        totals = {row["label"]: row for row in totals_rows}
        f = figures(totals.get("cur"), int(open_rows[0]["open"]) if open_rows else 0,
                    int(totals.get("prev", {}).get("reported") or 0) if previous else None)
        if k:  # decided among the area's siblings, as /stats decides (api.disclosure)
            f = (await area_figures(hub, [code], period, filters, k))[code]
        body = {
            "area": {"code": area.code, "name": area.name, "level": level_name(hub.settings.profile, area.level),
                     "parent_code": area.parent_code},
            "period": period.as_dict(),
            "filters": {"kind": filters.kind, "category": filters.category},
            **_laid_out(f),
            "by_kind": _reported_by(breakdown, "kind", k, f.withheld),
            "by_category": _reported_by(breakdown, "category", k, f.withheld),
            "open_at_end": f.open_at_end,
            "previous_period": previous.as_dict() if previous else None,
            # no change to show without a previous period, nor any built on a withheld total
            "change": None if previous is None or f.withheld else {
                "previous": f.previous_reported, "difference": f.difference, "ratio": f.change_ratio},
            "warnings": warnings,
        }
        if k:
            body["suppressed_below"] = k
        return dumps(body), JSON

    return await cached(request, principal, build)


def _bucket_starts(interval: Interval, first: date, last: date) -> list[date]:
    def start_of(d: date) -> date:
        if interval is Interval.MONTH:
            return d.replace(day=1)
        if interval is Interval.WEEK:
            return d - timedelta(days=d.weekday())
        return d

    out, d = [], start_of(first)
    while d <= last:
        out.append(d)
        if interval is Interval.MONTH:
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            d += timedelta(days=7 if interval is Interval.WEEK else 1)
    return out


@router.get("/{code}/timeseries", summary="An area's counts per day, week or month",
            response_model=TimeSeries, responses=with_alternatives(CSV_CONTENT) | errors(400, 404))
async def timeseries(request: Request, principal: CurrentPrincipal, code: AreaCode, period: PeriodDep,
                     filters: FiltersDep,
                     interval: Annotated[Interval, Query(description="day, week or month")] = Interval.MONTH,
                     format: TableFormat = TableFormats.JSON) -> Response:
    """Reported, resolved, closed (on that day), in mediation and open at the end of each
    interval; intervals without cases are listed with zeros. Weeks start on Monday. As CSV:
    one row per interval."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    check_series_length(period, interval.value)
    k = threshold(principal.role, area.level, hub.api.k_threshold)

    async def answer() -> dict:
        rows = period_rows([("cur", period)], [code], filters, months=interval is Interval.MONTH)
        series = {r["bucket"]: r for r in await fetch_all(hub.pool, SERIES.around(rows, interval=interval.value))}
        opening = 0
        if period.start is not None:
            start_rows = await fetch_all(hub.pool, open_at_end([code], filters, period.start - timedelta(days=1)))
            opening = int(start_rows[0]["open"]) if start_rows else 0
        first = period.start or (min(series) if series else None)
        last = period.end or (max(series) if series else None)
        points = []
        running = opening
        if first is not None and last is not None:
            for start in _bucket_starts(interval, first, last):
                r = series.get(start, {})
                reported, closed = int(r.get("reported") or 0), int(r.get("closed") or 0)
                running += reported - closed
                point = {"start": start, "reported": reported, "resolved": int(r.get("resolved") or 0),
                         "in_mediation": int(r.get("in_mediation") or 0), "closed": closed,
                         "open_at_end": running}
                points.append(point)
        if k:  # as /stats would show each interval (api.disclosure)
            opening, points = await series_seen(hub, code, period, filters, interval.value, opening, points, k)
        return {"area": {"code": area.code, "name": area.name, "level": level_name(hub.settings.profile, area.level)},
                "interval": interval.value, "period": period.as_dict(),
                "filters": {"kind": filters.kind, "category": filters.category},
                "open_at_start": opening, "points": points}

    if format is TableFormats.CSV:
        points = (await answer())["points"]
        return csv_response(points, SERIES_COLUMNS, f"timeseries-{code}-{interval.value}")

    async def build():
        return dumps(await answer()), JSON

    return await cached(request, principal, build)
