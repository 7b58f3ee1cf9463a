"""OGC API Features (Part 1 core, GeoJSON, OpenAPI 3.0; Part 3 CQL2 text filters) and OGC API
Tiles (WebMercatorQuad) under /ogc, for standard GIS clients (QGIS, GDAL's OAPIF driver).

The same keys, roles, scopes and suppression as every other endpoint: the collections'
statements (api.ogc_collections) hold only what the caller may see, and the tiles are those of
api.routers.tiles, with the level fixed by the collection instead of by the zoom.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from psycopg import sql

from api.auth import CurrentPrincipal, Principal
from api.cache import cached
from api.database import Statement, fetch_all, merged
from api.errors import BadParameterError
from api.hub import Hub, hub_of
from api.levels import level_name
from api.ogc_collections import (
    Collection,
    Kind,
    add_figures,
    base_properties,
    base_statement,
    collections_of,
    figures_after_paging,
    parse_bbox,
    parse_datetime,
)
from api.ogc_cql2 import cql2_condition
from api.ogc_documents import (
    CONFORMANCE,
    CRS84,
    OPENAPI_30,
    TMS_ID,
    TMS_URI,
    WEB_MERCATOR,
    feature_schema,
    filter_columns,
    openapi_30,
    queryables,
    tile_matrix_set,
)
from api.params import BIGINT_MAX, NO_NUL, PLAIN_TEXT, CategoryParam, KindParam
from api.queries import Filters
from api.rendering import GEOJSON, JSON, MVT, OrjsonResponse, dumps
from api.routers.tiles import MAX_ZOOM, _cases_tile, _check_tile, _scope_codes, areas_tile_statement
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, components, errors
from api.suppression import threshold
from core.errors import ForbiddenError, NotFoundError
from core.masking import mask_address

router = APIRouter(prefix="/ogc", tags=["ogc"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
SCHEMA_JSON = "application/schema+json"
ITEM_PARAMETERS = {"bbox", "datetime", "limit", "offset", "filter", "filter-lang", "filter-crs", "kind",
                   "category", "f"}

# OGC's own parameter names: clients (GDAL) look paths up as /collections/{collectionId}/items.
CollectionId = Annotated[str, Path(alias="collectionId", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                                   description="a collection's id: a level's name, cases, warnings or hotspots",
                                   examples=["district"])]
TmsParam = Annotated[str, Path(description=f"the tile matrix set ({TMS_ID}, the only one)", examples=[TMS_ID])]
BboxParam = Annotated[str | None, Query(description="west,south,east,north in WGS84 degrees",
                                        examples=["120.1,30.2,120.2,30.3"])]
DatetimeParam = Annotated[str | None, Query(
    alias="datetime", description="a day, an instant or an interval (`2025-06-01/2025-06-30`, `..` open);"
    " taken as whole days of the city. Areas: the period of their figures; other collections: the"
    " features of those days")]
LimitParam = Annotated[int, Query(description=f"features per page, 1 to {MAX_LIMIT}",
                                  json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})]
OffsetParam = Annotated[int, Query(description="features to skip (follow the `next` link)",
                                   json_schema_extra={"minimum": 0, "maximum": BIGINT_MAX})]
FilterParam = Annotated[str | None, Query(pattern=NO_NUL, description="a CQL2 text filter over the queryables",
                                          examples=["kind = 'dispute' AND S_INTERSECTS(geometry,"
                                                    " BBOX(120.1,30.2,120.2,30.3))"])]
# cql-text: the draft's name for the same text, which GDAL up to 3.6 sends.
FILTER_LANGS = ("cql2-text", "cql-text")
FilterLangParam = Annotated[str | None, Query(alias="filter-lang", description="cql2-text (the default)",
                                              json_schema_extra={"enum": list(FILTER_LANGS)})]
FilterCrsParam = Annotated[str | None, Query(alias="filter-crs", description=f"{CRS84} only")]
FormatParam = Annotated[str | None, Query(alias="f", description="json (the only encoding)")]
# OGC documents are declared as JSON objects: their own schemas are the OGC standards'.
Document = dict[str, Any]


class GeoJsonResponse(OrjsonResponse):
    media_type = GEOJSON


class SchemaJsonResponse(OrjsonResponse):
    media_type = SCHEMA_JSON


class OpenApi30Response(OrjsonResponse):
    media_type = OPENAPI_30


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _link(href: str, rel: str, media_type: str, title: str, **extra) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title, **extra}


def _json(body: dict, media_type: str = JSON) -> Response:
    return Response(dumps(body), media_type=media_type)


def _collection(hub: Hub, principal: Principal, collection_id: str) -> Collection:
    """The collection, if the key may read it (404 unknown; 403 cases for viewers)."""
    found = collections_of(hub.settings.profile).get(collection_id)
    if found is None:
        raise NotFoundError(f"no collection {collection_id!r}")
    if found.kind is Kind.CASES and not principal.role.sees_cases:
        raise ForbiddenError("the cases collection needs an analyst or admin key")
    return found


def _visible(hub: Hub, principal: Principal) -> list[Collection]:
    return [c for c in collections_of(hub.settings.profile).values()
            if c.kind is not Kind.CASES or principal.role.sees_cases]


# The extent of the key's scope area: the spatial extent of every collection.
_EXTENT = (b"SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n FROM"
           b" (SELECT ST_Extent(geom) AS e FROM areas WHERE code = %(code)s AND valid_to IS NULL) b")


async def _scope_bbox(hub: Hub, principal: Principal) -> list[float]:
    [row] = await fetch_all(hub.pool, Statement(_EXTENT, {"code": principal.scope_code}))
    return [row["w"], row["s"], row["e"], row["n"]] if row["w"] is not None else [-180, -90, 180, 90]


def _describe(request: Request, collection: Collection, bbox: list[float]) -> dict:
    here = f"{_base(request)}/collections/{collection.id}"
    links = [_link(here, "self", JSON, collection.title),
             _link(f"{here}/items", "items", GEOJSON, "the features"),
             _link(f"{here}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA_JSON,
                   "what a filter may name"),
             # Relation types compare case-insensitively (RFC 8288); GDAL 3.6 matches this spelling only.
             _link(f"{here}/schema", "describedBy", SCHEMA_JSON, "the features' properties and their types")]
    if collection.has_tiles:
        links.append(_link(f"{here}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON,
                           "vector tilesets"))
    return {"id": collection.id, "title": collection.title, "description": collection.description,
            "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84, "links": links,
            "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}}}


# -- Features: landing page, conformance, collections ------------------------------------------

@router.get("", summary="OGC API landing page", response_model=Document)
async def landing(request: Request, principal: CurrentPrincipal) -> Response:
    """Links to the API definition, the conformance declaration and the collections."""
    base = _base(request)
    return _json({"title": "GridHub OGC API", "description": "Areas with their figures, cases, warnings"
                  " and hotspots as OGC API Features and Tiles.", "links": [
        _link(base, "self", JSON, "this page"),
        _link(f"{base}/api", "service-desc", OPENAPI_30, "the API definition (OpenAPI 3.0)"),
        _link(str(request.base_url).rstrip("/") + "/docs", "service-doc", "text/html", "the API documentation"),
        _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
        _link(f"{base}/collections", "data", JSON, "the collections"),
        _link(f"{base}/tileMatrixSets", "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", JSON,
              "tile matrix sets")]})


@router.get("/api", summary="OpenAPI 3.0 definition of the OGC API", response_model=Document,
            response_class=OpenApi30Response)
async def api_definition(request: Request, principal: CurrentPrincipal) -> Response:
    """This API's OGC routes as OpenAPI 3.0."""
    document = openapi_30(router.routes, "GridHub OGC API", request.app.version, router.prefix)
    document.setdefault("components", {}).setdefault("schemas", {}).update(components())  # the problem body
    document["servers"] = [{"url": _base(request)}]
    return _json(document, OPENAPI_30)


