"""Storing governance areas, their boundary versions and the standard-address gazetteer."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from core.case import AreaLevel
from geo.area_checks import AreaReport, check_areas
from geo.gazetteer import GAZETTEER_COLUMNS
from geo.geocoder import FAR_PAST
from geo.versions import BoundaryPlan, plan_version
from store import rollups
from store.copy import copy_frame
from store.loading import sql_text


def _stage_areas(conn: psycopg.Connection, areas: gpd.GeoDataFrame) -> None:
    """The areas' rows in the temp table stage_areas, shapes as WKT (dropped at commit)."""
    frame = pd.DataFrame({
        "code": areas["code"], "parent_code": areas["parent_code"], "level": areas["level"],
        "name": areas["name"], "wkt": shapely.to_wkt(areas.geometry.to_numpy(), rounding_precision=-1),
    })
    conn.execute("CREATE TEMP TABLE stage_areas (code text, parent_code text, level text,"
                 " name text, wkt text) ON COMMIT DROP")
    copy_frame(conn, "stage_areas", frame)


def replace_current_areas(conn: psycopg.Connection, areas: gpd.GeoDataFrame) -> int:
    """Make these the current areas for their codes (same codes replaced in place)."""
    _stage_areas(conn, areas)
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


def read_areas(conn: psycopg.Connection, as_of: date | None = None) -> gpd.GeoDataFrame:
    """Areas valid on a day (the current ones when as_of is None), every level."""
    rows = conn.execute(
        "SELECT code, parent_code, level, name, valid_from, valid_to, ST_AsBinary(geom) FROM areas"
        " WHERE CASE WHEN %(day)s::date IS NULL THEN valid_to IS NULL"
        " ELSE valid_from <= %(day)s AND (valid_to IS NULL OR valid_to > %(day)s) END",
        {"day": as_of}).fetchall()
    frame = pd.DataFrame(rows, columns=["code", "parent_code", "level", "name", "valid_from",
                                        "valid_to", "wkb"])
    return gpd.GeoDataFrame(frame.drop(columns="wkb"), geometry=shapely.from_wkb(frame["wkb"].to_numpy()),
                            crs="EPSG:4326")


def read_area_versions(conn: psycopg.Connection) -> pd.DataFrame:
    """Areas of every boundary version: code, parent_code, level, name, valid_from, valid_to
    (None: still valid) and a shapely geometry (WGS84)."""
    rows = conn.execute(
        "SELECT code, parent_code, level, name, valid_from, valid_to, ST_AsBinary(geom) FROM areas").fetchall()
    frame = pd.DataFrame(rows, columns=["code", "parent_code", "level", "name", "valid_from",
                                        "valid_to", "wkb"])
    frame["geometry"] = shapely.from_wkb(frame.pop("wkb").to_numpy())
    return frame


def read_gazetteer(conn: psycopg.Connection) -> pd.DataFrame:
    """The stored standard addresses (GAZETTEER_COLUMNS)."""
    rows = conn.execute(
        "SELECT address_id, district_code, street_code, community_code, grid_code, road,"
        " number, compound, building, text, households, ST_X(geom), ST_Y(geom)"
        " FROM gazetteer ORDER BY address_id").fetchall()
    return pd.DataFrame(rows, columns=list(GAZETTEER_COLUMNS))


def prepare_version(conn: psycopg.Connection, incoming: gpd.GeoDataFrame, level: AreaLevel | str,
                    effective_from: date | None = None, complete: bool = False,
                    slots: list[AreaLevel] | None = None) -> tuple[BoundaryPlan, AreaReport]:
    """Plan a file of areas against the current ones, and check the hierarchy it would give.

    Without an effective day, a level loaded for the first time holds from the start of time
    and a new version of a loaded level from today. `slots`: the city's levels
    (CityProfile.slots), for the parent checks.
    """
    level = AreaLevel(level).value
    current = read_areas(conn)
    if effective_from is None:
        effective_from = date.today() if (current["level"] == level).any() else FAR_PAST
    plan = plan_version(current, incoming, level, effective_from, complete)
    kept = current[~current["code"].isin(plan.retired_codes + list(plan.opened["code"]))]
    after = pd.concat([kept, plan.opened], ignore_index=True)
    return plan, check_areas(incoming, after, slots=slots)


