"""OGC API Features and Tiles under /ogc, read by real clients: GDAL's OAPIF driver (ogrinfo,
ogr2ogr) with the key in GDAL_HTTP_HEADERS, and plain HTTP for filters and errors."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.keys import Role
from tests.api.helpers import busiest, read_mvt, tile_of

# Live servers read by GDAL's own clients (ogrinfo, ogr2ogr): end to end.
pytestmark = pytest.mark.slow

CITY = "339900000000"
LEVELS = ["city", "district", "street", "community", "grid"]


def key_of(client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def gdal(*args: str, key: str | None) -> subprocess.CompletedProcess:
    """A GDAL command with the key passed as GDAL_HTTP_HEADERS (as a GIS user would)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GDAL_", "CPL_"))}
    if key is not None:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {key}"
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)


def feature_count(output: str, layer: str) -> int:
    match = re.search(rf"Layer name: {re.escape(layer)}\n(?:.*\n)*?Feature Count: (\d+)", output)
    assert match, output
    return int(match.group(1))


def scalar(db_url: str, query: str, *params) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, params).fetchone()[0]


GRIDS_UNDER = """WITH RECURSIVE under(code) AS (
    SELECT code FROM areas WHERE code = %s AND valid_to IS NULL
    UNION SELECT a.code FROM areas a JOIN under u ON a.parent_code = u.code AND a.valid_to IS NULL)
  SELECT count(*) FROM areas JOIN under USING (code) WHERE valid_to IS NULL AND level = %s"""


def test_ogrinfo_lists_every_collection_with_the_key_in_gdal_http_headers(api):
    admin = api.client(Role.ADMIN)
    url = f"OAPIF:{api.base_url}/ogc"
    listed = gdal("ogrinfo", "-ro", "-q", url, key=key_of(admin))
    assert listed.returncode == 0, listed.stderr
    names = re.findall(r"^\d+: (\S+)", listed.stdout, re.MULTILINE)
    assert names == [*LEVELS, "cases", "warnings", "hotspots"]
    refused = gdal("ogrinfo", "-ro", "-q", url, key=None)
    assert refused.returncode != 0 and "401" in refused.stderr


def test_reading_every_page_of_cases_gives_the_sql_recount_and_exports_to_geopackage(api, tmp_path):
    admin = api.client(Role.ADMIN)
    expected = scalar(api.db_url, "SELECT count(*) FROM cases WHERE city_code = %s", CITY)
    out = tmp_path / "cases.gpkg"
    # Pages of 1,000: the recount needs every page, the next links followed to the end.
    exported = gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{api.base_url}/ogc", "cases",
                    "-oo", "PAGE_SIZE=1000", key=key_of(admin))
    assert exported.returncode == 0, exported.stderr
    read = gdal("ogrinfo", "-ro", "-so", str(out), "cases", key=None)
    assert feature_count(read.stdout, "cases") == expected > 1000
    # The masked address and no personal data: the export holds what /cases shows, no more.
    fields = dict(re.findall(r"^(\w+): (\w+)", read.stdout, re.MULTILINE))
    assert fields["address"] == "String" and fields["case_id"].startswith("Integer")
    assert "person_key" not in fields and "attributes" not in fields
    digits = gdal("ogrinfo", "-ro", "-q", "-sql", "SELECT count(*) AS n FROM cases WHERE address GLOB '*[0-9]*'",
                  str(out), key=None)
    assert re.search(r"n \(Integer\) = 0", digits.stdout), digits.stdout


def test_the_grid_collection_pages_through_every_grid_with_its_figures(api, tmp_path):
    admin = api.client(Role.ADMIN)
    out = tmp_path / "grid.gpkg"
    exported = gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{api.base_url}/ogc", "grid",
                    "-oo", "PAGE_SIZE=50", key=key_of(admin))
    assert exported.returncode == 0, exported.stderr
    counted = gdal("ogrinfo", "-ro", "-q", "-sql", "SELECT count(*) AS n, sum(reported) AS r FROM grid",
                   str(out), key=None).stdout
    grids = scalar(api.db_url, "SELECT count(*) FROM areas WHERE valid_to IS NULL AND level = 'grid'")
    located = scalar(api.db_url, "SELECT count(*) FROM cases WHERE grid_code IS NOT NULL")
    assert re.search(rf"n \(Integer\) = {grids}\b", counted), counted
    assert re.search(rf"r \(Integer\) = {located}\b", counted), counted


