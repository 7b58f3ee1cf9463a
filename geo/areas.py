"""Reading governance area files into the hierarchy frame (code, parent, level, name, geometry).

Files: GeoJSON, Shapefile or GeoPackage (pyogrio), including the DataV GeoAtlas style common
for Chinese divisions (properties adcode, name, parent {"adcode": ...}).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS as PyprojCRS

from core.case import AreaLevel
from core.crs import CRS, parse_crs
from core.errors import ConfigError
from geo.crs import to_wgs84

AREA_COLUMNS = ["code", "parent_code", "level", "name", "invalid_reason", "geometry"]


class AreaFileError(ConfigError):
    """A file of areas cannot be read as the level asked for."""


def read_area_file(path: Path, level: AreaLevel | str, code_field: str | None = None,
                   name_field: str | None = None, parent_field: str | None = None,
                   crs: str | None = None, pad_to: int | None = None,
                   keep: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Read one level of areas into code, parent_code, level, name, geometry (EPSG:4326).

    The file's own CRS is used when it declares one; otherwise `crs` (the profile's default,
    or --crs), WGS84 when none is given. Coordinates that cannot be in that CRS are refused.
    pad_to: codes and parent codes right-padded with zeros to this many characters (DataV's
    6-digit adcodes as 12-digit NBS codes). keep: file fields copied as they are.
    """
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise AreaFileError(f"{path}: cannot read as a vector file: {exc}") from exc
    code_field = code_field or ("adcode" if "adcode" in frame else "code")
    if code_field not in frame:
        raise AreaFileError(f"{path}: no code field {code_field!r} (give --code-field); fields are"
                            f" {_fields(frame)}")
    if name_field is not None and name_field not in frame:
        raise AreaFileError(f"{path}: no name field {name_field!r} (give --name-field); fields are"
                            f" {_fields(frame)}")
    if parent_field is not None and parent_field not in frame:
        raise AreaFileError(f"{path}: no parent field {parent_field!r}; fields are {_fields(frame)}")
    missing = [f for f in keep if f not in frame]
    if missing:
        raise AreaFileError(f"{path}: no field {missing[0]!r}; fields are {_fields(frame)}")
    if frame.geometry.isna().any():
        missing = frame.loc[frame.geometry.isna(), code_field].astype(str).tolist()
        raise AreaFileError(f"{path}: areas without a geometry: {missing[:10]}")
    declared = frame.crs is not None and not _geojson_without_crs(path)
    frame = _to_wgs84(frame, path, crs if not declared else None, declared)
    parent = _parent_codes(frame, parent_field)
    valid = shapely.is_valid(frame.geometry.to_numpy())
    reasons = np.where(valid, None, shapely.is_valid_reason(frame.geometry.to_numpy()))
    name_field = name_field or ("name" if "name" in frame else code_field)
    out = gpd.GeoDataFrame({
        "code": padded(_code_text(frame[code_field]), pad_to),
        "parent_code": padded(parent, pad_to),
        "level": AreaLevel(level).value,
        "name": frame[name_field].astype(str),
        "invalid_reason": reasons,  # why make_valid had to repair the shape, None when valid
    }, geometry=_as_multipolygons(frame.geometry), crs="EPSG:4326")
    for extra in keep:
        out[extra] = frame[extra].to_numpy()
    return out


def padded(codes: pd.Series, width: int | None) -> pd.Series:
    """Codes right-padded with zeros to `width` (NBS codes: 530102 -> 530102000000)."""
    if not width:
        return codes
    return codes.map(lambda c: c if c is None or pd.isna(c) else str(c).ljust(width, "0"))


def _geojson_without_crs(path: Path) -> bool:
    """A GeoJSON file with no `crs` member: readers call it WGS84, but it only assumes so."""
    if path.suffix.lower() not in (".geojson", ".json"):
        return False
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "crs" not in document


def _fields(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != frame.geometry.name]


def _code_text(values: pd.Series) -> pd.Series:
    """Codes as text; a whole float read from a numeric field loses its '.0'."""
    if values.dtype.kind == "f" and values.dropna().mod(1).eq(0).all():
        values = values.astype("Int64")
    return values.astype(str)


def _to_wgs84(frame: gpd.GeoDataFrame, path: Path, crs: str | None,
              declared: bool) -> gpd.GeoDataFrame:
    """The frame in EPSG:4326, after checking its coordinates can be in the CRS they claim."""
    west, south, east, north = frame.total_bounds
    if not declared:
        name = parse_crs(crs) if crs else str(CRS.WGS84)
        offset = name in (str(CRS.GCJ02), str(CRS.BD09))
        geographic = offset or PyprojCRS.from_user_input(name).is_geographic
        _check_range(path, name, geographic, (west, south, east, north))
        if offset:
            return frame.set_geometry(_offset_to_wgs84(frame.geometry, name), crs="EPSG:4326")
        frame = frame.set_crs(name)
    else:
        _check_range(path, frame.crs.to_string(), frame.crs.is_geographic, (west, south, east, north))
    return frame.to_crs("EPSG:4326")


def _check_range(path: Path, name: str, geographic: bool, bounds: tuple) -> None:
    """Refuse, in one line, coordinates that cannot be in the CRS, naming the likely kind."""
    west, south, east, north = (float(v) for v in bounds)
    degrees = -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    if geographic and not degrees:
        raise AreaFileError(
            f"{path}: coordinates reach x {west:,.0f}..{east:,.0f}, y {south:,.0f}..{north:,.0f},"
            f" which cannot be degrees ({name}): they look projected (metres or US feet);"
            f" give --crs, e.g. the city's State Plane or UTM zone (EPSG:<code>)")
    if not geographic and degrees:
        raise AreaFileError(f"{path}: coordinates lie within x {west:.3f}..{east:.3f},"
                            f" y {south:.3f}..{north:.3f}, which look like degrees, not {name}:"
                            " give --crs WGS84 (or the geographic CRS they are in)")


