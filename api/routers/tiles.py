"""Vector tiles (ST_AsMVT): areas with their counts at the level that suits the zoom, and
case points at high zoom; TileJSON describes each layer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from psycopg import sql

from api.auth import CurrentPrincipal, Principal
from api.cache import cached
from api.database import Statement, fetch_all
from api.errors import BadParameterError
from api.hub import Hub, hub_of
from api.levels import level_name
from api.params import FiltersDep
from api.periods import Period, period_params
from api.queries import Filters, OuterColumn, Wrapper, period_rows
from api.rendering import JSON, MVT, dumps
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, TileJson, errors
from api.suppression import suppressed_sql, threshold
from core.case import AreaLevel
from core.errors import ForbiddenError
from core.profile import CityProfile

router = APIRouter(prefix="/tiles", tags=["tiles"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
PeriodDep = Annotated[Period, Depends(period_params)]
CASES_MIN_ZOOM = 14
MAX_ZOOM = 20
MAX_POINTS = 5000
# One statement: the level's areas in the tile (and the scope), their rollup counts, MVT. Each
# geometry is clipped once, in the materialized CTE (an outer `ST_AsMVTGeom(...) IS NOT NULL`
# filter made PostgreSQL compute it twice), and each area's counts are summed in a LATERAL
# subquery on its own rows: three times faster than grouping the rows of all the tile's areas
# and joining the groups back. Counts a viewer may not see become NULL in the tile itself.
AREAS_TILE = Wrapper.of("""
    WITH tile_areas AS MATERIALIZED (
        SELECT code, name,
               ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
        FROM areas
        WHERE valid_to IS NULL AND level = %(level)s
          AND geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326)
          AND (%(allowed)s::text[] IS NULL OR code = ANY(%(allowed)s::text[]))
    )
    SELECT ST_AsMVT(t, 'areas', 4096, 'geom') AS tile FROM (
        SELECT a.code, a.name, %(level_name)s::text AS level, {reported} AS reported, {resolved} AS resolved, a.geom
        FROM tile_areas a LEFT JOIN LATERAL (
            SELECT sum(reported)::int AS reported, sum(resolved)::int AS resolved FROM ({rows}) u
        ) c ON true
        WHERE a.geom IS NOT NULL
    ) t""", reported=suppressed_sql(sql.SQL("coalesce(c.reported, 0)")),
    resolved=suppressed_sql(sql.SQL("coalesce(c.resolved, 0)")))


class Layer(StrEnum):
    AREAS = "areas"
    CASES = "cases"


def level_for_zoom(z: int, profile: CityProfile | None = None) -> AreaLevel:
    """The area level drawn at a zoom: districts far out, grids close in; a level the city
    lacks gives way to the next finer one it has."""
    wanted = _level_for_zoom(z)
    return profile.used_slot_at_or_below(wanted) if profile is not None else wanted


def _level_for_zoom(z: int) -> AreaLevel:
    if z <= 10:
        return AreaLevel.DISTRICT
    if z <= 11:
        return AreaLevel.STREET
    if z <= 13:
        return AreaLevel.COMMUNITY
    return AreaLevel.GRID


def _check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= x < 2 ** z:
        raise BadParameterError("x", f"must be 0..{2 ** z - 1} at zoom {z}")
    if not 0 <= y < 2 ** z:
        raise BadParameterError("y", f"must be 0..{2 ** z - 1} at zoom {z}")


def _scope_codes(hub: Hub, principal: Principal, level: AreaLevel) -> list[str] | None:
    """Codes of the level inside the key's scope; None when the scope is the whole hierarchy."""
    scope = hub.areas.get(principal.scope_code)
    if scope is not None and scope.parent_code not in hub.areas.by_code:
        return None
    if scope is not None and scope.level is level:
        return [scope.code]
    return hub.areas.descendants(principal.scope_code, level)


def areas_tile_statement(z: int, x: int, y: int, level: AreaLevel, allowed: list[str] | None,
                         k: int, period: Period, filters: Filters, name: str | None = None) -> Statement:
    """The MVT of the level's areas in tile z/x/y (only `allowed` ones, when given), with their
    counts over the period; counts from 1 to k-1 left out. Features carry the level's `name`
    (the profile's; by default the slot's own)."""
    counts = period_rows([("cur", period)], OuterColumn("a", "code"), filters)
    return AREAS_TILE.around(counts, z=z, x=x, y=y, level=level.value, level_name=name or level.value,
                             allowed=allowed, k=k)