def test_a_page_of_grids_holds_the_figures_stats_gives_those_grids(api):
    """A page's figures are read for its own grids only, or for every grid when the filter names
    one: either way they are /stats' for those grids, suppressed alike for a district viewer."""
    district = busiest(api.db_url, "district")
    grid = busiest(api.db_url, "grid", within=("district", district))
    for client in (api.client(Role.ADMIN), api.client(Role.VIEWER, district)):
        by_code = {row["code"]: row for row in client.get("/stats", params={"level": "grid"}).json()["areas"]}
        # A page of 40 around the district's busiest grid.
        params = {"limit": 40, "offset": max(0, sorted(by_code).index(grid) - 20)}
        paged = client.get("/ogc/collections/grid/items", params=params).json()
        filtered = client.get("/ogc/collections/grid/items",
                              params={**params, "filter": "reported >= 0 OR reported IS NULL"}).json()
        assert paged["numberMatched"] == filtered["numberMatched"] == len(by_code)
        for page in (paged, filtered):
            assert len(page["features"]) == 40
            for feature in page["features"]:
                got, want = feature["properties"], by_code[feature["id"]]
                # Hours are floats summed in the order the rows are read: equal but for the last bits.
                floats = {name for name, value in want.items() if isinstance(value, float)}
                assert {n: v for n, v in got.items() if n not in floats} == {
                    n: v for n, v in want.items() if n not in floats}
                assert [got[n] for n in sorted(floats)] == pytest.approx([want[n] for n in sorted(floats)], rel=1e-12)
        shown = [f["properties"]["reported"] for f in paged["features"]]
        assert any(shown)
    assert None in shown  # the viewer's page has suppressed counts, as /stats has


def test_a_district_viewer_sees_its_district_only_and_no_cases(api):
    district = busiest(api.db_url, "district")
    viewer = api.client(Role.VIEWER, district)
    url = f"OAPIF:{api.base_url}/ogc"
    listed = gdal("ogrinfo", "-ro", "-q", url, key=key_of(viewer))
    assert listed.returncode == 0, listed.stderr
    assert "cases" not in re.findall(r"^\d+: (\S+)", listed.stdout, re.MULTILINE)
    grids = gdal("ogrinfo", "-ro", "-so", url, "grid", "-oo", "PAGE_SIZE=1000", key=key_of(viewer))
    assert feature_count(grids.stdout, "grid") == scalar(api.db_url, GRIDS_UNDER, district, "grid")
    districts = viewer.get("/ogc/collections/district/items").json()
    assert [f["id"] for f in districts["features"]] == [district]
    assert viewer.get("/ogc/collections/city/items").json()["numberMatched"] == 0
    assert viewer.get("/ogc/collections/cases/items").status_code == 403
    # Grid counts from 1 to k-1 are null for a viewer, and a filter cannot find them.
    rows = viewer.get("/ogc/collections/grid/items", params={"limit": 10_000}).json()["features"]
    reported = [f["properties"]["reported"] for f in rows]
    assert None in reported and not any(r is not None and 0 < r < 5 for r in reported)
    probe = viewer.get("/ogc/collections/grid/items", params={"filter": "reported < 5 AND reported > 0"})
    assert probe.json()["numberMatched"] == 0


