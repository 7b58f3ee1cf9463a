"""Kunming from its example profile: NBS codes as levels (city > districts with DataV shapes in
GCJ-02 > streets and communities known by code only), the 2021 -> 2023 code changes, and the
API answering for 12-digit codes. The real data hold no Kunming records, so no feed ingests.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.areas import read_code_file
from pipeline.boundaries import load_code_file, under_current_parents
from store.areas import prepare_version
from store.db import connect
from tests.cities.onboarding import api_get, onboard, real_data

pytestmark = pytest.mark.slow

OUTLINE = "china/530100_full.json"
NBS_2021 = "china/nbs2021_345-5301.json"
STREETS_2023 = "china/nbs2023_streets.csv"
# GCJ-02 puts Kunming about 0.0014 deg east and 0.0030 deg south of WGS84 (some 360 m), by the
# published GCJ-02 formula evaluated at 102.7 E, 25.05 N.
GCJ_OFFSET_DEG = (0.0014, -0.0030)
OFFSET_TOLERANCE_DEG = 0.0003


def test_kunming_loads_nbs_levels_with_and_without_shapes(empty_db, tmp_path):
    city = onboard("kunming", empty_db, tmp_path, OUTLINE, "district", pad_to=12)
    assert any("union of the 14 areas" in n for n in city.notes)
    for level in ("street", "community"):
        load_code_file(empty_db, city.settings, real_data(NBS_2021), level, pad_to=12,
                       on_note=city.notes.append)
    print("\n".join(city.notes))
    nbs = json.loads(real_data(NBS_2021).read_text(encoding="utf-8"))
    districts = {c.ljust(12, "0") for c in nbs["5301"]}
    streets = {c.ljust(12, "0") for d in districts for c in nbs.get(d[:6], {})}
    communities = {c for s in streets for c in nbs.get(s[:9], {})}
    rows = city.rows("SELECT level, count(*), count(*) FILTER (WHERE ST_IsEmpty(geom)) FROM areas"
                     " WHERE valid_to IS NULL GROUP BY 1")
    levels = {level: (n, empty) for level, n, empty in rows}
    # 14 districts with shapes (NBS lists 15: 530101 市辖区 has no land of its own).
    assert levels == {"city": (1, 0), "district": (14, 0), "street": (len(streets), len(streets)),
                      "grid": (len(communities), len(communities))}
    assert (len(streets), len(communities)) == (147, 1716)
    [(parent, name)] = city.rows("SELECT parent_code, name FROM areas WHERE code = '530102001001'")
    assert (parent, name) == ("530102001000", "翠湖西路社区")
    [(orphans,)] = city.rows("SELECT count(*) FROM areas a LEFT JOIN areas p ON p.code = a.parent_code"
                             " AND p.valid_to IS NULL WHERE a.valid_to IS NULL AND a.level <> 'city'"
                             " AND p.code IS NULL")
    assert orphans == 0

    # The outline came in GCJ-02 and is stored in WGS84: shifted back by the known offset.
    raw = gpd.read_file(real_data(OUTLINE)).set_index("adcode")
    [(wkt,)] = city.rows("SELECT ST_AsText(ST_Centroid(geom)) FROM areas WHERE code = '530102000000'")
    stored = gpd.GeoSeries.from_wkt([wkt], crs="EPSG:4326")
    gcj = gpd.GeoSeries([raw.loc[530102, "geometry"].centroid], crs="EPSG:4326")
    metric = stored.estimate_utm_crs()
    shift = stored.to_crs(metric).iloc[0].distance(gcj.to_crs(metric).iloc[0])
    dx, dy = np.subtract(gcj.iloc[0].coords[0], stored.iloc[0].coords[0])
    print(f"GCJ-02 -> WGS84: 五华区 centroid moved {shift:.0f} m ({dx:+.5f}, {dy:+.5f} deg)")
    assert np.allclose((dx, dy), GCJ_OFFSET_DEG, atol=OFFSET_TOLERANCE_DEG) and 300 < shift < 420

    # 2021 -> 2023: the streets of the national 2023 list under Kunming's districts.
    frame = read_code_file(real_data(STREETS_2023), "street", parent_field="areaCode", pad_to=12)
    with connect(empty_db) as conn:
        ours = under_current_parents(conn, city.settings.profile, real_data(STREETS_2023), frame, "street")
        plan, report = prepare_version(conn, ours, "street", None, complete=True, slots=city.settings.profile.slots)
    listed = pd.read_csv(real_data(STREETS_2023), dtype=str)
    new = {c.ljust(12, "0") for c in listed.loc[listed["areaCode"].str.startswith("5301"), "code"]}
    print(f"NBS streets 2021 -> 2023: {plan.summary()}; {plan.rows().to_dict('records')}")
    assert len(plan.added) == len(new - streets) and len(plan.closed) == len(streets - new)
    assert len(plan.added) + len(plan.changed) + len(plan.unchanged) == len(new) == 150
    assert report.ok

    # The API answers for the 12-digit codes, and refuses a code of no level's pattern.
    (area_status, area), (street_status, street), (bad_status, _) = api_get(
        city, "/areas/530102000000", "/areas/530102001000", "/areas/5301")
    print(f"/areas/530102000000: {area_status} {area['name']}, {len(area['children'])} children")
    assert area_status == 200 and area["name"] == "五华区" and len(area["children"]) == len(nbs["530102"])
    assert street_status == 200 and street["name"] == "华山街道"
    assert bad_status == 422
