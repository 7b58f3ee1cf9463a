"""The area hierarchy: lists (JSON or GeoJSON) and one area with its ancestors and children."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.areaindex import AreaInfo
from api.auth import CurrentPrincipal, area_in_scope
from api.cache import cached
from api.hub import hub_of
from api.levels import level_name
from api.params import PLAIN_TEXT, AreaCode, FormatParam, LevelParam, ParentParam, SimplifyParam
from api.rendering import GEOJSON, JSON, Format, csv_response, dumps, feature_collection
from api.schemas import (
    CSV_CONTENT,
    GEOJSON_CONTENT,
    KEY_SCHEMES,
    KEYED_ERRORS,
    AreaDetail,
    AreaList,
    errors,
    with_alternatives,
)
from core.profile import CityProfile

router = APIRouter(prefix="/areas", tags=["areas"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
BRIEF_COLUMNS = ["code", "name", "level", "parent_code"]


def _brief(a: AreaInfo, profile: CityProfile) -> dict:
    return {"code": a.code, "name": a.name, "level": level_name(profile, a.level), "parent_code": a.parent_code}


async def geometries(request: Request, codes: list[str], simplify: float) -> dict[str, str]:
    async with hub_of(request).pool.connection() as conn:
        cur = await conn.execute(
            "SELECT code, ST_AsGeoJSON(CASE WHEN %(tol)s > 0"
            " THEN ST_SimplifyPreserveTopology(geom, %(tol)s) ELSE geom END, 6) AS geometry"
            " FROM areas WHERE valid_to IS NULL AND code = ANY(%(codes)s)",
            {"tol": simplify, "codes": codes})
        return {r["code"]: r["geometry"] for r in await cur.fetchall()}


@router.get("", summary="List areas", response_model=AreaList,
            responses=with_alternatives(GEOJSON_CONTENT, CSV_CONTENT) | errors(404))
async def list_areas(
    request: Request,
    principal: CurrentPrincipal,
    level: LevelParam = None,
    parent: ParentParam = None,
    q: Annotated[str | None, Query(max_length=100, pattern=PLAIN_TEXT,
                                   description="name contains (case-insensitive)",
                                   examples=["社区"])] = None,
    format: FormatParam = Format.JSON,
    simplify: SimplifyParam = 0.0,
) -> Response:
    """Areas inside the key's scope, by level, parent and name; GeoJSON with geometry on request."""
    hub = hub_of(request)
    root = area_in_scope(hub, principal, parent or principal.scope_code, "parent")
    codes = hub.areas.descendants(root.code, level)
    if parent is None and (level is None or level is root.level):
        codes = [root.code, *codes]
    areas = [hub.areas.get(c) for c in codes]
    if q:
        needle = q.casefold()
        areas = [a for a in areas if needle in a.name.casefold()]
    if format is Format.CSV:
        return csv_response([_brief(a, hub.settings.profile) for a in areas], BRIEF_COLUMNS, "areas")

    async def build():
        rows = [_brief(a, hub.settings.profile) for a in areas]
        if format is Format.GEOJSON:
            geoms = await geometries(request, [a.code for a in areas], simplify)
            for row in rows:
                row["geometry"] = geoms.get(row["code"])
            return feature_collection(rows), GEOJSON
        return dumps({"count": len(rows), "areas": rows}), JSON

    return await cached(request, principal, build)


@router.get("/{code}", summary="One area, its ancestors and children", response_model=AreaDetail,
            responses=errors(404))
async def area_detail(
    request: Request,
    principal: CurrentPrincipal,
    code: AreaCode,
    geometry: Annotated[bool, Query(description="include the GeoJSON geometry")] = False,
    simplify: SimplifyParam = 0.0,
) -> Response:
    """The area with its ancestors (up to the key's scope) and its children."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    profile = hub.settings.profile

    async def build():
        lineage = hub.areas.lineage(code)[1:]
        visible = []
        for a in lineage:  # nearest first; stop above the scope
            if not hub.areas.within(a.code, principal.scope_code):
                break
            visible.append(_brief(a, profile))
        body = _brief(area, profile) | {
            "ancestors": visible,
            "children": [_brief(hub.areas.get(c), profile) for c in hub.areas.children.get(code, [])],
        }
        if geometry:
            body["geometry"] = (await geometries(request, [code], simplify)).get(code)
            body = _with_fragment(body)
        return dumps(body), JSON

    return await cached(request, principal, build)


def _with_fragment(body: dict) -> dict:
    if body.get("geometry"):
        body["geometry"] = orjson.Fragment(body["geometry"])
    return body
