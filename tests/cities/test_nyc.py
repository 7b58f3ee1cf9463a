"""New York, end to end from its example profile: three levels (city > 5 boroughs made by
dissolving > 59 community districts), five 311 exports in three schemas, and agreement with
the agency's own Community Board label.

The label "05 MANHATTAN" is community district 105: the borough's digit (Manhattan 1, Bronx 2,
Brooklyn 3, Queens 4, Staten Island 5) times 100 plus the board's number. "Unspecified ...",
"0 Unspecified" carry no district; joint interest areas (parks, airports: "55 BROOKLYN",
"80 QUEENS") are no community district, so no method can agree with them.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from psycopg import sql

from geo.placeholders import DOMINANT_MIN_RECORDS, DOMINANT_SHARE
from tests.cities.onboarding import (
    REAL,
    agreement,
    api_summary,
    onboard,
    point_in_polygon_agreement,
    real_data,
)

pytestmark = pytest.mark.slow

AREAS = "nyc311/nyc_community_districts.geojson"
FIELDS = {"code_field": "boro_cd", "name_field": "name", "dissolve_by": "code:1",
          "dissolve_name_field": "borough"}
BOROUGHS = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}
# source -> (file, community board field, borough field, longitude, latitude, address)
DISPLAY = ("Community Board", "Borough", "Longitude", "Latitude", "Incident Address")
FEEDS = {
    "nyc311_2018_09_02": ("nyc311/nyc311_2018-09-02_all_agencies.csv", *DISPLAY),
    "nyc311_2022_05_01": ("nyc311/nyc311_2022-05-01_all_agencies.csv", *DISPLAY),
    "nyc311_sample_2014_2019": ("nyc311/nyc311_sample1000_2014-2019.csv", *DISPLAY),
    "nyc311_api_2019_12_31": ("nyc311/nyc311_2019-12-31_api_snakecase.csv", "community_board",
                              "borough", "longitude", "latitude", "incident_address"),
    "nyc311_reduced_2026_06": ("nyc311/nyc311_2026-06-27_28_reduced_cols.csv", None, "borough",
                               "longitude", "latitude", None),
}


def district_code(label: str | None) -> str | None:
    """The community district code of a 311 Community Board label ("05 MANHATTAN" -> "105")."""
    number, _, borough = (label or "").strip().partition(" ")
    if not number.isdigit() or borough not in BOROUGHS:
        return None
    return str(BOROUGHS[borough] * 100 + int(number))


def borough_code(label: str | None) -> str | None:
    """The borough code of a borough name, or of a Community Board label's borough."""
    label = (label or "").strip()
    if label in BOROUGHS:
        return str(BOROUGHS[label])
    code = district_code(label)
    return code[0] if code else None


