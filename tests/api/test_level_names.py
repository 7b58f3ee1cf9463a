"""The API speaks the city profile's level names: San Francisco's two levels are `city` and
`neighborhood` (stored in the city and grid slots), and no answer or parameter says `grid`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from api.keys import Role
from tests.api.conftest import Api, serve
from tests.api.helpers import read_mvt, tile_of
from tests.cities.onboarding import onboard

AREAS = "sf/sf_analysis_neighborhoods.geojson"


@pytest.fixture
def sf_api(empty_db, tmp_path) -> Iterator[Api]:
    """A live API over SF's 41 neighbourhoods, read with SF's own profile."""
    city = onboard("sf", empty_db, tmp_path, AREAS, "neighborhood", code_field="nhood")
    with serve(city.settings) as server:
        live = Api(server.base_url, empty_db, city.settings.city_code, [])
        yield live
        for client in live.clients:
            client.close()


def test_areas_and_stats_use_the_profiles_level_names(sf_api):
    client = sf_api.client()
    listed = client.get("/areas", params={"level": "neighborhood"}).json()
    assert listed["count"] == 41 and {a["level"] for a in listed["areas"]} == {"neighborhood"}
    everything = client.get("/areas").json()["areas"]
    assert sorted({a["level"] for a in everything}) == ["city", "neighborhood"]

    mission = client.get("/areas/Mission").json()
    assert mission["level"] == "neighborhood"
    assert [(a["code"], a["level"]) for a in mission["ancestors"]] == [("SF", "city")]
    city = client.get("/areas/SF").json()
    assert city["level"] == "city" and {c["level"] for c in city["children"]} == {"neighborhood"}

    stats = client.get("/stats").json()  # default: the level below the key's scope
    assert stats["level"] == "neighborhood" and stats["count"] == 41
    assert {row["level"] for row in stats["areas"]} == {"neighborhood"}
    as_csv = client.get("/stats", params={"level": "neighborhood", "format": "csv"}).text
    assert as_csv.count("\n") == 42 and ",neighborhood," in as_csv
    assert client.get("/stats", params={"level": "city"}).json()["areas"][0]["code"] == "SF"
    ranked = client.get("/rankings", params={"level": "neighborhood", "limit": 3}).json()
    assert ranked["level"] == "neighborhood"
    assert client.get("/areas/Mission/summary").json()["area"]["level"] == "neighborhood"
    assert client.get("/areas/Mission/timeseries").json()["area"]["level"] == "neighborhood"


def test_stored_slot_names_are_refused_with_the_citys_names(sf_api):
    client = sf_api.client()
    for path, params in (("/areas", {"level": "grid"}), ("/stats", {"level": "district"}),
                         ("/rankings", {"level": "community"}), ("/warnings", {"area_level": "grid"})):
        r = client.get(path, params=params)
        parameter = next(iter(params))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["parameter"] == parameter
        assert "city, neighborhood" in r.json()["detail"]


def test_tiles_and_warnings_name_the_level_as_the_profile_does(sf_api):
    with psycopg.connect(sf_api.db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas"
                                " WHERE code = 'Mission' AND valid_to IS NULL) s").fetchone()
        [alert] = conn.execute(
            "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
            " observed, expected, score) VALUES ('Mission', 'grid', 'kind:incident', 'test', 'red', 'new',"
            " '2026-03-01', '2026-03-02', 30, 9, 3.1) RETURNING alert_id").fetchone()
        conn.execute("INSERT INTO alert_areas (area_code, alert_id, depth) VALUES ('Mission', %s, 0),"
                     " ('SF', %s, 1) ON CONFLICT DO NOTHING", (alert, alert))
    client = sf_api.client(Role.VIEWER)
    for z in (10, 14):  # far out (the district slot, empty here) and close in: neighbourhoods
        x, y = tile_of(lon, lat, z)
        features = read_mvt(client.get(f"/tiles/areas/{z}/{x}/{y}.mvt").content, z, x, y)
        assert "Mission" in {f["properties"]["code"] for f in features}
        assert {f["properties"]["level"] for f in features} == {"neighborhood"}

    found = client.get("/warnings", params={"area_level": "neighborhood"}).json()
    assert found["area"]["level"] == "city"
    assert [(w["alert_id"], w["area_code"], w["area_level"]) for w in found["warnings"]] == [
        (alert, "Mission", "neighborhood")]
    assert client.get("/warnings", params={"area_level": "city"}).json()["warnings"] == []
