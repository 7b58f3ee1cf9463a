"""One area over time: the summary of a period and its time series, from the rollups."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from psycopg import sql

from api.answers import JSON, cached, dumps
from api.areaindex import AreaInfo
from api.auth import CurrentPrincipal, Principal, area_in_scope, hub_of
from api.database import fetch_together
from api.measures import by_status, change, median_hours, rate
from api.params import AreaCode, CategoryParam, KindParam
from api.periods import Period, period_params
from api.rollupsql import Filters, grouped, open_at_end, union_rows, wrapped
from api.rollupsql import Query as Sql
from api.state import Hub
from core.case import AreaLevel

router = APIRouter(prefix="/areas", tags=["areas"])
PeriodDep = Annotated[Period, Depends(period_params)]
OPEN_ALERTS = ("new", "ongoing", "acknowledged")
ALERTS = (b"SELECT alert_id, signal, method, severity, status, first_day, last_day, observed,"
          b" expected, score FROM alerts WHERE area_code = %s AND status = ANY(%s)"
          b" ORDER BY severity DESC, last_day DESC LIMIT 100")
BREAKDOWN = sql.SQL(
    "SELECT kind, category, sum(reported)::bigint AS reported FROM ({rows}) u"
    " GROUP BY GROUPING SETS ((kind), (category))")
SERIES = sql.SQL(
    "SELECT date_trunc(%s, day)::date AS bucket, sum(reported)::bigint AS reported,"
    " sum(resolved)::bigint AS resolved, sum(in_mediation)::bigint AS in_mediation,"
    " sum(closed_on)::bigint AS closed FROM ({rows}) u GROUP BY 1 ORDER BY 1")


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


async def _fetch(hub: Hub, q: Sql) -> list[dict]:
    async with hub.pool.connection() as conn:
        cur = await conn.execute(q.text(), q.params)
        return await cur.fetchall()


def _figures(row: dict | None) -> dict:
    """The figures of one summed row (an empty period gives zeros)."""
    row = row or {}
    total = int(row.get("reported") or 0)
    settled, not_settled = int(row.get("settled") or 0), int(row.get("not_settled") or 0)
    closed = int(row.get("closed") or 0)
    return {
        "total": total,
        "resolved": int(row.get("resolved") or 0),
        "resolution_rate": rate(int(row.get("resolved") or 0), total),
        "in_mediation": int(row.get("in_mediation") or 0),
        "mediation": {"settled": settled, "not_settled": not_settled,
                      "success_rate": rate(settled, settled + not_settled)},
        "closed": closed,
        "mean_hours_to_close": (row.get("close_hours_sum") or 0) / closed if closed else None,
        "median_hours_to_close": median_hours(list(row.get("hist") or [])),
        "by_status": by_status(row),
    }


def _suppressed(body: dict, hub: Hub, principal: Principal, area: AreaInfo) -> dict:
    """Viewers get no grid-level count below k, nor the rates and medians built on them."""
    k = hub.api.k_threshold
    if principal.role.value != "viewer" or area.level is not AreaLevel.GRID:
        return body

    def walk(value):
        if isinstance(value, dict):
            return {key: walk(v) for key, v in value.items()}
        if isinstance(value, bool) or not isinstance(value, int):
            return value
        return None if 0 < value < k else value

    small = 0 < body["total"] < k
    out = {key: (walk(v) if key not in ("area", "period", "filters", "warnings", "previous_period") else v)
           for key, v in body.items()}
    if small:
        for key in ("resolution_rate", "mean_hours_to_close", "median_hours_to_close", "change"):
            out[key] = None
        out["mediation"]["success_rate"] = None
    out["suppressed_below"] = k
    return out


@router.get("/{code}/summary", summary="Totals of an area over a period")
async def summary(request: Request, principal: CurrentPrincipal, code: AreaCode, period: PeriodDep,
                  kind: KindParam = None, category: CategoryParam = None) -> Response:
    """Totals by kind, category and status; resolution and mediation rates; median time to
    close; change against the previous period of equal length; cases open at the end; open
    early warnings. Without `from`/`to` the period is all time."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    filters = Filters(kind.value if kind else None, category.value if category else None)

    async def build():
        previous = period.previous()
        labelled = [("cur", period)] + ([("prev", previous)] if previous else [])
        # Totals from the per-area total rows; the breakdown reads kind x category rows but
        # returns only the reported counts (parsing full measures of every combination cost
        # more than the whole rest of the request).
        totals_q = grouped(union_rows(labelled, [code], filters, detail=False), ["label"])
        breakdown_q = wrapped(BREAKDOWN, union_rows([("cur", period)], [code], filters, detail=True))
        opened = open_at_end([code], filters, period.end)
        totals_rows, breakdown, open_rows, warnings = await fetch_together(
            hub.pool, (totals_q.text(), totals_q.params), (breakdown_q.text(), breakdown_q.params),
            (opened.text(), opened.params), (ALERTS, (code, list(OPEN_ALERTS))))
        for w in warnings:  # JSON gives whole floats as ints: keep them floats
            for key in ("observed", "expected", "score"):
                if w[key] is not None:
                    w[key] = float(w[key])
        totals = {row["label"]: row for row in totals_rows}
        current, prev = totals.get("cur", {}), totals.get("prev", {})
        by_kind = dict(sorted((r["kind"], int(r["reported"])) for r in breakdown
                              if r["kind"] is not None and r["reported"]))
        by_category = dict(sorted((r["category"], int(r["reported"])) for r in breakdown
                                  if r["category"] is not None and r["reported"]))
        figures = _figures(current)
        body = {
            "area": {"code": area.code, "name": area.name, "level": area.level.value,
                     "parent_code": area.parent_code},
            "period": period.as_dict(),
            "filters": {"kind": filters.kind, "category": filters.category},
            **figures,
            "by_kind": by_kind,
            "by_category": by_category,
            "open_at_end": int(open_rows[0]["open"]) if open_rows else 0,
            "previous_period": previous.as_dict() if previous else None,
            "change": change(figures["total"], int(prev.get("reported") or 0) if previous else None),
            "warnings": warnings,
        }
        return dumps(_suppressed(body, hub, principal, area)), JSON

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


