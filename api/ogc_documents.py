"""The fixed documents of the OGC API: conformance classes, the WebMercatorQuad tile matrix
set, queryables schemas, and the OpenAPI 3.0 definition of the OGC routes."""

from __future__ import annotations

import math
from typing import Any

from fastapi.openapi.utils import get_openapi

from api.ogc_collections import UNFILTERABLE, Collection
from api.ogc_cql2 import GEOMETRY, Type

FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
FILTER = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
# Only the classes this code implements (tests/api/test_ogc_features.py exercises each).
CONFORMANCE = [
    FEATURES + "core", FEATURES + "geojson", FEATURES + "oas30",
    FILTER + "queryables", FILTER + "filter", FILTER + "features-filter",
    CQL2 + "cql2-text", CQL2 + "basic-cql2", CQL2 + "advanced-comparison-operators",
    CQL2 + "basic-spatial-functions", CQL2 + "basic-spatial-functions-plus",
    TILES + "core", TILES + "tileset", TILES + "tilesets-list", TILES + "geodata-tilesets", TILES + "mvt",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
WEB_MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
_HALF_WORLD = math.pi * 6378137  # metres from the origin to the edge of the square world


def tile_matrix_set(max_zoom: int) -> dict:
    """WebMercatorQuad (OGC 17-083r4, annex D) down to max_zoom."""
    matrices = []
    for z in range(max_zoom + 1):
        cell = 2 * _HALF_WORLD / 256 / 2 ** z
        matrices.append({"id": str(z), "scaleDenominator": cell / 0.00028, "cellSize": cell,
                         "cornerOfOrigin": "topLeft", "pointOfOrigin": [-_HALF_WORLD, _HALF_WORLD],
                         "tileWidth": 256, "tileHeight": 256, "matrixWidth": 2 ** z, "matrixHeight": 2 ** z})
    return {"id": TMS_ID, "title": "Google Maps compatible tile matrix set", "uri": TMS_URI,
            "crs": WEB_MERCATOR, "orderedAxes": ["X", "Y"], "wellKnownScaleSet":
            "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible", "tileMatrices": matrices}


_JSON_TYPES = {Type.STRING: {"type": "string"}, Type.INTEGER: {"type": "integer"},
               Type.NUMBER: {"type": "number"}, Type.DATE: {"type": "string", "format": "date"},
               Type.TIMESTAMP: {"type": "string", "format": "date-time"}}


def queryables(collection: Collection, url: str) -> dict:
    """The JSON schema of the properties a filter may name."""
    return _schema(collection, url, [(n, k) for n, k in collection.properties if n not in UNFILTERABLE])


def feature_schema(collection: Collection, url: str) -> dict:
    """The JSON schema of the collection's GeoJSON features, every property typed (clients
    such as GDAL type their fields from it)."""
    properties = _schema(collection, url, collection.properties)
    geometry = properties["properties"].pop(GEOMETRY)
    id_type = _JSON_TYPES[next(kind for name, kind in collection.properties if name == collection.id_column)]
    return {"$schema": properties["$schema"], "$id": url, "title": collection.title, "type": "object",
            "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": id_type, "geometry": geometry,
                           "properties": {"type": "object", "properties": properties["properties"]}}}


def _schema(collection: Collection, url: str, properties: list | tuple) -> dict:
    described: dict[str, Any] = {GEOMETRY: {"$ref": "https://geojson.org/schema/Geometry.json",
                                            "x-ogc-role": "primary-geometry"}}
    for name, kind in properties:
        described[name] = {"title": name, **_JSON_TYPES[kind]}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": url, "type": "object",
            "title": collection.title, "properties": described, "additionalProperties": False}


def filter_columns(collection: Collection) -> dict[str, Type]:
    """Queryable name -> type, for the CQL2 parser."""
    return {name: kind for name, kind in collection.properties if name not in UNFILTERABLE}


def openapi_30(routes: list, title: str, version: str, prefix: str) -> dict:
    """The OpenAPI 3.0 definition of the given routes, paths relative to `prefix` (the OGC API's
    root, which clients such as GDAL match paths against). FastAPI writes 3.1: nullable types
    become `nullable: true`, 3.1-only keys are dropped."""
    document = _as_30(get_openapi(title=title, version=version, openapi_version="3.0.3", routes=routes))
    document["paths"] = {path.removeprefix(prefix) or "/": item for path, item in document["paths"].items()}
    return document


def _as_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_as_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _as_30(v) for k, v in node.items() if k not in ("examples", "const")
            or not isinstance(v, list | str | int | float)}
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            node.pop(key)
            if len(rest) == 1:
                node.update(rest[0])
            else:
                node[key] = rest
            node["nullable"] = True
    if "$ref" in node and len(node) > 1:  # 3.0 ignores a $ref's siblings: keep them beside an allOf
        node = {k: v for k, v in node.items() if k != "$ref"} | {"allOf": [{"$ref": node["$ref"]}]}
    return node