@router.get("/conformance", summary="Conformance classes declared", response_model=Document)
async def conformance(principal: CurrentPrincipal) -> Response:
    """The OGC conformance classes this API implements."""
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="The feature collections", response_model=Document)
async def collections(request: Request, principal: CurrentPrincipal) -> Response:
    """One collection per area level (named as the city names it), cases (analysts), warnings, hotspots."""
    hub = hub_of(request)
    bbox = await _scope_bbox(hub, principal)
    return _json({"links": [_link(f"{_base(request)}/collections", "self", JSON, "the collections")],
                  "collections": [_describe(request, c, bbox) for c in _visible(hub, principal)]})


@router.get("/collections/{collectionId}", summary="One collection", response_model=Document,
            responses=errors(404))
async def collection(request: Request, principal: CurrentPrincipal, collection_id: CollectionId) -> Response:
    """A collection's description, extent and links."""
    hub = hub_of(request)
    found = _collection(hub, principal, collection_id)
    return _json(_describe(request, found, await _scope_bbox(hub, principal)))


@router.get("/collections/{collectionId}/queryables", summary="What a filter may name",
            response_model=Document, response_class=SchemaJsonResponse, responses=errors(404))
async def collection_queryables(request: Request, principal: CurrentPrincipal,
                                collection_id: CollectionId) -> Response:
    """The JSON schema of the collection's queryable properties."""
    found = _collection(hub_of(request), principal, collection_id)
    return _json(queryables(found, str(request.url)), SCHEMA_JSON)


