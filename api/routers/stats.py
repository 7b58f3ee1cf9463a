"""Many areas at once: one row per area (choropleths, tables) and rankings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.areaindex import AreaInfo
from api.auth import CurrentPrincipal, Principal, area_in_scope
from api.cache import cached
from api.disclosure import area_figures
from api.errors import BadParameterError
from api.hub import Hub, hub_of
from api.levels import level_name
from api.params import FiltersDep, FormatParam, LevelParam, ParentParam, SimplifyParam, TableFormat
from api.periods import Period, period_params
from api.queries import Filters
from api.rendering import (
    GEOJSON,
    JSON,
    Format,
    TableFormats,
    csv_response,
    dumps,
    feature_collection,
)
from api.routers.areas import geometries
from api.schemas import (
    CSV_CONTENT,
    GEOJSON_CONTENT,
    KEY_SCHEMES,
    KEYED_ERRORS,
    Rankings,
    Stats,
    errors,
    with_alternatives,
)
from api.suppression import threshold
from core.case import AreaLevel
from core.errors import NotFoundError
from core.profile import CityProfile

router = APIRouter(tags=["statistics"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
PeriodDep = Annotated[Period, Depends(period_params)]
FIGURE_COLUMNS = ["reported", "resolved", "resolution_rate", "in_mediation", "settled", "not_settled",
                  "mediation_success_rate", "closed", "mean_hours_to_close", "median_hours_to_close",
                  "open_at_end", "previous_reported", "change_ratio"]
STAT_COLUMNS = ["code", "name", "level", "parent_code", *FIGURE_COLUMNS]
RANKED_COLUMNS = ["rank", "code", "name", "value", "reported", "previous_reported", "open_at_end"]


MAX_RANKED = 500


class Metric(StrEnum):
    COUNT = "count"            # cases reported in the period
    GROWTH = "growth"          # reported now minus reported in the previous equal period
    UNRESOLVED = "unresolved"  # cases open at the end of the period


def _areas_for(hub: Hub, principal: Principal, level: AreaLevel | None, parent: str | None):
    root = area_in_scope(hub, principal, parent or principal.scope_code, "parent")
    if level is None:  # the next level down that the city has (its finest at the bottom)
        level = hub.settings.profile.child_slot(root.level) or root.level
    if level.depth < root.level.depth:
        profile = hub.settings.profile
        raise NotFoundError(f"no {level_name(profile, level)} areas below {root.code}"
                            f" ({level_name(profile, root.level)})")
    codes = [root.code] if level is root.level else hub.areas.descendants(root.code, level)
    return level, [hub.areas.get(c) for c in codes]


def area_identity(profile: CityProfile, area: AreaInfo) -> dict:
    """The first columns of an area's stats row: code, name, level (as the city names it), parent."""
    return {"code": area.code, "name": area.name, "level": level_name(profile, area.level),
            "parent_code": area.parent_code}


async def area_rows(hub: Hub, principal: Principal, level: AreaLevel, areas, period: Period,
                    filters: Filters) -> list[dict]:
    """The stats row of each area, suppressed for viewers at grid level (api.disclosure)."""
    k = threshold(principal.role, level, hub.api.k_threshold)
    found = await area_figures(hub, [a.code for a in areas], period, filters, k)
    profile = hub.settings.profile  # once: each read looks at the file
    return [area_identity(profile, a) | {column: getattr(found[a.code], column) for column in FIGURE_COLUMNS}
            for a in areas]


@router.get("/stats", summary="One row per area: what a choropleth needs", response_model=Stats,
            responses=with_alternatives(GEOJSON_CONTENT, CSV_CONTENT) | errors(400, 404))
async def stats(request: Request, principal: CurrentPrincipal, period: PeriodDep, filters: FiltersDep,
                level: LevelParam = None, parent: ParentParam = None, format: FormatParam = Format.JSON,
                simplify: SimplifyParam = 0.0) -> Response:
    """Counts, rates, open cases and change against the previous equal period for every area
    of a level below a parent (default: the level below the key's scope)."""
    hub = hub_of(request)
    level, areas = _areas_for(hub, principal, level, parent)
    if format is Format.CSV:
        rows = await area_rows(hub, principal, level, areas, period, filters)
        return csv_response(rows, STAT_COLUMNS, f"stats-{level_name(hub.settings.profile, level)}")

    async def build():
        rows = await area_rows(hub, principal, level, areas, period, filters)
        if format is Format.GEOJSON:
            geoms = await geometries(request, [r["code"] for r in rows], simplify)
            for r in rows:
                r["geometry"] = geoms.get(r["code"])
            return feature_collection(rows), GEOJSON
        return dumps({"level": level_name(hub.settings.profile, level), "period": period.as_dict(),
                      "filters": {"kind": filters.kind, "category": filters.category},
                      "count": len(rows), "areas": rows}), JSON

    return await cached(request, principal, build)


@router.get("/rankings", summary="Top areas by count, growth or unresolved cases", response_model=Rankings,
            responses=with_alternatives(CSV_CONTENT) | errors(400, 404))
async def rankings(request: Request, principal: CurrentPrincipal, period: PeriodDep, filters: FiltersDep,
                   level: LevelParam = None,
                   metric: Annotated[Metric, Query(description="count, growth or unresolved")] = Metric.COUNT,
                   parent: ParentParam = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_RANKED, description=f"1 to {MAX_RANKED}")] = 10,
                   format: TableFormat = TableFormats.JSON) -> Response:
    """Areas of a level ranked by the metric, highest first (suppressed values are left out);
    growth needs a period with both `from` and `to`."""
    hub = hub_of(request)
    level, areas = _areas_for(hub, principal, level, parent)
    if metric is Metric.GROWTH and not period.bounded:
        raise BadParameterError("from", "growth compares two periods: give both from and to")
    if format is TableFormats.CSV:
        ranked = await _ranked(hub, principal, level, areas, period, filters, metric, limit)
        return csv_response(ranked, RANKED_COLUMNS,
                            f"rankings-{level_name(hub.settings.profile, level)}-{metric.value}")

    async def build():
        return dumps({"level": level_name(hub.settings.profile, level), "metric": metric.value,
                      "period": period.as_dict(),
                      "areas": await _ranked(hub, principal, level, areas, period, filters, metric, limit)}), JSON

    return await cached(request, principal, build)


async def _ranked(hub: Hub, principal: Principal, level: AreaLevel, areas, period: Period, filters: Filters,
                  metric: Metric, limit: int) -> list[dict]:
    """The first `limit` areas by the metric, with their rank."""
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
    return scored[:limit]
