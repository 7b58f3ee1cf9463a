"""Chicago, end to end from its example profile: a two-level city (outline > 77 community
areas numbered "1".."77"), its crimes' own categories, the one-line mistakes of a new city."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from connectors.spec import load_specs
from core.errors import ConfigError
from core.profile import ProfileError
from core.settings import GridHubSettings
from pipeline.boundaries import load_area_file
from pipeline.ingest import NoAreasError, ingest
from tests.cities.onboarding import (
    EXAMPLES,
    REAL,
    agreement,
    api_summary,
    onboard,
    point_in_polygon_agreement,
    real_data,
)

pytestmark = pytest.mark.slow

AREAS = "chicago/chicago_community_areas.geojson"
FIELDS = {"code_field": "area_numbe", "name_field": "community"}


def test_chicago_onboards_with_configuration_alone(empty_db, tmp_path):
    city = onboard("chicago", empty_db, tmp_path, AREAS, "community_area", **FIELDS)
    assert any("union of the 77 areas" in n for n in city.notes)
    assert any("largest overlap" in n and "lowest 100.0%" in n for n in city.notes)
    levels = dict(city.rows("SELECT level, count(*) FROM areas WHERE valid_to IS NULL GROUP BY 1"))
    assert levels == {"city": 1, "grid": 77}  # two levels: the middle slots stay empty

    counts = city.ingest_all()["chicago_crimes"]
    assert counts.records_read == 10_000
    assert counts.records_read == counts.inserted + counts.updated + counts.quarantined + counts.duplicates
    [(cases, shifted)] = city.rows("SELECT count(*), count(district_code) + count(street_code)"
                                   " + count(community_code) FROM cases")
    assert cases == counts.inserted and shifted == 0  # no level shifted into an empty slot

    # The crimes' own categories, with the source's path kept.
    [(category, raw)] = city.rows("SELECT category, raw_category FROM cases WHERE source_record_id = '13364090'")
    assert category == "BATTERY" and raw.startswith("BATTERY > PROTECTED EMPLOYEE")

    # The API serves the city's codes, and its summaries equal a recount from cases.
    found = api_summary(city, "35")
    [(recount,)] = city.rows("SELECT count(*) FROM cases WHERE grid_code = '35'")
    assert found["status"] == 200 and found["body"]["total"] == recount > 0
    assert found["bad"] == 422
    status, body = found["wrong"]
    assert status == 422 and "[1-9]" in body["detail"]

    # Agreement with the agency's own Community Area, against plain point-in-polygon.
    agree, placed = agreement(city, "chicago_crimes", "Community Area")
    records = pd.read_csv(real_data("chicago/chicago_crimes_2024_sample10k.csv"), encoding="utf-8-sig",
                          dtype={"Community Area": "string"}).dropna(subset=["Latitude", "Longitude"])
    polygons = gpd.read_file(REAL / AREAS)
    pip_agree, pip_placed = point_in_polygon_agreement(records, polygons, "area_numbe", "Community Area",
                                                       "Longitude", "Latitude")
    print(f"Chicago: GridHub {agree}/{len(records)} = {agree / len(records):.2%};"
          f" point-in-polygon {pip_agree}/{len(records)} = {pip_agree / len(records):.2%}")
    assert placed >= pip_placed and agree >= pip_agree and agree / len(records) > 0.95


def test_a_new_citys_mistakes_are_one_line_each(empty_db, tmp_path):
    folder = EXAMPLES / "chicago"
    settings = GridHubSettings(city_profile=folder / "city.yaml", sources_dir=folder / "sources",
                               data_dir=tmp_path, database_url=empty_db)
    spec = load_specs(settings.resolved_sources_dir)["chicago_crimes"]
    with pytest.raises(NoAreasError, match="load the city's areas first .* --level community_area"):
        ingest(spec, settings, empty_db, variables={"GRIDHUB_REAL_DATA": str(REAL)})
    with pytest.raises(ProfileError, match="level 'ward' is not one of this city's levels"):
        load_area_file(empty_db, settings, real_data(AREAS), "ward", **FIELDS)
    with pytest.raises(ConfigError, match="no code field 'code' .*area_numbe"):
        load_area_file(empty_db, settings, real_data(AREAS), "community_area")
    with pytest.raises(ConfigError, match="do not match the community_area level's pattern"):
        load_area_file(empty_db, settings, real_data(AREAS), "community_area", code_field="community")