@router.get("/collections/{collectionId}/schema", summary="The features' properties and their types",
            response_model=Document, response_class=SchemaJsonResponse, responses=errors(404))
async def collection_schema(request: Request, principal: CurrentPrincipal, collection_id: CollectionId) -> Response:
    """The JSON schema of every property of the collection's features."""
    found = _collection(hub_of(request), principal, collection_id)
    return _json(feature_schema(found, str(request.url)), SCHEMA_JSON)


# -- Features: items --------------------------------------------------------------------------

def _conditions(collection: Collection, bbox: str | None, period, filters: Filters, text: str | None,
                lang: str | None, crs: str | None, params: dict) -> sql.Composable:
    """The WHERE over the collection's base (alias f) for bbox, datetime, kind/category and filter."""
    where: list[sql.Composable] = [sql.SQL("true")]
    box = parse_bbox(bbox)
    if box is not None:
        params.update(zip(("ogc_w", "ogc_s", "ogc_e", "ogc_n"), box, strict=True))
        where.append(sql.SQL("ST_Intersects(f.geom, ST_MakeEnvelope(%(ogc_w)s, %(ogc_s)s, %(ogc_e)s,"
                             " %(ogc_n)s, 4326))"))
    if collection.temporal is not None:
        first, last = collection.temporal
        if period.start is not None:
            params["ogc_from"] = period.start
            where.append(sql.SQL("f.{} >= %(ogc_from)s").format(sql.Identifier(last)))
        if period.end is not None:
            params["ogc_to"] = period.end
            where.append(sql.SQL("f.{} <= %(ogc_to)s").format(sql.Identifier(first)))
    if collection.kind is not Kind.AREAS:  # for areas they narrow the counts instead
        for name, value in (("kind", filters.kind), ("category", filters.category)):
            if value is None:
                continue
            if collection.kind is not Kind.CASES:
                raise BadParameterError(name, f"not a parameter of {collection.id}: use filter={name} = '...'")
            params[f"ogc_{name}"] = value
            where.append(sql.SQL("f.{} = {}").format(sql.Identifier(name), sql.Placeholder(f"ogc_{name}")))
    if lang is not None and lang not in FILTER_LANGS:
        raise BadParameterError("filter-lang", f"{lang!r} is not supported: only cql2-text")
    if crs is not None and crs not in (CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326"):
        raise BadParameterError("filter-crs", f"only {CRS84}")
    if text is not None:
        columns = {name: (sql.Identifier("f", name), kind) for name, kind in filter_columns(collection).items()}
        where.append(cql2_condition(text, columns, sql.Identifier("f", "geom"), params))
    return sql.SQL(" AND ").join(where)


def _columns(collection: Collection, figures_later: bool) -> sql.Composable:
    """The base's properties (alias f), as base_statement selects them."""
    return sql.SQL(", ").join(sql.Identifier("f", name)
                              for name, _ in base_properties(collection, figures_later))


def _page_url(request: Request, offset: int) -> str:
    return str(request.url.include_query_params(offset=offset))


def _features(rows: list[dict], collection: Collection) -> list[dict]:
    out = []
    for row in rows:
        geometry = row.pop("geometry")
        if collection.kind is Kind.CASES:  # masked exactly as /cases masks it
            row["address"] = mask_address(row["address"])
        out.append({"type": "Feature", "id": row[collection.id_column],
                    "geometry": orjson.Fragment(geometry) if geometry else None, "properties": row})
    return out


@router.get("/collections/{collectionId}/items", summary="Features of a collection, a page at a time",
            response_model=Document, response_class=GeoJsonResponse, responses=errors(400, 404))
async def items(request: Request, principal: CurrentPrincipal, collection_id: CollectionId,
                bbox: BboxParam = None, datetime: DatetimeParam = None, limit: LimitParam = DEFAULT_LIMIT,
                offset: OffsetParam = 0, filter: FilterParam = None, filter_lang: FilterLangParam = None,
                filter_crs: FilterCrsParam = None, kind: KindParam = None, category: CategoryParam = None,
                f: FormatParam = None) -> Response:
    """GeoJSON features in id order, with numberMatched, numberReturned and next/prev links."""
    hub = hub_of(request)
    found = _collection(hub, principal, collection_id)
    unknown = sorted(set(request.query_params) - ITEM_PARAMETERS)
    if unknown:
        raise BadParameterError(unknown[0], f"unknown parameter (known: {', '.join(sorted(ITEM_PARAMETERS))})")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameterError("limit", f"must be 1 to {MAX_LIMIT}")
    if not 0 <= offset <= BIGINT_MAX:
        raise BadParameterError("offset", f"must be 0 to {BIGINT_MAX}")
    if f not in (None, "json", "geojson"):
        raise BadParameterError("f", "only json")
    period = parse_datetime(datetime, hub.settings.timezone)
    filters = Filters(kind.value if kind else None, category or None)

    async def build():
        figures_later = figures_after_paging(found, filter)
        base, params = await base_statement(hub, principal, found, period, filters, figures_later=figures_later)
        where = _conditions(found, bbox, period, filters, filter, filter_lang, filter_crs, params)
        columns = _columns(found, figures_later=figures_later)
        page = sql.SQL("SELECT {columns}, ST_AsGeoJSON(f.geom, 6) AS geometry FROM ({base}) f WHERE {where}"
                       " ORDER BY f.{id} LIMIT %(ogc_limit)s OFFSET %(ogc_offset)s").format(
            columns=columns, base=base, where=where, id=sql.Identifier(found.id_column))
        count = sql.SQL("SELECT count(*) AS n FROM ({base}) f WHERE {where}").format(base=base, where=where)
        async with hub.pool.connection() as conn:
            rows = await (await conn.execute(page, merged(params, {"ogc_limit": limit, "ogc_offset": offset}))
                          ).fetchall()
            matched = (await (await conn.execute(count, params)).fetchone())["n"]
        if figures_later:
            rows = await add_figures(hub, principal, found, rows, period, filters)
        here = f"{_base(request)}/collections/{found.id}"
        links = [_link(str(request.url), "self", GEOJSON, "this page"),
                 _link(here, "collection", JSON, found.title)]
        if offset + len(rows) < matched:
            links.append(_link(_page_url(request, offset + len(rows)), "next", GEOJSON, "next page"))
        if offset > 0:
            links.append(_link(_page_url(request, max(0, offset - limit)), "prev", GEOJSON, "previous page"))
        body = {"type": "FeatureCollection", "numberMatched": matched, "numberReturned": len(rows),
                "links": links, "features": _features(rows, found)}
        return dumps(body), GEOJSON

    if found.kind is Kind.AREAS:  # rollup figures: cached until the rollups move on
        return await cached(request, principal, build)
    # Case rows are never kept (as /cases); alerts change with warning runs, not with the rollups.
    body, media_type = await build()
    return Response(body, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature",
            response_model=Document, response_class=GeoJsonResponse, responses=errors(400, 404))
async def item(request: Request, principal: CurrentPrincipal, collection_id: CollectionId,
               feature_id: Annotated[str, Path(alias="featureId", max_length=200, pattern=PLAIN_TEXT)],
               datetime: DatetimeParam = None,
               kind: KindParam = None, category: CategoryParam = None) -> Response:
    """One feature by its id (404 when unknown or outside the key's scope)."""
    hub = hub_of(request)
    found = _collection(hub, principal, collection_id)
    period = parse_datetime(datetime, hub.settings.timezone)
    value: object = feature_id
    if found.id_column in ("case_id", "alert_id"):
        # ASCII digits only (str.isdigit takes '²' too), and no id beyond bigint exists
        if not (feature_id.isascii() and feature_id.isdigit()) or int(feature_id) > BIGINT_MAX:
            raise NotFoundError(f"no feature {feature_id!r} in {found.id}")
        value = int(feature_id)
    filters = Filters(kind.value if kind else None, category or None)
    figures_later = figures_after_paging(found, None)
    base, params = await base_statement(hub, principal, found, period, filters, figures_later=figures_later)
    columns = _columns(found, figures_later=figures_later)
    query = sql.SQL("SELECT {columns}, ST_AsGeoJSON(f.geom, 6) AS geometry FROM ({base}) f"
                    " WHERE f.{id} = %(ogc_id)s").format(columns=columns, base=base,
                                                         id=sql.Identifier(found.id_column))
    async with hub.pool.connection() as conn:
        rows = await (await conn.execute(query, merged(params, {"ogc_id": value}))).fetchall()
    if not rows:
        raise NotFoundError(f"no feature {feature_id!r} in {found.id} (inside this key's scope)")
    if figures_later:
        rows = await add_figures(hub, principal, found, rows, period, filters)
    [feature] = _features(rows, found)
    here = f"{_base(request)}/collections/{found.id}"
    feature["links"] = [_link(str(request.url), "self", GEOJSON, "this feature"),
                        _link(here, "collection", JSON, found.title)]
    return Response(dumps(feature), media_type=GEOJSON, headers={"Cache-Control": "private, no-store"})


# -- Tiles ------------------------------------------------------------------------------------

@router.get("/tileMatrixSets", summary="Tile matrix sets", response_model=Document)
async def tile_matrix_sets(request: Request, principal: CurrentPrincipal) -> Response:
    """WebMercatorQuad, the one tiling scheme served."""
    href = f"{_base(request)}/tileMatrixSets/{TMS_ID}"
    return _json({"tileMatrixSets": [{"id": TMS_ID, "title": "Google Maps compatible", "uri": TMS_URI,
                                      "links": [_link(href, "self", JSON, TMS_ID)]}]})


@router.get("/tileMatrixSets/{tms}", summary="One tile matrix set", response_model=Document,
            responses=errors(404))
async def one_tile_matrix_set(principal: CurrentPrincipal, tms: TmsParam) -> Response:
    """The definition of WebMercatorQuad."""
    if tms != TMS_ID:
        raise NotFoundError(f"no tile matrix set {tms!r} (only {TMS_ID})")
    return _json(tile_matrix_set(MAX_ZOOM))


def _tiled(hub: Hub, principal: Principal, collection_id: str) -> Collection:
    found = _collection(hub, principal, collection_id)
    if not found.has_tiles:
        raise NotFoundError(f"{collection_id} has no tiles (tiles: the areas of each level, and cases)")
    return found


def _tileset(request: Request, collection: Collection) -> dict:
    here = f"{_base(request)}/collections/{collection.id}/tiles/{TMS_ID}"
    query = f"?{request.url.query}" if request.url.query else ""
    fields = ({"code": "string", "name": "string", "level": "string", "reported": "integer",
               "resolved": "integer"} if collection.kind is Kind.AREAS else
              {"case_id": "integer", "kind": "string", "category": "string", "status": "string",
               "report_day": "string"})
    return {"title": f"{collection.title} as vector tiles", "dataType": "vector", "crs": WEB_MERCATOR,
            "tileMatrixSetURI": TMS_URI,
            "links": [_link(here, "self", JSON, "this tileset"),
                      _link(f"{_base(request)}/tileMatrixSets/{TMS_ID}",
                            "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", JSON, TMS_ID),
                      _link(f"{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{query}", "item", MVT,
                            "a tile", templated=True)],
            "layers": [{"id": "areas" if collection.kind is Kind.AREAS else "cases", "dataType": "vector",
                        "geometryType": "polygons" if collection.kind is Kind.AREAS else "points",
                        "minTileMatrix": "14" if collection.kind is Kind.CASES else "0",
                        "maxTileMatrix": str(MAX_ZOOM),
                        "propertiesSchema": {"type": "object", "properties": {
                            name: {"type": kind} for name, kind in fields.items()}}}]}


@router.get("/collections/{collectionId}/tiles", summary="A collection's vector tilesets",
            response_model=Document, responses=errors(404))
async def tilesets(request: Request, principal: CurrentPrincipal, collection_id: CollectionId) -> Response:
    """The tilesets of a collection (WebMercatorQuad)."""
    found = _tiled(hub_of(request), principal, collection_id)
    here = f"{_base(request)}/collections/{found.id}/tiles"
    tileset = _tileset(request, found)
    return _json({"links": [_link(here, "self", JSON, "tilesets")],
                  "tilesets": [{key: tileset[key] for key in ("title", "dataType", "crs", "tileMatrixSetURI")}
                               | {"links": tileset["links"][:2]}]})


@router.get("/collections/{collectionId}/tiles/{tms}", summary="A collection's tileset",
            response_model=Document, responses=errors(404))
async def tileset(request: Request, principal: CurrentPrincipal, collection_id: CollectionId, tms: TmsParam) -> Response:
    """Tileset metadata with the URL template of its tiles."""
    found = _tiled(hub_of(request), principal, collection_id)
    if tms != TMS_ID:
        raise NotFoundError(f"no tile matrix set {tms!r} (only {TMS_ID})")
    return _json(_tileset(request, found))


@router.get("/collections/{collectionId}/tiles/{tms}/{tileMatrix}/{tileRow}/{tileCol}",
            summary="A vector tile", response_class=Response,
            responses={200: {"content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the tile (empty where nothing is drawn)"}} | errors(400, 404))
async def collection_tile(request: Request, principal: CurrentPrincipal, collection_id: CollectionId, tms: TmsParam,
                          tile_matrix: Annotated[int, Path(alias="tileMatrix", ge=0, le=MAX_ZOOM)],
                          tile_row: Annotated[int, Path(alias="tileRow", ge=0)],
                          tile_col: Annotated[int, Path(alias="tileCol", ge=0)],
                          datetime: DatetimeParam = None, kind: KindParam = None,
                          category: CategoryParam = None) -> Response:
    """The areas of the collection's level with reported and resolved counts over the period
    (suppressed for viewers at grid level), or case points from zoom 14 (analysts)."""
    hub = hub_of(request)
    found = _tiled(hub, principal, collection_id)
    if tms != TMS_ID:
        raise NotFoundError(f"no tile matrix set {tms!r} (only {TMS_ID})")
    z, x, y = tile_matrix, tile_col, tile_row
    _check_tile(z, x, y)
    period = parse_datetime(datetime, hub.settings.timezone)
    filters = Filters(kind.value if kind else None, category or None)

    async def build():
        if found.kind is Kind.CASES:
            return await _cases_tile(hub, principal, z, x, y, period, filters), MVT
        level = found.level
        statement = areas_tile_statement(z, x, y, level, _scope_codes(hub, principal, level),
                                         threshold(principal.role, level, hub.api.k_threshold), period, filters,
                                         level_name(hub.settings.profile, level))
        [row] = await fetch_all(hub.pool, statement)
        return bytes(row["tile"] or b""), MVT

    return await cached(request, principal, build, cache_control=f"private, max-age={hub.api.tile_max_age}")