def test_cql2_filters_return_the_right_subset(api):
    analyst = api.client(Role.ANALYST)
    db = api.db_url

    total = scalar(db, "SELECT count(*) FROM cases")

    def matched(collection: str, text: str) -> int:
        answer = analyst.get(f"/ogc/collections/{collection}/items", params={"filter": text, "limit": 1})
        assert answer.status_code == 200, answer.text
        return answer.json()["numberMatched"]

    for text, where in [
        ("category = 'labour' AND status <> 'resolved'", "category = 'labour' AND status <> 'resolved'"),
        ("category IN ('labour', 'traffic') OR NOT status = 'resolved'",
         "category IN ('labour', 'traffic') OR NOT status = 'resolved'"),
        ("report_day >= DATE('2025-03-01') AND source_record_id LIKE '%7'",
         "report_day >= '2025-03-01' AND source_record_id LIKE '%%7'"),
        ("report_day BETWEEN '2025-01-01' AND '2025-01-31' AND closed_at IS NULL",
         "report_day BETWEEN '2025-01-01' AND '2025-01-31' AND closed_at IS NULL"),
        ("reported_at < TIMESTAMP('2025-02-01T00:00:00Z') AND category NOT IN ('labour')",
         "reported_at < '2025-02-01T00:00:00Z' AND category NOT IN ('labour')"),
    ]:
        expected = scalar(db, sql.SQL("SELECT count(*) FROM cases WHERE {}").format(sql.SQL(where)))
        assert 0 < expected < total, where  # a subset, neither nothing nor everything
        assert matched("cases", text) == expected, text
    west, south, east, north = scalar_box(db)
    in_box = ("SELECT count(*) FROM cases WHERE ST_Intersects(ST_SetSRID(ST_MakePoint(round(ST_X(geom)::numeric,"
              " 5)::float8, round(ST_Y(geom)::numeric, 5)::float8), 4326), ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
    expected = scalar(db, in_box, west, south, east, north)
    assert 0 < expected < scalar(db, "SELECT count(*) FROM cases")
    assert matched("cases", f"S_INTERSECTS(geometry, BBOX({west}, {south}, {east}, {north}))") == expected
    polygon = f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"
    assert matched("cases", f"S_INTERSECTS(geometry, {polygon})") == expected
    bbox = analyst.get("/ogc/collections/cases/items", params={"bbox": f"{west},{south},{east},{north}"})
    assert bbox.json()["numberMatched"] == expected
    # On an area level: the figures are properties, filtered as shown.
    busy = analyst.get("/ogc/collections/street/items", params={"filter": "reported >= 500", "limit": 1000}).json()
    assert busy["numberMatched"] == len(busy["features"]) == scalar(
        db, "SELECT count(*) FROM (SELECT street_code FROM cases GROUP BY 1 HAVING count(*) >= 500) s")


def scalar_box(db_url: str) -> tuple[float, float, float, float]:
    """A box around the middle of the cases, about a quarter of them."""
    with psycopg.connect(db_url) as conn:
        x0, y0, x1, y1 = conn.execute(
            "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY ST_X(geom)),"
            " percentile_cont(0.25) WITHIN GROUP (ORDER BY ST_Y(geom)),"
            " percentile_cont(0.75) WITHIN GROUP (ORDER BY ST_X(geom)),"
            " percentile_cont(0.75) WITHIN GROUP (ORDER BY ST_Y(geom)) FROM cases").fetchone()
    return round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4)


@pytest.mark.parametrize(("text", "says"), [
    ("kind = ", "ends too early"),
    ("colour = 'red'", "unknown property 'colour'"),
    ("kind = 5", "the property is a string"),
    ("severity > 'high'", "the property is a integer"),
    ("(" * 100 + "kind = 'x'" + ")" * 100, "nests deeper than 64"),
    ("S_INTERSECTS(geometry, POLYGON((1 2, 3)))", "not a valid POLYGON"),
    ("kind = 'dispute' AND AND", "expected a property name"),
    ("report_day > DATE('yesterday')", "not an ISO 8601 date"),
])
def test_a_bad_filter_answers_400_saying_why(api, text, says):
    answer = api.client(Role.ANALYST).get("/ogc/collections/cases/items", params={"filter": text})
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == "filter" and says in answer.json()["detail"]


