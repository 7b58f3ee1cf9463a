"""Boundary versions: a grid split in two re-assigns exactly the cases it should."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from connectors.spec import load_specs
from geo.geocode import geocode
from geo.versions import plan_version
from pipeline.boundaries import load_boundary_version
from pipeline.ingest import ingest
from store import rollups
from store.areas import read_areas
from store.geocoding import load_geocoder
from tests.pipeline.helpers import rollup_rows


def _cases(conn) -> pd.DataFrame:
    rows = conn.execute("SELECT case_id, report_day, grid_code, community_code, geocode_method,"
                        " ST_X(geom), ST_Y(geom) FROM cases ORDER BY case_id").fetchall()
    return pd.DataFrame(rows, columns=["case_id", "report_day", "grid_code", "community_code",
                                       "method", "lon", "lat"]).set_index("case_id")


def _split(cell: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The cell cut by a north-south line through its centroid: west half, east half."""
    x0, y0, x1, y1 = cell.bounds
    mid = cell.centroid.x
    west = shapely.intersection(cell, shapely.box(x0 - 1, y0 - 1, mid, y1 + 1))
    east = shapely.intersection(cell, shapely.box(mid, y0 - 1, x1 + 1, y1 + 1))
    return west, east


def _split_version(conn, grid: str, effective):
    current = read_areas(conn)
    old = current.set_index("code").loc[grid]
    west, east = _split(old.geometry)
    codes = [grid[:-3] + "901", grid[:-3] + "902"]
    incoming = gpd.GeoDataFrame({"code": codes, "parent_code": old.parent_code, "level": "grid",
                                 "name": [old["name"] + "西", old["name"] + "东"]},
                                geometry=[west, east], crs="EPSG:4326")
    return plan_version(current, incoming, "grid", effective), codes, (west, east)


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_splitting_a_grid_reassigns_exactly_its_later_cases(settings, db_url):
    ingest(load_specs(settings.resolved_sources_dir)["hotline_12345"], settings, db_url)
    with psycopg.connect(db_url) as conn:
        before = _cases(conn)
        grid = before["grid_code"].value_counts().index[0]
        in_grid = before[before["grid_code"] == grid]
        effective = sorted(in_grid["report_day"])[len(in_grid) // 2]
        plan, codes, (west, east) = _split_version(conn, grid, effective)
        assert list(plan.closed["code"]) == [grid] and sorted(plan.added["code"]) == codes
        assert plan.changed.empty
        result = load_boundary_version(conn, plan, source="test split")
        after = _cases(conn)
        history = pd.DataFrame(conn.execute(
            "SELECT case_id, grid_code FROM case_area_history WHERE version_id = %s",
            (result.version_id,)).fetchall(), columns=["case_id", "grid_code"])
        rollup = dict(conn.execute(
            "SELECT area_code, sum(reported) FROM rollup_daily WHERE area_code = ANY(%s)"
            " GROUP BY area_code", ([grid, *codes],)).fetchall())
        areas_then = read_areas(conn, effective - timedelta(days=1))
        areas_now = read_areas(conn)

    affected = in_grid[in_grid["report_day"] >= effective].index
    moved = after.index[after["grid_code"].fillna("-") != before["grid_code"].fillna("-")]
    assert len(affected) > 0
    assert sorted(moved) == sorted(affected)
    assert result.cases_reassigned == len(affected)
    # Each moved case is in the half its point lies in.
    for _, row in after.loc[affected].iterrows():
        half = codes[0] if shapely.intersects(west, shapely.Point(row.lon, row.lat)) else codes[1]
        assert row.grid_code == half
    assert after.loc[affected, "grid_code"].isin(codes).all()
    assert after.loc[affected, "grid_code"].nunique() == 2
    assert (after.loc[affected, "community_code"] == before.loc[affected, "community_code"]).all()
    # Earlier cases keep the grid that existed when they were reported; history keeps the old one.
    earlier = in_grid.index.difference(affected)
    assert (after.loc[earlier, "grid_code"] == grid).all()
    assert sorted(history["case_id"]) == sorted(affected) and (history["grid_code"] == grid).all()
    # History queries: the day before, the old grid; now, the two halves.
    assert grid in set(areas_then["code"]) and not set(codes) & set(areas_then["code"])
    assert set(codes) <= set(areas_now["code"]) and grid not in set(areas_now["code"])
    # Rollups agree with a recount from cases.
    counts = after["grid_code"].value_counts()
    for code in (grid, *codes):
        assert rollup.get(code, 0) == counts.get(code, 0)


def test_a_version_loaded_twice_changes_nothing_the_second_time(db_url):
    with psycopg.connect(db_url) as conn:
        grid = conn.execute("SELECT min(code) FROM areas WHERE level = 'grid'").fetchone()[0]
        day = pd.Timestamp("2025-06-01").date()
        plan, codes, _ = _split_version(conn, grid, day)
        first = load_boundary_version(conn, plan)
        # The same file again matches the current areas: nothing to add, change or close.
        current = read_areas(conn)
        second = plan_version(current, plan.opened, "grid", day)
        assert first.version_id is not None
        assert second.is_empty and sorted(second.unchanged) == codes
        assert load_boundary_version(conn, second).version_id is None
        versions = conn.execute("SELECT count(*) FROM area_versions").fetchone()[0]
    assert versions == 1


def test_new_cases_are_placed_in_the_boundaries_of_their_report_day(db_url):
    with psycopg.connect(db_url) as conn:
        grid = conn.execute("SELECT min(code) FROM areas WHERE level = 'grid'").fetchone()[0]
        day = pd.Timestamp("2025-06-01")
        plan, codes, (west, _) = _split_version(conn, grid, day.date())
        load_boundary_version(conn, plan)
        geocoder = load_geocoder(conn)
    point = shapely.point_on_surface(west)
    cases = pd.DataFrame({"src_x": [point.x] * 3, "src_y": [point.y] * 3, "src_crs": "EPSG:4326",
                          "report_day": pd.to_datetime(["2025-05-31", "2025-06-01", None])})
    out = geocode(cases, geocoder)
    assert list(out["grid_code"]) == [grid, codes[0], codes[0]]
    assert np.isfinite(out["lon"]).all()


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_a_boundary_change_refreshes_rollups_on_the_citys_clock(settings, db_url):
    # Chicago is 13-14 hours behind Shanghai: most closures fall on another local day.
    city_tz = "America/Chicago"
    chicago = settings.model_copy(update={"timezone": city_tz})
    ingest(load_specs(chicago.resolved_sources_dir)["hotline_12345"], chicago, db_url)
    with psycopg.connect(db_url) as conn:
        before = _cases(conn)
        grid = before["grid_code"].value_counts().index[0]
        in_grid = before[before["grid_code"] == grid]
        effective = sorted(in_grid["report_day"])[len(in_grid) // 2]
        plan, codes, _ = _split_version(conn, grid, effective)
        assert load_boundary_version(conn, plan, timezone=city_tz).cases_reassigned > 0
        refreshed = rollup_rows(conn)
        lags = set(conn.execute(
            "SELECT area_code, day, lag, sum(n) FROM rollup_daily,"
            " unnest(close_lags, close_lag_counts) AS u(lag, n)"
            " WHERE area_code = ANY(%s) GROUP BY 1, 2, 3", (codes,)).fetchall())
        recount = set(conn.execute(
            "SELECT grid_code, report_day,"
            " greatest((closed_at AT TIME ZONE %s)::date - report_day, 0), count(*) FROM cases WHERE grid_code = ANY(%s) AND closed_at IS NOT NULL"
            " GROUP BY 1, 2, 3", (city_tz, codes)).fetchall())
        rollups.rebuild(conn, city_tz)
        rebuilt = rollup_rows(conn)
    assert lags and lags == recount
    for table in rebuilt:
        assert refreshed[table] == rebuilt[table], table
