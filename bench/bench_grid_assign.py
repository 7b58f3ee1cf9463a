"""Points per second assigning points to the demo city's 4,500 irregular grid cells.

Three ways, one run, the same points:
  project  geo.grids.GridIndex.locate (pixel table in front of a shapely STRtree)
  sjoin    geopandas.sjoin(points, cells, predicate="within")
  postgis  INSERT ... SELECT ... JOIN cells ON ST_Contains(cell.geom, point.geom), GiST-indexed
Points are drawn where cases happen (at the gazetteer's addresses, weighted by households,
scattered by 30 m), or uniformly over the city's bounding box with --uniform. Timings on a
shared 2-core machine are noisy: compare the ratios, which are measured in the same run.

    .venv/bin/python bench/bench_grid_assign.py [--points 1000000] [--uniform]
"""

from __future__ import annotations

import argparse
import os
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from core.settings import PROJECT_ROOT
from demo.city import build_city
from geo.grids import GridIndex
from store import provision
from store.db import with_dbname


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--uniform", action="store_true", help="uniform over the bounding box")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    city = build_city(args.seed)
    cells = city.areas[city.areas["level"] == "grid"].reset_index(drop=True)
    lon, lat = _points(city, args.points, args.uniform, np.random.default_rng(1))
    print(f"{len(cells):,} grid cells, {len(lon):,} points "
          f"({'uniform' if args.uniform else 'where people live'})")

    index = GridIndex.from_frame(city.areas, pixel_table_after=0)
    started = time.perf_counter()
    index.pixel_table()
    build = time.perf_counter() - started
    project, found = _timed(lambda: index.locate(lon, lat))
    exact_index = GridIndex.from_frame(city.areas, pixel_table_after=None)
    exact, exact_found = _timed(lambda: exact_index.locate(lon, lat))
    sjoin, joined = _timed(lambda: _sjoin(cells, lon, lat))
    postgis = _postgis(cells, lon, lat)

    agree = _agreement(index.codes, found, joined)
    assert (found == exact_found).all(), "the pixel table changed an answer"
    rows = [("project (pixel table + STRtree)", project), ("project, STRtree only", exact),
            ("geopandas sjoin", sjoin), ("PostGIS ST_Contains join", postgis)]
    fastest_baseline = min(sjoin, postgis)
    print(f"\npixel table built once in {build:.2f} s ({index.pixel_table().nbytes / 1e6:.0f} MB)")
    print(f"{'path':34} {'seconds':>8} {'points/s':>12} {'vs faster baseline':>19}")
    for name, seconds in rows:
        print(f"{name:34} {seconds:8.2f} {len(lon) / seconds:12,.0f} {fastest_baseline / seconds:18.1f}x")
    print(f"\nsame cell as sjoin for {agree:.4%} of points (the rest lie on shared edges)")
    ratio = fastest_baseline / project
    print(f"project path is {ratio:.1f}x the faster baseline (target 3x): {'MET' if ratio >= 3 else 'NOT MET'}")


def _points(city, n: int, uniform: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if uniform:
        x0, y0, x1, y1 = city.bbox
        return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    addresses = city.addresses
    weight = addresses["households"].to_numpy(dtype=float)
    pick = rng.choice(len(addresses), n, p=weight / weight.sum())
    metres = 30.0
    lon = addresses["lon"].to_numpy()[pick] + rng.normal(0, metres / 96_500, n)
    lat = addresses["lat"].to_numpy()[pick] + rng.normal(0, metres / 110_574, n)
    return lon, lat


def _timed(work):
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _sjoin(cells: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> pd.Series:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, cells[["code", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["code"]


def _agreement(codes: np.ndarray, found: np.ndarray, joined: pd.Series) -> float:
    mine = np.where(found >= 0, codes[np.maximum(found, 0)], None)
    theirs = joined.to_numpy(dtype=object)
    theirs = np.array([None if pd.isna(v) else v for v in theirs], dtype=object)
    return float((mine == theirs).mean())


def _postgis(cells: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> float:
    """Seconds for the ST_Contains join of every point, in a scratch database dropped after."""
    server = with_dbname(provision.up(PROJECT_ROOT / "var", os.environ.get("DATABASE_URL")).url, "postgres")
    name = f"gridhub_bench_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(with_dbname(server, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("CREATE TABLE cells (code text, geom geometry(MultiPolygon, 4326))")
            with conn.cursor().copy("COPY cells (code, geom) FROM STDIN") as copy:
                for code, wkb in zip(cells["code"], cells.geometry.to_wkb(hex=True), strict=True):
                    copy.write_row((code, f"SRID=4326;{wkb}"))
            conn.execute("CREATE INDEX ON cells USING gist (geom)")
            conn.execute("CREATE TABLE points (id bigint, lon float8, lat float8)")
            with conn.cursor().copy("COPY points (id, lon, lat) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "float8", "float8"])
                for row in zip(range(len(lon)), lon.tolist(), lat.tolist(), strict=True):
                    copy.write_row(row)
            conn.execute("ALTER TABLE points ADD COLUMN geom geometry(Point, 4326)")
            conn.execute("UPDATE points SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)")
            conn.execute("ANALYZE cells; ANALYZE points")
            conn.execute("CREATE TABLE assigned (id bigint, code text)")
            started = time.perf_counter()
            conn.execute("INSERT INTO assigned SELECT p.id, c.code FROM points p"
                         " JOIN cells c ON ST_Contains(c.geom, p.geom)")
            return time.perf_counter() - started
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
