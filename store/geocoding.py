"""What the geocoder and its checks read from PostGIS, handed to geo/ as frames.

geo/ never speaks SQL: the pipeline and the CLI build a Geocoder here, from the areas of every
boundary version and the standard-address gazetteer (store.areas), and read the stored cases
that the accuracy report and the CRS check judge.
"""

from __future__ import annotations

import pandas as pd
import psycopg

from geo.accuracy import ASSIGNED_COLUMNS
from geo.crs_detect import SOURCE_POINT_COLUMNS
from geo.geocoder import Geocoder
from store.areas import read_area_versions, read_gazetteer


def load_geocoder(conn: psycopg.Connection, **options) -> Geocoder:
    """A Geocoder over the stored areas of every version and the gazetteer (options: Geocoder's)."""
    return Geocoder(areas=read_area_versions(conn), addresses=read_gazetteer(conn), **options)


def read_assignments(conn: psycopg.Connection) -> pd.DataFrame:
    """Stored cases: where the cascade placed each and which inputs it had (ASSIGNED_COLUMNS)."""
    rows = conn.execute(
        "SELECT source, source_record_id, geocode_method, geocode_precision, grid_code,"
        " community_code, street_code, district_code, src_x IS NOT NULL AND src_y IS NOT NULL,"
        " source_grid_code IS NOT NULL, coalesce(address, '') <> '', coalesce(area_name, '') <> ''"
        " FROM cases").fetchall()
    return pd.DataFrame(rows, columns=list(ASSIGNED_COLUMNS))


def read_source_points(conn: psycopg.Connection, source: str, limit: int = 20_000) -> pd.DataFrame:
    """A stored source's latest coordinates as received (SOURCE_POINT_COLUMNS): declared CRS,
    address and grid code with them."""
    rows = conn.execute(
        "SELECT src_x, src_y, src_crs, address, source_grid_code FROM cases"
        " WHERE source = %s AND src_x IS NOT NULL ORDER BY case_id DESC LIMIT %s",
        (source, limit)).fetchall()
    return pd.DataFrame(rows, columns=list(SOURCE_POINT_COLUMNS))