def open_version(conn: psycopg.Connection, plan: BoundaryPlan, source: str | None = None) -> int:
    """Record a planned version, close its retired rows and open its new ones; its id."""
    version_id = conn.execute(
        "INSERT INTO area_versions (effective_from, level, source, added, changed, closed, unchanged,"
        " report) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING version_id",
        (plan.effective_from, plan.level, source, len(plan.added), len(plan.changed),
         len(plan.closed), len(plan.unchanged), Jsonb(plan.rows().to_dict("records")))).fetchone()[0]
    retired = plan.retired_codes
    early = conn.execute(
        "SELECT code FROM areas WHERE code = ANY(%s) AND valid_to IS NULL AND valid_from >= %s",
        (retired, plan.effective_from)).fetchall()
    if early:
        raise ValueError(f"areas {[r[0] for r in early][:5]} were opened on or after"
                         f" {plan.effective_from}: a new version must take effect later")
    conn.execute("UPDATE areas SET valid_to = %s WHERE code = ANY(%s) AND valid_to IS NULL",
                 (plan.effective_from, retired))
    _stage_areas(conn, plan.opened)
    conn.execute(
        "INSERT INTO areas (code, valid_from, parent_code, level, name, geom, version_id)"
        " SELECT code, %s, parent_code, level, name, ST_Multi(ST_GeomFromText(wkt, 4326)), %s"
        " FROM stage_areas", (plan.effective_from, version_id))
    conn.execute("DROP TABLE stage_areas")
    return version_id


CASE_INPUTS = ["case_id", "report_day", "src_x", "src_y", "src_crs", "address", "area_name",
               "source_grid_code", "attributes", "grid_code", "community_code", "street_code",
               "district_code", "geocode_method", "geocode_precision", "unlocated_reason"]
# What a re-assignment may change of a case.
ASSIGNMENT = ["grid_code", "community_code", "street_code", "district_code", "geocode_method",
              "geocode_precision", "unlocated_reason"]


def cases_a_version_may_move(conn: psycopg.Connection, plan: BoundaryPlan) -> pd.DataFrame:
    """The CASE_INPUTS of the cases reported from the version's day on that sat in a retired
    area, were unlocated, or lie within the new shapes' envelope."""
    column = sql.Identifier(AreaLevel(plan.level).code_column)
    rows = conn.execute(sql.SQL(
        "SELECT case_id, report_day, src_x, src_y, src_crs, address, area_name, source_grid_code,"
        " attributes, grid_code, community_code, street_code, district_code, geocode_method,"
        " geocode_precision, unlocated_reason FROM cases"
        " WHERE report_day >= %s AND ({col} = ANY(%s) OR geocode_method = 'none')"
        " OR (report_day >= %s AND geom && ST_GeomFromText(%s, 4326))").format(col=column),
        (plan.effective_from, plan.retired_codes, plan.effective_from, _new_extent(plan))).fetchall()
    return pd.DataFrame(rows, columns=CASE_INPUTS)


def reassign_cases(conn: psycopg.Connection, version_id: int, before: pd.DataFrame,
                   after: pd.DataFrame, timezone: str = rollups.DEFAULT_TIMEZONE) -> None:
    """Give moved cases their new areas (after: ASSIGNMENT, lon, lat, attributes by case_id),
    keep their previous assignment in case_area_history, refresh the rollups of both.

    `timezone` is the city's (GridHubSettings.timezone): it decides the local day a moved
    case was closed on.
    """
    history = before[["case_id", "grid_code", "community_code", "street_code", "district_code",
                      "geocode_method", "geocode_precision"]].assign(version_id=version_id)
    copy_frame(conn, "case_area_history", history)
    conn.execute(sql_text("stage_cases.sql"))  # creates touched_days for the rollup refresh
    conn.execute(
        "CREATE TEMP TABLE stage_reassigned (case_id bigint, grid_code text, community_code text,"
        " street_code text, district_code text, geocode_method text, geocode_precision text,"
        " unlocated_reason text, lon double precision, lat double precision, attributes jsonb)"
        " ON COMMIT DROP")
    copy_frame(conn, "stage_reassigned", after[["case_id", *ASSIGNMENT, "lon", "lat", "attributes"]])
    # The old and the new (day, areas) of every moved case need their rollups recomputed.
    conn.execute(
        "INSERT INTO touched_days SELECT c.report_day, c.grid_code, c.community_code,"
        " c.street_code, c.district_code, c.city_code FROM cases c JOIN stage_reassigned s USING (case_id)")
    conn.execute(
        "UPDATE cases c SET grid_code = s.grid_code, community_code = s.community_code,"
        " street_code = s.street_code, district_code = s.district_code,"
        " geocode_method = s.geocode_method, geocode_precision = s.geocode_precision,"
        " unlocated_reason = s.unlocated_reason, attributes = s.attributes,"
        " geom = CASE WHEN s.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END"
        " FROM stage_reassigned s WHERE c.case_id = s.case_id")
    conn.execute(
        "INSERT INTO touched_days SELECT c.report_day, c.grid_code, c.community_code,"
        " c.street_code, c.district_code, c.city_code FROM cases c JOIN stage_reassigned s USING (case_id)")
    conn.execute("DROP TABLE stage_reassigned")
    conn.execute("UPDATE area_versions SET cases_reassigned = %s WHERE version_id = %s",
                 (len(after), version_id))
    rollups.refresh_touched(conn, timezone)


def _new_extent(plan: BoundaryPlan) -> str:
    """The envelope of the new shapes, as WKT: cases inside may now fall in them."""
    opened = plan.opened
    if opened.empty:
        return "POLYGON EMPTY"
    return shapely.to_wkt(shapely.envelope(shapely.union_all(opened.geometry.to_numpy())))