def test_landing_conformance_queryables_paging_and_one_feature(api):
    admin = api.client(Role.ADMIN)
    landing = admin.get("/ogc").json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "service-desc", "conformance", "data"}
    conforms = admin.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conforms
    definition = admin.get("/ogc/api")
    assert definition.json()["openapi"] == "3.0.3" and "/collections/{collectionId}/items" in definition.json()["paths"]
    queryables = admin.get("/ogc/collections/cases/queryables")
    assert queryables.headers["content-type"] == "application/schema+json"
    assert queryables.json()["properties"]["case_id"]["type"] == "integer"
    assert "address" not in queryables.json()["properties"]

    first = admin.get("/ogc/collections/cases/items", params={"limit": 7})
    assert first.headers["content-type"] == "application/geo+json"
    page = first.json()
    total = scalar(api.db_url, "SELECT count(*) FROM cases")
    assert (page["numberMatched"], page["numberReturned"], len(page["features"])) == (total, 7, 7)
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert "prev" not in links
    second = admin.get(links["next"]).json()
    assert {link["rel"] for link in second["links"]} >= {"next", "prev"}
    assert second["features"][0]["id"] > page["features"][-1]["id"]
    last = admin.get("/ogc/collections/cases/items", params={"limit": 7, "offset": total - 3}).json()
    assert last["numberReturned"] == 3 and "next" not in {link["rel"] for link in last["links"]}

    one = admin.get(f"/ogc/collections/cases/items/{page['features'][0]['id']}")
    assert one.status_code == 200 and one.json()["properties"] == page["features"][0]["properties"]
    assert admin.get("/ogc/collections/cases/items/999999999").status_code == 404
    assert admin.get("/ogc/collections/nothing/items").status_code == 404
    assert admin.get("/ogc/collections/cases/items", params={"limit": 10_001}).status_code == 400
    assert admin.get("/ogc/collections/cases/items", params={"colour": "red"}).status_code == 400
    assert admin.get("/ogc/collections/cases/items", params={"bbox": "1,2,3"}).status_code == 400


def test_datetime_selects_days_of_cases_and_the_period_of_area_figures(api):
    admin = api.client(Role.ADMIN)
    june = {"datetime": "2025-06-01/2025-06-30"}
    cases = admin.get("/ogc/collections/cases/items", params={**june, "limit": 1}).json()
    assert cases["numberMatched"] == scalar(
        api.db_url, "SELECT count(*) FROM cases WHERE report_day BETWEEN '2025-06-01' AND '2025-06-30'")
    stats = admin.get("/stats", params={"level": "district", "from": "2025-06-01", "to": "2025-06-30"}).json()
    features = admin.get("/ogc/collections/district/items", params=june).json()["features"]
    assert {f["id"]: f["properties"]["reported"] for f in features} == {
        row["code"]: row["reported"] for row in stats["areas"]}
    assert admin.get("/ogc/collections/cases/items", params={"datetime": "2025-07-01/2025-06-01"}).status_code == 400


