"""Encoding answers as bytes: JSON (orjson), GeoJSON feature collections and CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse

JSON = "application/json"
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"
MVT = "application/vnd.mapbox-vector-tile"
PROBLEM = "application/problem+json"  # RFC 9457 error bodies
# Excel reads a CSV without a byte order mark in the system's code page (GBK on Chinese Windows).
UTF8_BOM = "\ufeff".encode()


class Format(StrEnum):
    JSON = "json"
    GEOJSON = "geojson"
    CSV = "csv"


class TableFormats(StrEnum):
    """The encodings of answers made of rows without geometry."""

    JSON = "json"
    CSV = "csv"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """JSON bytes; Decimals become floats, dates ISO strings."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class OrjsonResponse(JSONResponse):
    """The app's default response: content encoded by `dumps` (a JSONResponse, so that FastAPI
    documents its routes' response models)."""

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
    """CSV of the given columns, a UTF-8 byte order mark and a header first; None is an empty
    field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return UTF8_BOM + out.getvalue().encode("utf-8")


def csv_response(rows: list[dict], columns: list[str], name: str,
                 headers: dict[str, str] | None = None) -> Response:
    """A CSV download: `csv_bytes` with a file name (`name`.csv). Not kept in the answer cache:
    an export is fetched once, not polled."""
    disposition = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response(csv_bytes(rows, columns), media_type=CSV, headers=(headers or {}) | disposition)
