"""Storing governance areas and the standard-address gazetteer in PostGIS."""

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


def replace_gazetteer(conn: psycopg.Connection, addresses: pd.DataFrame) -> int:
    """Upsert standard addresses on address_id (GAZETTEER_COLUMNS); returns rows written."""
    conn.execute(
        "CREATE TEMP TABLE stage_gazetteer (address_id bigint, district_code text,"
        " street_code text, community_code text, grid_code text, road text, number integer,"
        " compound text, building integer, text text, households integer,"
        " lon double precision, lat double precision) ON COMMIT DROP")
    copy_frame(conn, "stage_gazetteer", addresses)
    cur = conn.execute(
        "INSERT INTO gazetteer AS g (address_id, district_code, street_code, community_code,"
        " grid_code, road, number, compound, building, text, households, geom)"
        " SELECT address_id, district_code, street_code, community_code, grid_code,"
        " nullif(road, ''), number, nullif(compound, ''), building, text, households,"
        " ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM stage_gazetteer"
        " ON CONFLICT (address_id) DO UPDATE SET district_code = EXCLUDED.district_code,"
        " street_code = EXCLUDED.street_code, community_code = EXCLUDED.community_code,"
        " grid_code = EXCLUDED.grid_code, road = EXCLUDED.road, number = EXCLUDED.number,"
        " compound = EXCLUDED.compound, building = EXCLUDED.building, text = EXCLUDED.text,"
        " households = EXCLUDED.households, geom = EXCLUDED.geom"
        " WHERE (g.text, g.geom, g.grid_code) IS DISTINCT FROM (EXCLUDED.text, EXCLUDED.geom, EXCLUDED.grid_code)")
    conn.execute("DROP TABLE stage_gazetteer")
    return cur.rowcount
