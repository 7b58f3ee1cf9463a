"""Coordinate systems: round trips below a centimetre, and a mislabelled feed found out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.feeds.address_noise import vary_addresses
from geo.crs import from_wgs84, to_wgs84
from geo.crs_detect import detect_crs
from geo.grid_raster import METRES_PER_DEGREE_LAT


def _metres(lon, lat, lon2, lat2) -> np.ndarray:
    kx = METRES_PER_DEGREE_LAT * np.cos(np.radians(lat))
    return np.hypot((lon - lon2) * kx, (lat - lat2) * METRES_PER_DEGREE_LAT)


@pytest.mark.parametrize("crs", ["GCJ-02", "BD-09", "EPSG:4490", "EPSG:4549", "EPSG:32651"])
def test_round_trips_stay_below_a_centimetre(crs):
    rng = np.random.default_rng(4)
    # The demo city, and the whole of eastern China where the GCJ-02 offset is largest.
    lon = np.concatenate([rng.uniform(120.9, 121.4, 50_000), rng.uniform(100, 125, 50_000)])
    lat = np.concatenate([rng.uniform(29.7, 30.05, 50_000), rng.uniform(20, 45, 50_000)])
    if crs == "EPSG:4549":  # a 3-degree Gauss-Kruger zone: only near its central meridian
        lon = lon - np.floor(lon) + 119.5
    x, y = from_wgs84(lon, lat, crs)
    back_lon, back_lat = to_wgs84(x, y, crs)
    error = _metres(lon, lat, back_lon, back_lat)
    print(f"{crs}: max round-trip error {error.max() * 1000:.4f} mm")
    assert error.max() < 0.01
    if crs in ("GCJ-02", "BD-09"):  # the offsets are real: hundreds of metres
        assert np.median(_metres(lon, lat, x, y)) > 100


def test_gcj02_and_bd09_leave_points_outside_china_alone():
    lon, lat = np.array([2.35, -74.0]), np.array([48.85, 40.7])
    for crs in ("GCJ-02", "BD-09"):
        x, y = to_wgs84(*from_wgs84(lon, lat, crs), crs)
        assert np.allclose(x, lon, atol=1e-9) and np.allclose(y, lat, atol=1e-9)


def _feed(addresses: pd.DataFrame, written_in: str, declared: str, with_addresses: bool) -> pd.DataFrame:
    sample = addresses.sample(600, random_state=2)
    x, y = from_wgs84(sample["lon"].to_numpy(), sample["lat"].to_numpy(), written_in)
    return pd.DataFrame({
        "src_x": np.round(x, 6), "src_y": np.round(y, 6), "src_crs": declared,
        "address": vary_addresses(sample["text"].to_numpy(), np.random.default_rng(1))
        if with_addresses else None,
        "source_grid_code": None if with_addresses else sample["grid_code"].to_numpy(),
    })


@pytest.mark.parametrize("written_in,declared,with_addresses", [
    ("BD-09", "GCJ-02", True), ("GCJ-02", "EPSG:4326", True), ("EPSG:4326", "BD-09", False)])
def test_a_feed_declaring_the_wrong_crs_is_found_out(geocoder, addresses, written_in, declared,
                                                      with_addresses):
    verdict = detect_crs(_feed(addresses, written_in, declared, with_addresses), geocoder)
    assert verdict.wrong
    assert verdict.best == written_in
    assert "fix the source spec" in verdict.message


def test_a_feed_declaring_the_right_crs_passes(geocoder, addresses):
    verdict = detect_crs(_feed(addresses, "BD-09", "BD-09", True), geocoder)
    assert not verdict.wrong and verdict.best == "BD-09"
    fit = next(f for f in verdict.fits if f.crs == "BD-09")
    assert fit.median_metres < 1.0 and fit.in_city == 1.0
