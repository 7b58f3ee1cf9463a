"""San Francisco, end to end from its example profile: 41 analysis neighbourhoods named by
their own names, two police exports of different schemas, agreement with the agency's label."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from tests.cities.onboarding import (
    REAL,
    agreement,
    api_summary,
    onboard,
    point_in_polygon_agreement,
    real_data,
)

pytestmark = pytest.mark.slow

AREAS = "sf/sf_analysis_neighborhoods.geojson"
FEEDS = {"sf_incidents_2026": "sf/sf_police_incidents_2026-01-01_to_04-16.csv",
         "sf_incidents_2018_12": "sf/sf_police_incidents_2018-12_fullcols.csv"}
# What identifies a record of each feed (its spec's source_record_id): repeated rows are one case.
RECORD_KEYS = {"sf_incidents_2026": ["Incident Date", "Incident Time", "Incident Category",
                                     "Incident Subcategory", "Incident Description",
                                     "Analysis Neighborhood", "Latitude", "Longitude"],
               "sf_incidents_2018_12": ["Row ID"]}


def test_san_francisco_onboards_with_configuration_alone(empty_db, tmp_path):
    city = onboard("sf", empty_db, tmp_path, AREAS, "neighborhood", code_field="nhood")
    levels = dict(city.rows("SELECT level, count(*) FROM areas WHERE valid_to IS NULL GROUP BY 1"))
    assert levels == {"city": 1, "grid": 41}

    counts = city.ingest_all()
    polygons = gpd.read_file(REAL / AREAS)
    for source, path in FEEDS.items():
        c = counts[source]
        assert c.records_read == c.inserted + c.updated + c.quarantined + c.duplicates
        assert c.inserted > 0.9 * c.records_read
        agree, _ = agreement(city, source, "Analysis Neighborhood")
        records = pd.read_csv(real_data(path), dtype="string").drop_duplicates(RECORD_KEYS[source])
        records = records.dropna(subset=["Latitude", "Longitude"]).astype(
            {"Latitude": "float64", "Longitude": "float64"})
        pip_agree, _ = point_in_polygon_agreement(records, polygons, "nhood", "Analysis Neighborhood",
                                                  "Longitude", "Latitude")
        print(f"SF {source}: read {c.records_read}, loaded {c.inserted}, duplicates {c.duplicates},"
              f" quarantined {c.quarantined}; GridHub {agree / len(records):.2%},"
              f" point-in-polygon {pip_agree / len(records):.2%} of {len(records)} rows with a point")
        assert agree >= pip_agree

    found = api_summary(city, "Mission")
    [(recount,)] = city.rows("SELECT count(*) FROM cases WHERE grid_code = 'Mission'")
    assert found["status"] == 200 and found["body"]["total"] == recount > 0
    [(city_total,)] = city.rows("SELECT count(*) FROM cases")
    assert api_summary(city, "SF")["body"]["total"] == city_total