async def _areas_tile(hub: Hub, principal: Principal, z: int, x: int, y: int, period: Period,
                      filters: Filters) -> bytes:
    profile = hub.settings.profile
    level = level_for_zoom(z, profile)
    k = threshold(principal.role, level, hub.api.k_threshold)
    statement = areas_tile_statement(z, x, y, level, _scope_codes(hub, principal, level), k, period, filters,
                                     level_name(profile, level))
    [row] = await fetch_all(hub.pool, statement)
    return bytes(row["tile"] or b"")


async def _cases_tile(hub: Hub, principal: Principal, z: int, x: int, y: int, period: Period,
                      filters: Filters) -> bytes:
    if not principal.role.sees_cases:
        raise ForbiddenError("the cases layer needs an analyst or admin key")
    if z < CASES_MIN_ZOOM:
        return b""
    async with hub.pool.connection() as conn:
        cur = await conn.execute(sql.SQL(
            "SELECT ST_AsMVT(t, 'cases', 4096, 'geom') AS tile FROM ("
            " SELECT case_id, kind, category, status, report_day::text AS report_day,"
            "  ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom"
            " FROM cases WHERE {scope} = %(scope)s"
            "  AND geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326)"
            "  AND (%(start)s::date IS NULL OR report_day >= %(start)s)"
            "  AND (%(end)s::date IS NULL OR report_day <= %(end)s)"
            "  AND (%(kind)s::text IS NULL OR kind = %(kind)s)"
            "  AND (%(category)s::text IS NULL OR category = %(category)s)"
            " ORDER BY case_id LIMIT %(limit)s) t").format(scope=sql.Identifier(principal.scope_column)),
            {"z": z, "x": x, "y": y, "scope": principal.scope_code, "start": period.start,
             "end": period.end, "kind": filters.kind, "category": filters.category, "limit": MAX_POINTS})
        return bytes((await cur.fetchone())["tile"] or b"")


@router.get("/{layer}/{z}/{x}/{y}.mvt", summary="A Mapbox vector tile",
            responses={200: {"content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the tile (empty where nothing is drawn)"}} | errors(400),
            response_class=Response)
async def tile(request: Request, principal: CurrentPrincipal, period: PeriodDep, filters: FiltersDep,
               layer: Layer, z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
               x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]) -> Response:
    """`areas`: polygons with reported and resolved counts for the period, at the level that
    suits the zoom; `cases`: case points from zoom 14 (analysts). Cached by ETag."""
    _check_tile(z, x, y)
    hub = hub_of(request)
    make = _areas_tile if layer is Layer.AREAS else _cases_tile

    async def build():
        return await make(hub, principal, z, x, y, period, filters), MVT

    return await cached(request, principal, build,
                        cache_control=f"private, max-age={hub.api.tile_max_age}")


@router.get("/{layer}.json", summary="TileJSON of a layer", response_model=TileJson)
async def tilejson(request: Request, principal: CurrentPrincipal, layer: Layer) -> Response:
    """TileJSON 3.0.0 for a layer, bounded by the key's scope area."""
    hub = hub_of(request)
    async with hub.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n"
            " FROM (SELECT ST_Extent(geom) AS e FROM areas WHERE code = %s AND valid_to IS NULL) b",
            (principal.scope_code,))
        b = await cur.fetchone()
    query = f"?{request.url.query}" if request.url.query else ""
    base = str(request.base_url).rstrip("/")
    fields = ({"code": "String", "name": "String", "level": "String", "reported": "Number",
               "resolved": "Number"} if layer is Layer.AREAS else
              {"case_id": "Number", "kind": "String", "category": "String", "status": "String",
               "report_day": "String"})
    body = {
        "tilejson": "3.0.0", "name": f"gridhub-{layer.value}", "scheme": "xyz",
        "tiles": [f"{base}/tiles/{layer.value}/{{z}}/{{x}}/{{y}}.mvt{query}"],
        "minzoom": CASES_MIN_ZOOM if layer is Layer.CASES else 0, "maxzoom": MAX_ZOOM,
        "bounds": [b["w"], b["s"], b["e"], b["n"]] if b and b["w"] is not None else [-180, -85, 180, 85],
        "vector_layers": [{"id": layer.value, "fields": fields}],
    }
    return Response(dumps(body), media_type=JSON)
