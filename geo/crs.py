"""Coordinate systems used by Chinese agencies, converted to and from WGS84, vectorised.

GCJ-02 is WGS84 with a published non-linear obfuscation applied inside China; BD-09 is a
further rotation/scaling of GCJ-02. Their inverses have no closed form, so they iterate
until the round trip is below 1e-9 degrees (~0.1 mm). CGCS2000 (EPSG:4490) is within
centimetres of WGS84 for city work, but goes through pyproj like any other EPSG code so
that a projected CRS (e.g. EPSG:4549, CGCS2000 / 3-degree Gauss-Kruger CM 120E) works too.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pyproj import Transformer

from core.crs import CRS, parse_crs

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Where the GCJ-02 offset applies (the customary rectangle)."""
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat):
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon, lat):
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(forward, lon, lat, iterations: int = 30, tolerance: float = 1e-10):
    """Solve forward(x) = target by fixed-point iteration; converges in a few steps."""
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    x, y = lon.copy(), lat.copy()
    for _ in range(iterations):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(ex), initial=0.0) < tolerance and np.nanmax(np.abs(ey), initial=0.0) < tolerance:
            break
    return x, y


def gcj02_to_wgs84(lon, lat):
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon, lat):
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


@cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_wgs84(x, y, crs: str):
    """Convert arrays of coordinates in crs (see parse_crs) to WGS84 lon/lat arrays."""
    return _convert(x, y, parse_crs(crs), str(CRS.WGS84))


def from_wgs84(lon, lat, crs: str):
    """Convert WGS84 lon/lat arrays to crs (see parse_crs)."""
    return _convert(lon, lat, str(CRS.WGS84), parse_crs(crs))


def _convert(x, y, source: str, target: str):
    """x, y from source to target, one of which is WGS84: China's offset systems by their
    published formulas, everything else by pyproj."""
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    if source == target:
        return x, y
    offset = _OFFSET_SYSTEMS.get((source, target))
    if offset is not None:
        return offset(x, y)
    return _transformer(source, target).transform(x, y)


# (from, to) -> conversion of the offset systems pyproj does not know.
_OFFSET_SYSTEMS = {
    (str(CRS.GCJ02), str(CRS.WGS84)): gcj02_to_wgs84,
    (str(CRS.BD09), str(CRS.WGS84)): bd09_to_wgs84,
    (str(CRS.WGS84), str(CRS.GCJ02)): wgs84_to_gcj02,
    (str(CRS.WGS84), str(CRS.BD09)): wgs84_to_bd09,
}