def test_tiles_of_a_level_match_the_existing_vector_tiles(api):
    admin = api.client(Role.ADMIN)
    tileset = admin.get("/ogc/collections/community/tiles/WebMercatorQuad").json()
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    assert template.endswith("/{tileMatrix}/{tileRow}/{tileCol}")
    assert admin.get("/ogc/tileMatrixSets/WebMercatorQuad").json()["tileMatrices"][12]["matrixWidth"] == 4096
    with psycopg.connect(api.db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) AS c"
                                " FROM cases) p").fetchone()
    z = 12
    x, y = tile_of(lon, lat, z)
    ogc = admin.get(f"/ogc/collections/community/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert ogc.status_code == 200 and ogc.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    mine = read_mvt(ogc.content, z, x, y)
    theirs = read_mvt(admin.get(f"/tiles/areas/{z}/{x}/{y}.mvt").content, z, x, y)  # z12: communities too
    assert mine and sorted(f["properties"]["code"] for f in mine) == sorted(
        f["properties"]["code"] for f in theirs)
    assert admin.get("/ogc/collections/warnings/tiles").status_code == 404
    assert admin.get(f"/ogc/collections/community/tiles/WebMercatorQuad/{z}/{y}/{2 ** z}").status_code == 400


def test_gdal_reads_a_cql2_subset_through_the_driver(api, tmp_path):
    """GDAL hands `-where` to the server, as a filter or as a parameter the API definition declares."""
    admin = api.client(Role.ADMIN)
    out = Path(tmp_path) / "labour.gpkg"
    exported = gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{api.base_url}/ogc", "cases",
                    "-where", "category = 'labour'", "-oo", "PAGE_SIZE=1000", key=key_of(admin))
    assert exported.returncode == 0, exported.stderr
    read = gdal("ogrinfo", "-ro", "-so", str(out), "cases", key=None)
    expected = scalar(api.db_url, "SELECT count(*) FROM cases WHERE category = 'labour'")
    assert feature_count(read.stdout, "cases") == expected > 0
    # The server did the filtering: GDAL sent it in the query (the audit log has its requests).
    deadline = time.monotonic() + 5
    while not (sent := scalar(api.db_url, "SELECT count(*) FROM audit_log WHERE path = '/ogc/collections/cases/items'"
                                          " AND query LIKE '%%labour%%'")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sent


def test_warnings_and_hotspots_keep_scope_and_suppression(api):
    """Alerts and hotspots written as a warning run writes them (their areas listed in alert_areas)."""
    district = busiest(api.db_url, "district")
    grid = busiest(api.db_url, "grid", within=("district", district))
    with psycopg.connect(api.db_url) as conn:
        lineage = conn.execute("SELECT grid_code, community_code, street_code, district_code, city_code"
                               " FROM cases WHERE grid_code = %s LIMIT 1", (grid,)).fetchone()
        other, other_grid = conn.execute("SELECT district_code, grid_code FROM cases WHERE district_code <> %s"
                                         " AND grid_code IS NOT NULL LIMIT 1", (district,)).fetchone()

        def alert(code: str, level: str, signal: str, observed: float, details: str, areas: list[str]) -> int:
            alert_id = conn.execute(
                "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
                " observed, expected, score, details) VALUES (%s, %s, %s, 'test', 'red', 'new', '2025-06-01',"
                " '2025-06-03', %s, 1, 2.5, %s) RETURNING alert_id", (code, level, signal, observed, details)
            ).fetchone()[0]
            for depth, area in enumerate(areas):
                conn.execute("INSERT INTO alert_areas VALUES (%s, %s, %s)", (area, alert_id, depth))
            return alert_id

        small = alert(grid, "grid", "category:labour", 3, "{}", list(lineage))
        escalation = alert(grid, "grid", "escalation:repeat_place", 9, '{"places": ["x"]}', list(lineage))
        elsewhere = alert(other, "district", "kind:complaint", 40, "{}", [other, CITY])
        conn.execute("INSERT INTO hotspots VALUES ('2025-06-10', 'category:labour', %s, 3.1, 0.001, 0.01, 3, 1),"
                     " ('2025-06-10', 'category:labour', %s, 2.9, 0.002, 0.02, 20, 6)", (grid, other_grid))
    viewer, admin = api.client(Role.VIEWER, district), api.client(Role.ADMIN)

    seen = viewer.get("/ogc/collections/warnings/items").json()
    by_id = {f["id"]: f["properties"] for f in seen["features"]}
    assert sorted(by_id) == sorted([small, escalation]) and seen["numberMatched"] == 2
    assert by_id[small]["observed"] is None and by_id[escalation]["details"] == {}
    assert by_id[small]["area_level"] == "grid"
    assert viewer.get("/ogc/collections/warnings/items", params={"filter": "observed = 3"}).json()["numberMatched"] == 0
    assert viewer.get(f"/ogc/collections/warnings/items/{elsewhere}").status_code == 404
    everything = admin.get("/ogc/collections/warnings/items", params={"filter": "observed = 3"}).json()
    assert [f["id"] for f in everything["features"]] == [small]
    listed = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{api.base_url}/ogc", "warnings", key=key_of(viewer))
    assert feature_count(listed.stdout, "warnings") == 2

    hot = viewer.get("/ogc/collections/hotspots/items", params={"datetime": "2025-06-10"}).json()["features"]
    assert [(f["properties"]["grid_code"], f["properties"]["observed"]) for f in hot] == [(grid, None)]
    assert admin.get("/ogc/collections/hotspots/items", params={"datetime": "2025-06-10"}).json()["numberMatched"] == 2
    assert admin.get("/ogc/collections/hotspots/items", params={"datetime": "2025-06-11/.."}).json()["numberMatched"] == 0
    assert admin.get("/ogc/collections/hotspots/items", params={"kind": "complaint"}).status_code == 400
