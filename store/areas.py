"""Storing governance areas in PostGIS."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import psycopg
import shapely

from store.copy import copy_frame


def replace_current_areas(conn: psycopg.Connection, areas: gpd.GeoDataFrame) -> int:
    """Make these the current areas for their codes (same codes replaced in place)."""
    frame = pd.DataFrame({
        "code": areas["code"], "parent_code": areas["parent_code"], "level": areas["level"],
        "name": areas["name"], "wkt": shapely.to_wkt(areas.geometry.to_numpy(), rounding_precision=-1),
    })
    conn.execute("CREATE TEMP TABLE stage_areas (code text, parent_code text, level text,"
                 " name text, wkt text) ON COMMIT DROP")
    copy_frame(conn, "stage_areas", frame)
    conn.execute("DELETE FROM areas a USING stage_areas s WHERE a.code = s.code AND a.valid_to IS NULL")
    cur = conn.execute(
        "INSERT INTO areas (code, parent_code, level, name, geom)"
        " SELECT code, parent_code, level, name, ST_Multi(ST_GeomFromText(wkt, 4326)) FROM stage_areas")
    conn.execute("DROP TABLE stage_areas")
    return cur.rowcount
