"""Placeholder points on real feeds: none found where there are none, every one found where a
default point was put, and never counted as a location."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest

from connectors.spec import load_spec
from core.settings import GridHubSettings
from geo.geocode import geocode
from geo.geocoder import Geocoder
from geo.placeholders import find_placeholders, outline_centroids, placeholder_counts
from pipeline.ingest import ingest
from store.quality_runs import read_counts
from tests.geo.real_data import city_areas, points_of
from tests.pipeline.helpers import rows, scalar

SF_AREAS = "sf/sf_analysis_neighborhoods.geojson"
CITY_HALL = (-122.41930, 37.77930)  # San Francisco City Hall


@pytest.mark.parametrize("feed, boundaries", [
    ("sf/sf_police_incidents_2026-01-01_to_04-16.csv", SF_AREAS),
    ("sf/sf_police_incidents_2018-12_fullcols.csv", SF_AREAS),
    ("chicago/chicago_crimes_2024_sample10k.csv", "chicago/chicago_community_areas.geojson"),
    ("nyc311/nyc311_2026-06-27_28_reduced_cols.csv", "nyc311/nyc_community_districts.geojson"),
    ("nyc311/nyc311_2018-09-02_all_agencies.csv", "nyc311/nyc_community_districts.geojson"),
    ("nyc311/nyc311_2019-12-31_api_snakecase.csv", "nyc311/nyc_community_districts.geojson"),
])
def test_real_feeds_have_no_placeholder_point(feed, boundaries):
    # Their busiest points are real street corners (16th & Mission holds 1.3% of SF 2026).
    records = points_of(feed)
    kinds = find_placeholders(records["lon"].to_numpy(), records["lat"].to_numpy(),
                              outline_centroids(city_areas(boundaries, "C")))
    assert (kinds == None).all(), pd.Series(kinds).value_counts()  # noqa: E711


def test_a_default_point_holding_14_percent_is_found_and_never_located():
    records = points_of("sf/sf_police_incidents_2026-01-01_to_04-16.csv")
    areas = city_areas(SF_AREAS, "SF")
    geocoder = Geocoder.from_frames(areas)
    rng = np.random.default_rng(31)
    fake = rng.choice(len(records), int(0.14 * len(records)), replace=False)
    lon, lat = records["lon"].to_numpy().copy(), records["lat"].to_numpy().copy()
    lon[fake], lat[fake] = CITY_HALL
    out = geocode(pd.DataFrame({"src_x": lon, "src_y": lat, "src_crs": "EPSG:4326"}), geocoder)
    placeholder = out["geocode_method"].eq("placeholder").to_numpy()
    assert placeholder.sum() == len(fake) and placeholder[fake].all()
    assert out.loc[placeholder, "grid_code"].isna().all() and out.loc[placeholder, "lon"].isna().all()
    assert "placeholder point (dominant)" in out.loc[placeholder, "unlocated_reason"].iloc[0]
    # City Hall's neighbourhood keeps only the records really there.
    grids = geocoder.current.grids
    hall = grids.codes[grids.locate(np.array([CITY_HALL[0]]), np.array([CITY_HALL[1]]))[0]]
    really_there = geocode(records[["lon", "lat"]].rename(columns={"lon": "src_x", "lat": "src_y"})
                           .iloc[np.setdiff1d(np.arange(len(records)), fake)], geocoder)
    assert (out["grid_code"] == hall).sum() == (really_there["grid_code"] == hall).sum()
    counts = placeholder_counts(out)
    assert counts["placeholder: records"] == counts["placeholder: dominant"] == len(fake)
    assert counts["placeholder: unlocated"] == len(fake)
    assert counts["placeholder point: -122.41930 37.77930"] == len(fake)


def test_declared_points_centroids_and_zero_are_placeholders_and_addresses_still_place_them():
    areas = city_areas(SF_AREAS, "SF")
    city_centre, first_area_centre = outline_centroids(areas)[:2]
    declared = (-122.40000, 37.79000)
    addresses = pd.DataFrame({
        "address_id": [1], "district_code": ["SF"], "street_code": [None], "community_code": [None],
        "grid_code": ["SF-05"], "road": ["MISSION ST"], "number": [1450], "compound": [None],
        "building": [None], "text": ["1450 MISSION ST"], "households": [1],
        "lon": [-122.4176], "lat": [37.7743]})
    geocoder = Geocoder.from_frames(areas, addresses)
    grids = geocoder.current.grids
    addresses.loc[0, "grid_code"] = grids.codes[grids.locate(np.array([-122.4176]), np.array([37.7743]))[0]]
    geocoder = Geocoder.from_frames(areas, addresses)
    cases = pd.DataFrame({
        "src_x": [declared[0], city_centre[0], first_area_centre[0], 0.0, -122.4473],
        "src_y": [declared[1], city_centre[1], first_area_centre[1], 0.0, 37.7691],
        "src_crs": "EPSG:4326",
        "address": [None, "1450 Mission Street, Apt 3", None, None, None]})
    out = geocode(cases, geocoder, placeholder_points=[declared])
    kinds = [a.get("placeholder") if isinstance(a, dict) else None for a in out["attributes"]]
    assert kinds == ["declared", "centroid", "centroid", "zero", None]
    assert out["geocode_method"].tolist() == ["placeholder", "address", "placeholder", "placeholder",
                                              "coordinates"]
    assert out.at[1, "grid_code"] == addresses.at[0, "grid_code"]  # its address placed it
    assert placeholder_counts(out)["placeholder: unlocated"] == 3


def test_an_ingest_counts_placeholders_and_clock_changes_in_the_quality_record(tmp_path, settings, db_url,
                                                                                geocoder):
    # 45 of 60 demo-city records on one point, two of them with an address; local times read
    # in Chicago's zone, two at its clock changes.
    gazetteer = geocoder.addresses.sample(16, random_state=3).reset_index(drop=True)
    default = gazetteer.iloc[0]
    n = 60
    feed = pd.DataFrame({
        "id": [f"R{i}" for i in range(n)],
        "when": ["2024-05-01 10:00:00"] * (n - 2) + ["2024-03-10 02:30:00", "2024-11-03 01:30:00"],
        "x": [default.lon] * 45 + list(gazetteer["lon"].iloc[1:]),
        "y": [default.lat] * 45 + list(gazetteer["lat"].iloc[1:]),
        "address": [gazetteer.at[1, "text"], gazetteer.at[2, "text"]] + [None] * (n - 2),
    })
    feed.to_csv(tmp_path / "feed.csv", index=False)
    (tmp_path / "feed.yaml").write_text(
        "name: default_points\nagency: test\nkind: incident\nformat: csv\n"
        f"location: {tmp_path / 'feed.csv'}\nprimary_key: id\ntimezone: America/Chicago\n"
        "fields:\n  source_record_id: {from: id}\n"
        "  reported_at: {from: when, parse: datetime, formats: ['%Y-%m-%d %H:%M:%S']}\n"
        "  category: {const: public_security}\n  status: {const: accepted}\n"
        "  src_x: {from: x, parse: number}\n  src_y: {from: y, parse: number}\n"
        "  address: {from: address}\n", encoding="utf-8")
    spec = load_spec(tmp_path / "feed.yaml")
    cfg = GridHubSettings(data_dir=settings.data_dir, database_url=db_url, sources_dir=tmp_path)
    result = ingest(spec, cfg, db_url)
    assert result.counts.inserted == n and result.counts.quarantined == 0
    methods = dict(rows(db_url, "SELECT geocode_method, count(*) FROM cases GROUP BY 1"))
    assert methods == {"placeholder": 43, "address": 2, "coordinates": 15}
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE grid_code = %s AND geocode_method"
                          " = 'coordinates'", (default.grid_code,)) == 0
    with psycopg.connect(db_url) as conn:
        counts = read_counts(conn, result.run_id)
    assert counts["placeholder: records"] == counts["placeholder: dominant"] == 45
    assert counts["placeholder: unlocated"] == 43
    assert counts["clock change: missing"] == counts["clock change: ambiguous"] == 1
