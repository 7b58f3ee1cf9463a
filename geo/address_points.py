"""A city's own address points made into gazetteer rows (`gridhub gazetteer load`).

A file of address points (CSV with coordinate columns, or GeoJSON / any OGR points) is read
with its fields named by the caller, converted to WGS84, and each point given the code of
every loaded area that contains it, level by level (point in polygon): a city that has no
grid layer yet gets its addresses all the same, so that `areas make-grids --households` can
draw one. The text is split into its place (geo.address: road and door, compound and
building, or a crossing of English streets). Rows are keyed by the source's id field, else
by a stable hash of their district and normalised text, so loading a file again changes
nothing. What cannot be loaded is counted and shown, never dropped in silence: points outside
every area, rows with no text or no point, and repeats of one address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from core.case import AreaLevel
from core.crs import parse_crs
from core.errors import GridHubError
from geo.address import BUILDING, DOOR, normalise_address, split_place
from geo.crs import to_wgs84
from geo.gazetteer import GAZETTEER_COLUMNS

# Field names tried, case-insensitively, when the caller names none.
DEFAULT_FIELDS = {
    "address": ("address", "text", "full_address"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "lat": ("lat", "latitude", "y"),
}
_AREA_LEVELS = (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY, AreaLevel.GRID)


class AddressFileError(GridHubError):
    """An address-point file cannot be read as the caller described it."""


@dataclass(frozen=True)
class PointFields:
    """Which fields of the file hold what (None: the defaults above, or absent)."""

    address: str | None = None
    lon: str | None = None
    lat: str | None = None
    households: str | None = None
    id: str | None = None


@dataclass
class AddressPoints:
    """Gazetteer rows made from a file, and what was left out and why."""

    rows: pd.DataFrame  # GAZETTEER_COLUMNS
    read: int
    outside: int = 0  # points in no loaded area
    unusable: int = 0  # no text or no point
    repeated: int = 0  # a second row of an address already taken
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few texts


def read_address_points(path: Path, fields: PointFields = PointFields(),
                        crs: str | None = None) -> pd.DataFrame:
    """text, lon, lat (WGS84), households and address_id (None when no id field) of a file.

    crs: of the file's coordinates; by default a GeoJSON's own, else WGS84.
    """
    if not path.exists():
        raise AddressFileError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        x = _column(frame, fields.lon, "lon", path)
        y = _column(frame, fields.lat, "lat", path)
        crs = parse_crs(crs or "WGS84")
    else:
        import geopandas as gpd

        frame = gpd.read_file(path)
        if not frame.geometry.geom_type.dropna().isin(["Point"]).all():
            raise AddressFileError(f"{path}: expected point features, found "
                                   f"{sorted(set(frame.geometry.geom_type.dropna()))}")
        x, y = frame.geometry.x, frame.geometry.y
        crs = parse_crs(crs or (frame.crs.to_string() if frame.crs is not None else "WGS84"))
    x, y = pd.to_numeric(x, errors="coerce").to_numpy(), pd.to_numeric(y, errors="coerce").to_numpy()
    lon, lat = to_wgs84(x, y, crs)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any() and not ((np.abs(lon[ok]) <= 180) & (np.abs(lat[ok]) <= 90)).all():
        raise AddressFileError(f"{path}: coordinates such as ({x[ok][0]}, {y[ok][0]}) are not {crs}:"
                               " give the file's CRS with --crs")
    households = (pd.to_numeric(_column(frame, fields.households, "households", path), errors="coerce")
                  if fields.households else pd.Series(1, index=frame.index))
    ids = _column(frame, fields.id, "id", path) if fields.id else pd.Series(None, index=frame.index)
    return pd.DataFrame({
        "text": _column(frame, fields.address, "address", path).astype("string").str.strip(),
        "lon": lon, "lat": lat, "households": households.to_numpy(), "address_id": ids.to_numpy(),
    })


def address_points(points: pd.DataFrame, areas: pd.DataFrame) -> AddressPoints:
    """Gazetteer rows for points (read_address_points) inside areas (code, parent_code, level,
    geometry; the current ones)."""
    result = AddressPoints(rows=pd.DataFrame(columns=list(GAZETTEER_COLUMNS)), read=len(points))
    usable = points["text"].notna().to_numpy() & (points["text"].fillna("") != "").to_numpy() \
        & np.isfinite(points["lon"].to_numpy(dtype=float)) & np.isfinite(points["lat"].to_numpy(dtype=float))
    result.unusable = int((~usable).sum())
    _examples(result, "no text or no point", points.loc[~usable, "text"])
    points = points[usable].reset_index(drop=True)
    codes = _areas_of(points["lon"].to_numpy(dtype=float), points["lat"].to_numpy(dtype=float), areas)
    inside = pd.notna(codes["district_code"]).to_numpy()
    if len(points) and not inside.any():
        raise AddressFileError(f"none of the {len(points):,} address points falls inside a loaded area:"
                               " are the areas loaded, and is the file's CRS right (--crs)?")
    result.outside = int((~inside).sum())
    _examples(result, "outside every loaded area", points.loc[~inside, "text"])
    points, codes = points[inside].reset_index(drop=True), codes[inside].reset_index(drop=True)
    normalised = [normalise_address(t) for t in points["text"]]
    places = [split_place(t) for t in normalised]
    rows = pd.DataFrame({
        "address_id": [_address_id(given, district, text) for given, district, text
                       in zip(points["address_id"], codes["district_code"], normalised, strict=True)],
        **{column: codes[column] for column in ("district_code", "street_code", "community_code", "grid_code")},
        "road": [p.name if p.kind != BUILDING else None for p in places],
        "number": pd.array([p.number if p.kind == DOOR else None for p in places], dtype="Int64"),
        "compound": [p.name if p.kind == BUILDING else None for p in places],
        "building": pd.array([p.number if p.kind == BUILDING else None for p in places], dtype="Int64"),
        "text": points["text"].astype(object),
        "households": pd.array(points["households"].fillna(1).clip(lower=1).round(), dtype="Int64"),
        "lon": points["lon"].to_numpy(dtype=float), "lat": points["lat"].to_numpy(dtype=float),
    })
    repeated = rows["address_id"].duplicated()
    result.repeated = int(repeated.sum())
    _examples(result, "a repeat of an address already read", rows.loc[repeated, "text"])
    result.rows = rows[~repeated].reset_index(drop=True)[list(GAZETTEER_COLUMNS)]
    return result


def _areas_of(lon: np.ndarray, lat: np.ndarray, areas: pd.DataFrame) -> pd.DataFrame:
    """The code of the area of each level containing each point (lowest code on an edge); the
    district column falls back to the widest area holding the point when the city has no
    district level, and is null for a point in no area."""
    points = shapely.points(lon, lat)
    out = {}
    widest = np.full(len(lon), None, dtype=object)
    for level in (AreaLevel.CITY, *_AREA_LEVELS):
        mine = areas[areas["level"] == level].sort_values("code", ascending=False)
        found = np.full(len(lon), None, dtype=object)
        if len(mine):
            geoms = np.asarray(mine.geometry.to_numpy(), dtype=object)
            point_idx, area_idx = shapely.STRtree(geoms).query(points, predicate="within")
            # Sorted by code descending: on a shared edge the lowest code is written last.
            found[point_idx] = mine["code"].to_numpy(dtype=object)[area_idx]
            fill = np.array([w is None for w in widest]) & np.array([f is not None for f in found])
            widest[fill] = found[fill]
        if level != AreaLevel.CITY:
            out[level.code_column] = found
    frame = pd.DataFrame(out)
    frame["district_code"] = frame["district_code"].where(frame["district_code"].notna(), pd.Series(widest))
    return frame


def _address_id(given, district: str, normalised: str) -> int:
    """The source's own integer id, else a stable 63-bit hash of district and normalised text."""
    if given is not None and not pd.isna(given):
        try:
            return int(given)
        except ValueError:
            normalised = f"id:{given}"
    digest = hashlib.blake2b(f"{district}|{normalised}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _column(frame: pd.DataFrame, name: str | None, what: str, path: Path) -> pd.Series:
    by_lower = {str(c).lower(): c for c in frame.columns}
    for candidate in ([name] if name else DEFAULT_FIELDS.get(what, ())):
        if candidate.lower() in by_lower:
            return frame[by_lower[candidate.lower()]]
    raise AddressFileError(f"{path}: no {what} field {name or '/'.join(DEFAULT_FIELDS.get(what, ()))};"
                           f" name it with --{what}-field (the file has: {', '.join(map(str, frame.columns[:20]))})")


def _examples(result: AddressPoints, reason: str, texts: pd.Series) -> None:
    if len(texts):
        result.examples[reason] = [str(t) for t in texts.head(3)]
