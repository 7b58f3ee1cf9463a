"""Reading governance area files into the hierarchy frame (code, parent, level, name, geometry).

Files: GeoJSON, Shapefile or GeoPackage (pyogrio), including the DataV GeoAtlas style common
for Chinese divisions (properties adcode, name, parent {"adcode": ...}).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from core.case import AreaLevel
from core.errors import ConfigError

AREA_COLUMNS = ["code", "parent_code", "level", "name", "invalid_reason", "geometry"]


def read_area_file(path: Path, level: AreaLevel | str, code_field: str | None = None,
                   name_field: str = "name", parent_field: str | None = None) -> gpd.GeoDataFrame:
    """Read one level of areas into code, parent_code, level, name, geometry (EPSG:4326)."""
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise ConfigError(f"{path}: cannot read as a vector file: {exc}") from exc
    code_field = code_field or ("adcode" if "adcode" in frame else "code")
    if code_field not in frame:
        raise ConfigError(f"{path}: no code field {code_field!r}; fields are {list(frame.columns)}")
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    frame = frame.to_crs("EPSG:4326")
    parent = _parent_codes(frame, parent_field)
    if frame.geometry.isna().any():
        missing = frame.loc[frame.geometry.isna(), code_field].astype(str).tolist()
        raise ConfigError(f"{path}: areas without a geometry: {missing[:10]}")
    valid = shapely.is_valid(frame.geometry.to_numpy())
    reasons = np.where(valid, None, shapely.is_valid_reason(frame.geometry.to_numpy()))
    out = gpd.GeoDataFrame({
        "code": frame[code_field].astype(str),
        "parent_code": parent,
        "level": AreaLevel(level).value,
        "name": frame[name_field].astype(str) if name_field in frame else frame[code_field].astype(str),
        "invalid_reason": reasons,  # why make_valid had to repair the shape, None when valid
    }, geometry=_as_multipolygons(frame.geometry), crs="EPSG:4326")
    return out


def _parent_codes(frame: pd.DataFrame, parent_field: str | None) -> pd.Series:
    field = parent_field or ("parent_code" if "parent_code" in frame else "parent")
    if field not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    values = frame[field]

    def code_of(value):
        if isinstance(value, str) and value.startswith("{"):
            value = json.loads(value)
        if isinstance(value, dict):
            value = value.get("adcode")
        return None if value is None or pd.isna(value) else str(value)

    return values.map(code_of)


def _as_multipolygons(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    fixed = shapely.make_valid(geoms.to_numpy())
    multi = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon(
        [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]) for g in fixed]
    return gpd.GeoSeries(multi, index=geoms.index, crs=geoms.crs)
