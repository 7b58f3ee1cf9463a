"""Rendering answers (JSON, GeoJSON, CSV) and serving them with ETags from a per-worker cache."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from fastapi import Request, Response

from api.auth import Principal, hub_of
from api.state import CachedAnswer

JSON = "application/json"
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"
MVT = "application/vnd.mapbox-vector-tile"


class Format(StrEnum):
    JSON = "json"
    GEOJSON = "geojson"
    CSV = "csv"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class OrjsonResponse(Response):
    media_type = JSON

    def render(self, content: Any) -> bytes:
        return dumps(content)


def feature_collection(rows: list[dict], geometry_key: str = "geometry") -> bytes:
    """GeoJSON from rows whose geometry column already holds GeoJSON text (ST_AsGeoJSON)."""
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k != geometry_key}
        geometry = row.get(geometry_key)
        features.append({"type": "Feature",
                         "geometry": orjson.Fragment(geometry) if geometry else None,
                         "properties": props})
    return dumps({"type": "FeatureCollection", "features": features})


def csv_bytes(rows: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue().encode("utf-8")


Built = tuple[bytes, str]  # body, media type


def answer_key(principal: Principal, path: str, query: str) -> tuple:
    """What identifies one answer: the key's role and scope, the path and the query string."""
    return (principal.role.value, principal.scope_code, path, query)


def etag_for(generation: int, key: tuple) -> str:
    digest = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
    return f'"{generation}-{digest}"'


async def cached(request: Request, principal: Principal, build: Callable[[], Awaitable[Built]],
                 cache_control: str = "private, no-cache") -> Response:
    """Serve from the worker's cache, or build and keep; 304 when the client's ETag matches.

    The cache key and the ETag hold the key's role and scope, so two keys never share an
    answer, and the rollup generation, so every refresh invalidates both. Repeated answers
    are usually served before routing by api.fastpath; this is the path that fills the cache.
    """
    hub = hub_of(request)
    key = answer_key(principal, request.scope["path"], request.scope["query_string"].decode("latin-1"))
    etag = etag_for(hub.generation, key)
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, X-API-Key"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    hit = hub.cache.get(key)
    if hit is not None and hit.etag == etag:
        return Response(hit.body, media_type=hit.media_type, headers=headers)
    generation = hub.generation
    body, media_type = await build()
    if generation == hub.generation:  # not refreshed meanwhile
        encoded = tuple((name.lower().encode(), value.encode()) for name, value in headers.items())
        hub.cache.put(key, CachedAnswer(body, media_type, etag, encoded))
    return Response(body, media_type=media_type, headers=headers)
