"""Many areas at once: one row per area (choropleths, tables) and rankings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from psycopg import sql

from api.answers import CSV, GEOJSON, JSON, Format, cached, csv_bytes, dumps, feature_collection
from api.auth import CurrentPrincipal, Principal, area_in_scope, hub_of
from api.database import fetch_together
from api.errors import BadParameterError
from api.measures import median_hours, rate
from api.params import CategoryParam, FormatParam, KindParam, LevelParam, ParentParam, SimplifyParam
from api.periods import Period, period_params
from api.rollupsql import Filters, grouped, open_at_end, union_rows, wrapped
from api.routers.areas import geometries
from api.state import Hub
from core.case import AreaLevel
from core.errors import NotFoundError

router = APIRouter(tags=["statistics"])
PeriodDep = Annotated[Period, Depends(period_params)]
STAT_COLUMNS = ["code", "name", "level", "parent_code", "reported", "resolved", "resolution_rate",
                "in_mediation", "settled", "not_settled", "mediation_success_rate", "closed",
                "mean_hours_to_close", "median_hours_to_close", "open_at_end", "previous_reported",
                "change_ratio"]
REPORTED = sql.SQL("SELECT area_code, sum(reported)::bigint AS reported FROM ({rows}) u GROUP BY area_code")
COUNT_COLUMNS = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed",
                 "open_at_end", "previous_reported")


class Metric(StrEnum):
    COUNT = "count"            # cases reported in the period
    GROWTH = "growth"          # reported now minus reported in the previous equal period
    UNRESOLVED = "unresolved"  # cases open at the end of the period


def _areas_for(hub: Hub, principal: Principal, level: AreaLevel | None, parent: str | None):
    root = area_in_scope(hub, principal, parent or principal.scope_code)
    if level is None:
        level = AreaLevel(list(AreaLevel)[min(root.level.depth + 1, len(AreaLevel) - 1)])
    if level.depth < root.level.depth:
        raise NotFoundError(f"no {level.value} areas below {root.code} ({root.level.value})")
    codes = [root.code] if level is root.level else hub.areas.descendants(root.code, level)
    return level, [hub.areas.get(c) for c in codes]


async def area_rows(hub: Hub, principal: Principal, level: AreaLevel, areas, period: Period,
                    filters: Filters) -> list[dict]:
    """The stats row of each area, suppressed for viewers at grid level."""
    codes = [a.code for a in areas]
    if not codes:
        return []
    previous = period.previous()
    q = grouped(union_rows([("cur", period)], codes, filters, detail=False), ["area_code"])
    o = open_at_end(codes, filters, period.end)
    statements = [(q.text(), q.params), (o.text(), o.params)]
    if previous:  # only the count of the previous period is shown: read no other measure
        p = wrapped(REPORTED, union_rows([("prev", previous)], codes, filters, detail=False))
        statements.append((p.text(), p.params))
    sums, opens, *before = await fetch_together(hub.pool, *statements)
    cur = {r["area_code"]: r for r in sums}
    prev = {r["area_code"]: r for r in before[0]} if before else {}
    open_by = {r["area_code"]: int(r["open"]) for r in opens}
    rows = []
    for a in areas:
        r = cur.get(a.code, {})
        reported, resolved = int(r.get("reported") or 0), int(r.get("resolved") or 0)
        settled, not_settled = int(r.get("settled") or 0), int(r.get("not_settled") or 0)
        closed = int(r.get("closed") or 0)
        previous_reported = int(prev.get(a.code, {}).get("reported") or 0) if previous else None
        row = {
            "code": a.code, "name": a.name, "level": a.level.value, "parent_code": a.parent_code,
            "reported": reported, "resolved": resolved, "resolution_rate": rate(resolved, reported),
            "in_mediation": int(r.get("in_mediation") or 0), "settled": settled,
            "not_settled": not_settled, "mediation_success_rate": rate(settled, settled + not_settled),
            "closed": closed,
            "mean_hours_to_close": (r.get("close_hours_sum") or 0) / closed if closed else None,
            "median_hours_to_close": median_hours(list(r.get("hist") or [])),
            "open_at_end": open_by.get(a.code, 0),
            "previous_reported": previous_reported,
            "change_ratio": ((reported - previous_reported) / previous_reported
                             if previous_reported else None),
        }
        rows.append(_suppress_row(row, hub, principal, level))
    return rows


def _suppress_row(row: dict, hub: Hub, principal: Principal, level: AreaLevel) -> dict:
    if principal.role.value != "viewer" or level is not AreaLevel.GRID:
        return row
    k = hub.api.k_threshold
    small = 0 < row["reported"] < k
    for key in COUNT_COLUMNS:
        if row[key] is not None and 0 < row[key] < k:
            row[key] = None
    if small:
        for key in ("resolution_rate", "mediation_success_rate", "mean_hours_to_close",
                    "median_hours_to_close", "change_ratio"):
            row[key] = None
    return row


@router.get("/stats", summary="One row per area: what a choropleth needs",
            responses={200: {"content": {GEOJSON: {}, CSV: {}}}})
async def stats(request: Request, principal: CurrentPrincipal, period: PeriodDep,
                level: LevelParam = None, parent: ParentParam = None, kind: KindParam = None,
                category: CategoryParam = None, format: FormatParam = Format.JSON,
                simplify: SimplifyParam = 0.0) -> Response:
    """Counts, rates, open cases and change against the previous equal period for every area
    of a level below a parent (default: the level below the key's scope)."""
    hub = hub_of(request)
    level, areas = _areas_for(hub, principal, level, parent)
    filters = Filters(kind.value if kind else None, category.value if category else None)

    async def build():
        rows = await area_rows(hub, principal, level, areas, period, filters)
        if format is Format.CSV:
            return csv_bytes(rows, STAT_COLUMNS), CSV
        if format is Format.GEOJSON:
            geoms = await geometries(request, [r["code"] for r in rows], simplify)
            for r in rows:
                r["geometry"] = geoms.get(r["code"])
            return feature_collection(rows), GEOJSON
        return dumps({"level": level.value, "period": period.as_dict(),
                      "filters": {"kind": filters.kind, "category": filters.category},
                      "count": len(rows), "areas": rows}), JSON

    return await cached(request, principal, build)


@router.get("/rankings", summary="Top areas by count, growth or unresolved cases")
async def rankings(request: Request, principal: CurrentPrincipal, period: PeriodDep,
                   level: LevelParam = None,
                   metric: Annotated[Metric, Query(description="count, growth or unresolved")] = Metric.COUNT,
                   parent: ParentParam = None, kind: KindParam = None, category: CategoryParam = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 10) -> Response:
    """Areas of a level ranked by the metric, highest first (suppressed values are left out);
    growth needs a period with both `from` and `to`."""
    hub = hub_of(request)
    level, areas = _areas_for(hub, principal, level, parent)
    filters = Filters(kind.value if kind else None, category.value if category else None)
    if metric is Metric.GROWTH and not period.bounded:
        raise BadParameterError("from", "growth compares two periods: give both from and to")

    async def build():
        rows = await area_rows(hub, principal, level, areas, period, filters)
        scored = []
        for r in rows:
            if metric is Metric.COUNT:
                value = r["reported"]
            elif metric is Metric.UNRESOLVED:
                value = r["open_at_end"]
            else:
                value = (None if r["reported"] is None or r["previous_reported"] is None
                         else r["reported"] - r["previous_reported"])
            if value is not None:
                scored.append({"rank": 0, "code": r["code"], "name": r["name"], "value": value,
                               "reported": r["reported"], "previous_reported": r["previous_reported"],
                               "open_at_end": r["open_at_end"]})
        scored.sort(key=lambda s: (-s["value"], s["code"]))
        for i, s in enumerate(scored[:limit], start=1):
            s["rank"] = i
        return dumps({"level": level.value, "metric": metric.value, "period": period.as_dict(),
                      "areas": scored[:limit]}), JSON

    return await cached(request, principal, build)
