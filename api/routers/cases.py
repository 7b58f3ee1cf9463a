"""Case rows for analysts: filtered, keyset-paginated, with personal data masked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from psycopg import sql

from api.auth import AnalystPrincipal, area_in_scope
from api.errors import BadParameterError
from api.hub import hub_of
from api.params import (
    CODE_PATTERN,
    PLAIN_TEXT,
    CategoryParam,
    FormatParam,
    KindParam,
    StatusParam,
    cursor,
)
from api.periods import Period, period_params
from api.rendering import GEOJSON, JSON, Format, csv_response, dumps, feature_collection
from api.schemas import (
    CSV_CONTENT,
    GEOJSON_CONTENT,
    KEY_SCHEMES,
    KEYED_ERRORS,
    CasePage,
    errors,
    with_alternatives,
)
from core.masking import mask_address

router = APIRouter(tags=["cases"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
# The most rows a page holds; a server may set a lower cap (GRIDHUB_API_MAX_PAGE_SIZE).
MAX_LIMIT = 1000
PeriodDep = Annotated[Period, Depends(period_params)]
CASE_COLUMNS = ["case_id", "source", "source_record_id", "kind", "category", "raw_category",
                "status", "outcome", "reported_at", "occurred_at", "closed_at", "report_day",
                "grid_code", "community_code", "street_code", "district_code", "city_code",
                "geocode_method", "geocode_precision", "severity", "parties", "address", "lon", "lat"]

def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise BadParameterError("bbox", "expected four numbers: west,south,east,north") from exc
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadParameterError("bbox", "expected west < east within ±180 and south < north within ±90")
    return west, south, east, north


@router.get("/cases", summary="Case rows (analysts): masked, keyset-paginated", response_model=CasePage,
            responses=with_alternatives(GEOJSON_CONTENT, CSV_CONTENT) | errors(400, 404))
async def cases(
    request: Request, principal: AnalystPrincipal, period: PeriodDep,
    area: Annotated[str | None, Query(pattern=CODE_PATTERN,
                                      description="cases inside this area (default: the key's scope)")] = None,
    bbox: Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                      description="west,south,east,north in WGS84 degrees",
                                      examples=["120.1,30.2,120.2,30.3"])] = None,
    kind: KindParam = None, category: CategoryParam = None, status: StatusParam = None,
    after: Annotated[int | None, cursor("next")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows per page, 1 to {MAX_LIMIT}")] = 100,
    format: FormatParam = Format.JSON,
) -> Response:
    """Cases in case_id order, `limit` at a time; follow `next` (JSON) or the `Link` header."""
    hub = hub_of(request)
    target = area_in_scope(hub, principal, area or principal.scope_code, "area")
    if limit > hub.api.max_page_size:  # a cap set lower on this server: said, never applied silently
        raise BadParameterError("limit", f"at most {hub.api.max_page_size} rows per page on this server")
    box = _bbox(bbox)
    where = [sql.SQL("{} = %(scope)s").format(sql.Identifier(principal.scope_column)),
             sql.SQL("{} = %(area)s").format(sql.Identifier(target.level.code_column))]
    params: dict = {"scope": principal.scope_code, "area": target.code, "limit": limit}
    for column, value in (("kind", kind and kind.value), ("category", category), ("status", status and status.value)):
        if value is not None:
            where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
            params[column] = value
    if period.start is not None:
        where.append(sql.SQL("report_day >= %(from)s"))
        params["from"] = period.start
    if period.end is not None:
        where.append(sql.SQL("report_day <= %(to)s"))
        params["to"] = period.end
    if box is not None:
        where.append(sql.SQL("geom && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)"))
        params.update(zip(("west", "south", "east", "north"), box, strict=True))
    if after is not None:
        where.append(sql.SQL("case_id > %(after)s"))
        params["after"] = after
    columns = sql.SQL(", ").join(
        sql.SQL("round(ST_X(geom)::numeric, 5)::float8 AS lon") if c == "lon"
        else sql.SQL("round(ST_Y(geom)::numeric, 5)::float8 AS lat") if c == "lat"
        else sql.Identifier(c) for c in CASE_COLUMNS)
    query = sql.SQL("SELECT {cols} FROM cases WHERE {where} ORDER BY case_id LIMIT %(limit)s").format(
        cols=columns, where=sql.SQL(" AND ").join(where))
    async with hub.pool.connection() as conn:
        rows = await (await conn.execute(query, params)).fetchall()
    for r in rows:
        r["address"] = mask_address(r["address"])
    next_cursor = rows[-1]["case_id"] if len(rows) == limit else None
    headers = {"Cache-Control": "private, no-store"}
    if next_cursor is not None:
        headers["Link"] = f'<{request.url.include_query_params(after=next_cursor)}>; rel="next"'
    if format is Format.CSV:
        return csv_response(rows, CASE_COLUMNS, "cases", headers)
    if format is Format.GEOJSON:
        for r in rows:
            r["geometry"] = (dumps({"type": "Point", "coordinates": [r["lon"], r["lat"]]}).decode()
                             if r["lon"] is not None else None)
        return Response(feature_collection(rows), media_type=GEOJSON, headers=headers)
    return Response(dumps({"count": len(rows), "next": next_cursor, "cases": rows}),
                    media_type=JSON, headers=headers)