def _offset_to_wgs84(geoms: gpd.GeoSeries, crs: str) -> gpd.GeoSeries:
    """Shapes in China's offset systems (GCJ-02, BD-09), vertex by vertex to WGS84."""
    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    return gpd.GeoSeries(shapely.transform(geoms.to_numpy(), convert), index=geoms.index)


def parents_by_overlap(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame) -> pd.DataFrame:
    """For each child, the parent it overlaps most and the share of its area inside it.

    Columns code, parent_code, share (0..1; 0 and no parent where none overlaps).
    """
    metric = gpd.GeoSeries(children.geometry, crs="EPSG:4326").estimate_utm_crs()
    child_m = gpd.GeoSeries(children.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy()
    parent_m = gpd.GeoSeries(parents.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy()
    left, right = shapely.STRtree(parent_m).query(child_m, predicate="intersects")
    shared = shapely.area(shapely.intersection(child_m[left], parent_m[right]))
    share = shared / np.maximum(shapely.area(child_m[left]), 1e-9)
    best = pd.DataFrame({"child": left, "parent": right, "share": share}) \
        .sort_values(["child", "share"], ascending=[True, False]).drop_duplicates("child")
    out = pd.DataFrame({"code": children["code"].to_numpy(), "parent_code": None, "share": 0.0})
    out.loc[best["child"].to_numpy(), "parent_code"] = parents["code"].to_numpy()[best["parent"].to_numpy()]
    out.loc[best["child"].to_numpy(), "share"] = best["share"].to_numpy()
    return out


def dissolved(children: gpd.GeoDataFrame, code: str, name: str, level: AreaLevel | str,
              parent_code: str | None = None) -> gpd.GeoDataFrame:
    """One area made of the union of children (a city outline when none is loaded)."""
    shape = shapely.union_all(shapely.make_valid(children.geometry.to_numpy()))
    return gpd.GeoDataFrame({"code": [code], "parent_code": [parent_code],
                             "level": [AreaLevel(level).value], "name": [name],
                             "invalid_reason": [None]},
                            geometry=_as_multipolygons(gpd.GeoSeries([shape])), crs="EPSG:4326")


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


def group_keys(areas: gpd.GeoDataFrame, by: str) -> pd.Series:
    """The key each area is dissolved by: `FIELD` (its value) or `FIELD:N` (its first N characters)."""
    field, _, width = by.partition(":")
    if field not in areas:
        raise AreaFileError(f"--dissolve-by {by!r}: no field {field!r} (use code, or a field of the file)")
    if width and (not width.isdigit() or int(width) < 1):
        raise AreaFileError(f"--dissolve-by {by!r}: expected FIELD or FIELD:N (its first N characters)")
    values = areas[field].astype(str)
    return values.str[:int(width)] if width else values


def dissolved_groups(children: gpd.GeoDataFrame, keys: pd.Series, level: AreaLevel | str,
                     names: pd.Series | None = None) -> gpd.GeoDataFrame:
    """One area per key, the union of the children sharing it, named by `names` (one per key)."""
    parts = []
    for key, group in children.groupby(keys.to_numpy(), sort=True):
        distinct = sorted(set(names[group.index].astype(str))) if names is not None else [str(key)]
        if len(distinct) != 1:
            raise AreaFileError(f"areas dissolved into {key!r} carry {len(distinct)} names"
                                f" ({', '.join(distinct[:3])}): pick a name field with one value per group")
        parts.append(dissolved(group, str(key), distinct[0], level))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")


def read_code_file(path: Path, level: AreaLevel | str, code_field: str | None = None,
                   name_field: str | None = None, parent_field: str | None = None,
                   pad_to: int | None = None) -> gpd.GeoDataFrame:
    """Read areas known by code alone, with an empty shape each (the areas table needs one).

    Files: CSV with code, name and parent fields, or the NBS JSON of nested code lists
    ({parent code: {code: name}}, every level of a city in one file).
    """
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(path.read_text(encoding="utf-8"))
            frame = pd.DataFrame([(str(code), str(name), str(parent))
                                  for parent, children in document.items()
                                  for code, name in children.items()],
                                 columns=["code", "name", "parent_code"])
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, AttributeError) as exc:
        raise AreaFileError(f"{path}: cannot read as a code list (CSV, or NBS JSON"
                            f" {{parent: {{code: name}}}}): {exc}") from exc
    code_field, name_field = code_field or "code", name_field or "name"
    parent_field = parent_field or "parent_code"
    for role, field in (("code", code_field), ("name", name_field), ("parent", parent_field)):
        if field not in frame:
            raise AreaFileError(f"{path}: no {role} field {field!r} (give --{role}-field);"
                                f" fields are {list(frame.columns)}")
    return gpd.GeoDataFrame({
        "code": padded(frame[code_field].str.strip(), pad_to),
        "parent_code": padded(frame[parent_field].str.strip().replace("", None), pad_to),
        "level": AreaLevel(level).value,
        "name": frame[name_field],
        "invalid_reason": None,
    }, geometry=gpd.GeoSeries([shapely.MultiPolygon()] * len(frame), index=frame.index),
        crs="EPSG:4326")


def code_only(areas: gpd.GeoDataFrame) -> bool:
    """Whether these areas have no shapes (a level known by codes and names only)."""
    return bool(len(areas)) and bool(shapely.is_empty(areas.geometry.to_numpy()).all())