def test_new_york_onboards_with_configuration_alone(empty_db, tmp_path):
    city = onboard("nyc", empty_db, tmp_path, AREAS, "community_district", **FIELDS)
    print("\n".join(city.notes))
    levels = dict(city.rows("SELECT level, count(*) FROM areas WHERE valid_to IS NULL GROUP BY 1"))
    assert levels == {"city": 1, "district": 5, "grid": 59}
    boroughs = dict(city.rows("SELECT code, name FROM areas WHERE level = 'district'"))
    assert boroughs == {"1": "MANHATTAN", "2": "BRONX", "3": "BROOKLYN", "4": "QUEENS", "5": "STATEN ISLAND"}
    [(misfiled,)] = city.rows("SELECT count(*) FROM areas WHERE level = 'grid' AND left(code, 1) <> parent_code")
    assert misfiled == 0

    counts = city.ingest_all()
    assert set(counts) == set(FEEDS)
    polygons = gpd.read_file(REAL / AREAS)
    polygons["borough_code"] = polygons["boro_cd"].astype(str).str[0]
    borough_shapes = polygons.dissolve("borough_code").reset_index()
    for source, (path, board, borough, lon, lat, address) in FEEDS.items():
        c = counts[source]
        raw = pd.read_csv(real_data(path), dtype="string")
        assert c.records_read == len(raw)
        assert c.records_read == c.inserted + c.updated + c.quarantined + c.duplicates
        assert c.inserted > 0.95 * c.records_read
        [(cases, shifted, placed_placeholders, placeholders)] = city.rows(
            "SELECT count(*), count(street_code) + count(community_code),"
            " count(*) FILTER (WHERE geocode_method = 'placeholder' AND (grid_code IS NOT NULL OR geom IS NOT NULL)),"
            " count(*) FILTER (WHERE geocode_method = 'placeholder') FROM cases WHERE source = %s", source)
        assert cases == c.inserted and shifted == 0 and placed_placeholders == 0
        [(busiest, located)] = city.rows(
            "SELECT coalesce(max(n), 0), coalesce(sum(n), 0)::bigint FROM (SELECT count(*) n FROM cases"
            " WHERE source = %s AND geocode_method = 'coordinates' GROUP BY geom) p", source)
        # No point that stands for "unknown" among the places: the busiest is a real corner.
        assert busiest < max(DOMINANT_MIN_RECORDS, 2 * DOMINANT_SHARE * located)

        reasons = city.rows("SELECT r->>'message', count(*) FROM quarantine q,"
                            " jsonb_array_elements(q.reasons) r WHERE source = %s GROUP BY 1", source)
        # The same rows on both sides: those loaded (a quarantined row, e.g. closed before it
        # was created, is no case to place).
        quarantined = {r for (r,) in city.rows("SELECT source_record_id FROM quarantine WHERE source = %s", source)}
        key = "Unique Key" if board == "Community Board" else "unique_key"
        records = raw[~raw[key].isin(quarantined)].dropna(subset=[lat, lon]) \
            .astype({lat: "float64", lon: "float64"})
        if board is None:  # no community board: compare boroughs
            records = records.assign(label=records[borough].map(borough_code))
            agree, _ = agreement(city, source, borough, to_code=borough_code, column="district_code")
            pip_agree, _ = point_in_polygon_agreement(records, borough_shapes, "borough_code", "label", lon, lat)
            level = "borough"
        else:
            records = records.assign(label=records[board].map(district_code))
            agree, _ = agreement(city, source, board, to_code=district_code)
            pip_agree, _ = point_in_polygon_agreement(records, polygons, "boro_cd", "label", lon, lat)
            level = "community district"
        print(f"NYC {source}: read {c.records_read}, loaded {c.inserted}, quarantined {c.quarantined},"
              f" placeholders {placeholders}; {level} agreement GridHub {agree}/{len(records)}"
              f" = {agree / len(records):.2%}, point-in-polygon {pip_agree / len(records):.2%};"
              f" quarantine reasons {reasons}")
        assert agree >= pip_agree and agree > 0.9 * len(records)

        if address is not None:  # no point but an address: placed in the borough it names
            pointless = raw[~raw[key].isin(quarantined) & raw[lat].isna() & raw[address].notna()]
            rows = city.rows(
                "SELECT c.district_code, c.grid_code, r.payload->>%s FROM cases c"
                " JOIN raw_records r ON r.raw_id = c.raw_id WHERE c.source = %s AND c.src_x IS NULL"
                " AND nullif(r.payload->>%s, '') IS NOT NULL", board, source, address)
            labelled = [(got, borough_code(label)) for got, _, label in rows if borough_code(label)]
            by_name = sum(got == want for got, want in labelled)
            print(f"  {len(rows)} rows without a point but with an address:"
                  f" {sum(got is not None for got, _, _ in rows)} placed in their borough by name;"
                  f" borough agreement with the board {by_name}/{len(labelled)}; none in a community"
                  " district (no NYC address gazetteer is loaded)")
            assert len(rows) == len(pointless) and all(grid is None for _, grid, _ in rows)
            assert by_name >= 0.9 * len(labelled)

    # The API serves the city's codes at each level; its summaries equal a recount from cases.
    for code, column in (("105", "grid_code"), ("1", "district_code"), ("NYC", "city_code")):
        found = api_summary(city, code)
        [(recount,)] = city.rows(sql.SQL("SELECT count(*) FROM cases WHERE {} = %s")
                                 .format(sql.Identifier(column)), code)
        assert found["status"] == 200 and found["body"]["total"] == recount > 0, code
    assert found["bad"] == 422 and found["wrong"][0] == 422