@router.get("/{code}/timeseries", summary="An area's counts per day, week or month")
async def timeseries(request: Request, principal: CurrentPrincipal, code: AreaCode, period: PeriodDep,
                     interval: Annotated[Interval, Query(description="day, week or month")] = Interval.MONTH,
                     kind: KindParam = None, category: CategoryParam = None) -> Response:
    """Reported, resolved, closed (on that day), in mediation and open at the end of each
    interval; intervals without cases are listed with zeros. Weeks start on Monday."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    filters = Filters(kind.value if kind else None, category.value if category else None)

    async def build():
        rows_q = union_rows([("cur", period)], [code], filters, detail=False,
                            months=interval is Interval.MONTH)
        q = wrapped(SERIES, rows_q, before=(interval.value,))
        rows = {r["bucket"]: r for r in await _fetch(hub, q)}
        opening = 0
        if period.start is not None:
            start_rows = await _fetch(hub, open_at_end([code], filters, period.start - timedelta(days=1)))
            opening = int(start_rows[0]["open"]) if start_rows else 0
        first = period.start or (min(rows) if rows else None)
        last = period.end or (max(rows) if rows else None)
        points = []
        running = opening
        if first is not None and last is not None:
            for start in _bucket_starts(interval, first, last):
                r = rows.get(start, {})
                reported, closed = int(r.get("reported") or 0), int(r.get("closed") or 0)
                running += reported - closed
                point = {"start": start, "reported": reported, "resolved": int(r.get("resolved") or 0),
                         "in_mediation": int(r.get("in_mediation") or 0), "closed": closed,
                         "open_at_end": running}
                if principal.role.value == "viewer" and area.level is AreaLevel.GRID:
                    k = hub.api.k_threshold
                    point = {key: (None if isinstance(v, int) and 0 < v < k else v) for key, v in point.items()}
                points.append(point)
        body = {"area": {"code": area.code, "name": area.name, "level": area.level.value},
                "interval": interval.value, "period": period.as_dict(),
                "filters": {"kind": filters.kind, "category": filters.category},
                "open_at_start": opening, "points": points}
        return dumps(body), JSON

    return await cached(request, principal, build)
