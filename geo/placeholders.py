"""Coordinates that stand for "unknown": a geocoder's default point is a reason, never a place.

Agencies' geocoders put what they cannot place on a fixed point: (0, 0), City Hall, the centre
of the city or of a district. Counted where they fall, such records fill one grid cell, top
every ranking and raise alerts. A point is taken as a placeholder when it is:

- ZERO: (0, 0), whatever the CRS (the cascade checks it on the source's own coordinates);
- DECLARED: within MATCH_METRES of a point the source's spec lists (`placeholder_points`,
  WGS84 lon / lat, as the run's quality record prints the points it found);
- CENTROID: within MATCH_METRES of the centroid of the city outline (the root areas, merged)
  or of a root area or one of its children (a top-level area such as a district);
- DOMINANT: among the points of one batch (a chunk of a run, rounded to ROUND_DECIMALS, about
  a metre), one of the at most MAX_DOMINANT busiest that together stand apart from the rest:
  each holds at least DOMINANT_SHARE of the batch's points and at least DOMINANT_MIN_RECORDS
  records, and the last of them at least DOMINANT_RATIO times the next-busiest point. On the
  real feeds at hand (SF police 2026 and 2018-12, Chicago crimes 2024, five NYC 311 exports)
  the busiest point is a real street corner holding at most 1.9% of a file and at most 2.4
  times the next one, while a default point holding 14% of a feed (the case that raised this)
  stands at over 10 times a city's busiest real corner: the ratio sits between the two.

The cascade then places such records by their other fields (grid code, address, area name) or
leaves them unlocated with method `placeholder`; their point is never kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from math import cos, radians

import numpy as np
import pandas as pd
import shapely

DOMINANT_SHARE = 0.01  # of the batch's points with coordinates
DOMINANT_RATIO = 5.0  # times the next-busiest point
DOMINANT_MIN_RECORDS = 20
MAX_DOMINANT = 3  # default points one feed may use (City Hall, a district office, ...)
ROUND_DECIMALS = 5  # 1e-5 degree: about 1.1 m of latitude
MATCH_METRES = 5.0  # a declared point or a centroid, give or take a projection's rounding
_METRES_PER_DEGREE = 111_320.0


class PlaceholderKind(StrEnum):
    ZERO = "zero"
    DECLARED = "declared"
    CENTROID = "centroid"
    DOMINANT = "dominant"


def find_placeholders(lon: np.ndarray, lat: np.ndarray, centroids: np.ndarray | None = None,
                      declared: Sequence[Sequence[float]] = ()) -> np.ndarray:
    """Per point (WGS84), the PlaceholderKind value it is, or None; NaN points are None.

    centroids: (lon, lat) rows of the outline and top-level areas (outline_centroids).
    """
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    kind = np.full(len(lon), None, dtype=object)
    valid = np.isfinite(lon) & np.isfinite(lat)
    if not valid.any():
        return kind
    kind[valid & dominant_points(lon, lat)] = PlaceholderKind.DOMINANT.value
    if centroids is not None and len(centroids):
        kind[valid & _near_any(lon, lat, centroids)] = PlaceholderKind.CENTROID.value
    if len(declared):
        points = np.asarray(declared, dtype="float64").reshape(-1, 2)
        kind[valid & _near_any(lon, lat, points)] = PlaceholderKind.DECLARED.value
    return kind


def dominant_points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether each point is one of the batch's dominant points (module rule); NaN: False."""
    valid = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(len(lon), dtype=bool)
    if valid.sum() < DOMINANT_MIN_RECORDS:
        return out
    keys = _point_keys(lon[valid], lat[valid])
    distinct, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    top = counts[order[:MAX_DOMINANT + 1]]
    floor = max(DOMINANT_MIN_RECORDS, DOMINANT_SHARE * valid.sum())
    for k in range(min(MAX_DOMINANT, len(top))):
        if top[k] < floor:
            break
        following = top[k + 1] if k + 1 < len(top) else 0
        if top[k] >= DOMINANT_RATIO * following:
            flagged = np.isin(inverse, order[:k + 1])
            out[np.flatnonzero(valid)[flagged]] = True
            break
    return out


def outline_centroids(areas: pd.DataFrame) -> np.ndarray:
    """Centroids (lon, lat) of the city outline, of each root area and of each root's children
    (areas: code, parent_code, geometry in WGS84, valid together)."""
    codes = set(areas["code"])
    parent = areas["parent_code"]
    root = parent.isna().to_numpy() | ~parent.isin(codes).to_numpy()
    roots = set(areas.loc[root, "code"])
    top = root | parent.isin(roots).to_numpy()
    geoms = np.asarray(areas.geometry.to_numpy() if hasattr(areas, "geometry") else areas["geometry"],
                       dtype=object)
    shapes = list(geoms[top])
    if root.sum() > 1:  # no outline loaded: the roots together are the city
        shapes.append(shapely.union_all(geoms[root]))
    return shapely.get_coordinates(shapely.centroid(np.asarray(shapes, dtype=object)))


def placeholder_counts(cases: pd.DataFrame) -> dict[str, int]:
    """Counts of geocoded cases' placeholder notes, flat for the run's quality record:
    "placeholder: records", "placeholder: unlocated", "placeholder: <kind>" and
    "placeholder point: <lon> <lat>" (WGS84, as `placeholder_points` takes it)."""
    counts: dict[str, int] = {}
    if "attributes" not in cases:
        return counts
    methods = cases["geocode_method"].to_numpy(dtype=object) if "geocode_method" in cases else None
    for i, note in enumerate(cases["attributes"].to_numpy()):
        if not isinstance(note, dict) or "placeholder" not in note:
            continue
        keys = ["placeholder: records", f"placeholder: {note['placeholder']}"]
        if methods is not None and methods[i] == "placeholder":
            keys.append("placeholder: unlocated")
        point = note.get("placeholder_point")
        if point is not None:
            keys.append(f"placeholder point: {point[0]:.{ROUND_DECIMALS}f} {point[1]:.{ROUND_DECIMALS}f}")
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return counts


def _point_keys(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """One integer per point rounded to ROUND_DECIMALS (lon in [-180, 180], lat in [-90, 90])."""
    scale = 10 ** ROUND_DECIMALS
    x = np.round(lon * scale).astype(np.int64) + 180 * scale
    y = np.round(lat * scale).astype(np.int64) + 90 * scale
    return x * (360 * scale + 1) + y


def _near_any(lon: np.ndarray, lat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each point lies within MATCH_METRES of one of points (lon, lat)."""
    near = np.zeros(len(lon), dtype=bool)
    if len(points) == 0:
        return near
    # Candidates by latitude first (a sorted search), so most points cost one comparison.
    points = points[np.argsort(points[:, 1])]
    reach = MATCH_METRES / _METRES_PER_DEGREE
    with np.errstate(invalid="ignore"):
        first = np.searchsorted(points[:, 1], lat - reach)
        last = np.searchsorted(points[:, 1], lat + reach)
    for row in np.flatnonzero(last > first):
        for plon, plat in points[first[row]:last[row]]:
            dx = (lon[row] - plon) * _METRES_PER_DEGREE * cos(radians(plat))
            dy = (lat[row] - plat) * _METRES_PER_DEGREE
            if dx * dx + dy * dy <= MATCH_METRES * MATCH_METRES:
                near[row] = True
                break
    return near
