"""Every endpoint over real HTTP and PostGIS; every aggregate equals a recount from cases."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta

import psycopg
import pytest

from store.rollups import HOUR_EDGES
from tests.api.helpers import busiest, open_at, read_mvt, recount, tile_of

JUNE = {"from": "2025-06-01", "to": "2025-06-30"}


def _bucket(hours: float) -> tuple[float, float]:
    lo = 0.0
    for edge in HOUR_EDGES:
        if hours < edge:
            return lo, float(edge)
        lo = float(edge)
    return lo, float("inf")


@pytest.mark.parametrize("params", [
    {},
    JUNE,
    {"from": "2025-06-03", "to": "2025-08-10", "category": "neighbourhood"},
])
def test_summary_equals_a_recount(api, params):
    street = busiest(api.db_url, "street")
    body = api.client().get(f"/areas/{street}/summary", params=params).json()
    start = date.fromisoformat(params["from"]) if params else None
    end = date.fromisoformat(params["to"]) if params else None
    extra = {"category": params["category"]} if "category" in params else {}
    want = recount(api.db_url, "street", street, start, end, **extra)
    assert body["total"] == want["total"] > 0
    assert body["by_kind"] == want["by_kind"]
    assert body["by_category"] == want["by_category"]
    assert {k: v for k, v in body["by_status"].items() if v} == want["by_status"]
    assert body["resolved"] == want["resolved"]
    assert body["closed"] == want["closed"]
    assert body["mean_hours_to_close"] == pytest.approx(want["mean_hours"], rel=1e-9)
    lo, hi = _bucket(want["median_hours"])
    assert lo <= body["median_hours_to_close"] <= hi
    last_day = end or date(2030, 1, 1)
    assert body["open_at_end"] == open_at(api.db_url, "street", street, last_day, **extra)
    if start:
        prev = body["previous_period"]
        before = recount(api.db_url, "street", street, date.fromisoformat(prev["from"]),
                         date.fromisoformat(prev["to"]), **extra)
        assert body["change"]["previous"] == before["total"]
        assert body["change"]["difference"] == want["total"] - before["total"]
    else:
        assert body["change"] is None
    assert body["area"]["code"] == street and body["area"]["level"] == "street"


def test_previous_period_of_a_month_is_the_month_before(api):
    district = busiest(api.db_url, "district")
    body = api.client().get(f"/areas/{district}/summary", params={"from": "2025-03-01", "to": "2025-03-31"}).json()
    assert body["previous_period"] == {"from": "2025-02-01", "to": "2025-02-28"}
    assert body["change"]["previous"] == recount(api.db_url, "district", district, date(2025, 2, 1),
                                                 date(2025, 2, 28))["total"]


def test_summary_lists_open_warnings(api):
    district = busiest(api.db_url, "district")
    with psycopg.connect(api.db_url) as conn:
        conn.execute("INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
                     " observed, expected, score)"
                     " VALUES (%s, 'district', 'category:labour', 'test', 'red', 'new', '2025-06-01', '2025-06-03',"
                     " 12, 4, 2.5),"
                     " (%s, 'district', 'category:family', 'test', 'yellow', 'resolved', '2025-05-01', '2025-05-02',"
                     " NULL, NULL, NULL)",
                     (district, district))
    warnings = api.client().get(f"/areas/{district}/summary").json()["warnings"]
    assert [(w["signal"], w["severity"], w["status"]) for w in warnings] == [("category:labour", "red", "new")]
    # figures keep their types through the one-statement fetch: floats stay floats, days are ISO dates
    w = warnings[0]
    assert (w["observed"], w["expected"], w["score"]) == (12.0, 4.0, 2.5)
    assert all(isinstance(w[k], float) for k in ("observed", "expected", "score"))
    assert (w["first_day"], w["last_day"]) == ("2025-06-01", "2025-06-03")


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_timeseries_equals_a_recount(api, interval):
    district = busiest(api.db_url, "district")
    start, end = date(2025, 5, 1), date(2025, 7, 31)
    body = api.client().get(f"/areas/{district}/timeseries",
                            params={"interval": interval, "from": start.isoformat(), "to": end.isoformat()}).json()
    points = body["points"]
    assert sum(p["reported"] for p in points) == recount(api.db_url, "district", district, start, end)["total"]
    assert body["open_at_start"] == open_at(api.db_url, "district", district, start - timedelta(days=1))
    with psycopg.connect(api.db_url) as conn:
        closed = conn.execute(
            "SELECT count(*) FROM cases WHERE district_code = %s AND closed_at IS NOT NULL"
            " AND greatest((closed_at AT TIME ZONE 'Asia/Shanghai')::date, report_day) BETWEEN %s AND %s",
            (district, start, end)).fetchone()[0]
    assert sum(p["closed"] for p in points) == closed
    step = {"day": 1, "week": 7}.get(interval)
    for p in points[:: max(1, len(points) // 6)]:
        first = date.fromisoformat(p["start"])
        last = (first + timedelta(days=step - 1) if step
                else (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
        if first >= start and last <= end:
            assert p["reported"] == recount(api.db_url, "district", district, first, last)["total"]
            assert p["open_at_end"] == open_at(api.db_url, "district", district, last)


def test_stats_rows_equal_a_recount_in_json_csv_and_geojson(api):
    district = busiest(api.db_url, "district")
    client = api.client()
    params = {"level": "street", "parent": district, **JUNE}
    body = client.get("/stats", params=params).json()
    with psycopg.connect(api.db_url) as conn:
        streets = {r[0] for r in conn.execute(
            "SELECT code FROM areas WHERE parent_code = %s AND valid_to IS NULL", (district,))}
    assert {r["code"] for r in body["areas"]} == streets
    for row in body["areas"]:
        want = recount(api.db_url, "street", row["code"], date(2025, 6, 1), date(2025, 6, 30))
        assert (row["reported"], row["resolved"], row["closed"]) == (want["total"], want["resolved"], want["closed"])
        assert row["open_at_end"] == open_at(api.db_url, "street", row["code"], date(2025, 6, 30))
        assert row["previous_reported"] == recount(api.db_url, "street", row["code"], date(2025, 5, 1),
                                                   date(2025, 5, 31))["total"]
    as_csv = client.get("/stats", params={**params, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert {(r["code"], int(r["reported"])) for r in rows} == {(r["code"], r["reported"]) for r in body["areas"]}
    geo = client.get("/stats", params={**params, "format": "geojson", "simplify": 0.0005})
    assert geo.headers["content-type"] == "application/geo+json"
    features = geo.json()["features"]
    assert {f["properties"]["code"]: f["properties"]["reported"] for f in features} == \
        {r["code"]: r["reported"] for r in body["areas"]}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)


def test_rankings_follow_the_recount(api):
    client = api.client()
    top = client.get("/rankings", params={"level": "community", "metric": "count", "limit": 5}).json()["areas"]
    with psycopg.connect(api.db_url) as conn:
        want = conn.execute("SELECT community_code, count(*) FROM cases WHERE community_code IS NOT NULL"
                            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
    assert [(a["code"], a["value"]) for a in top] == want
    assert [a["rank"] for a in top] == [1, 2, 3, 4, 5]
    unresolved = client.get("/rankings", params={"level": "street", "metric": "unresolved", "limit": 3}).json()
    for a in unresolved["areas"]:
        assert a["value"] == open_at(api.db_url, "street", a["code"], date(2030, 1, 1))
    growth = client.get("/rankings", params={"level": "street", "metric": "growth", **JUNE}).json()["areas"]
    first = growth[0]
    assert first["value"] == (recount(api.db_url, "street", first["code"], date(2025, 6, 1), date(2025, 6, 30))["total"]
                              - recount(api.db_url, "street", first["code"], date(2025, 5, 1), date(2025, 5, 31))["total"])
    bad = client.get("/rankings", params={"level": "street", "metric": "growth"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "from"


def test_areas_list_search_geojson_and_detail(api):
    client = api.client()
    district = busiest(api.db_url, "district")
    with psycopg.connect(api.db_url) as conn:
        streets = dict(conn.execute("SELECT code, name FROM areas WHERE parent_code = %s AND valid_to IS NULL",
                                    (district,)).fetchall())
        city = conn.execute("SELECT code FROM areas WHERE level = 'city'").fetchone()[0]
    listed = client.get("/areas", params={"level": "street", "parent": district}).json()
    assert {a["code"]: a["name"] for a in listed["areas"]} == streets
    name = next(iter(streets.values()))
    found = client.get("/areas", params={"q": name[:3], "level": "street"}).json()["areas"]
    assert name in {a["name"] for a in found} and all(name[:3] in a["name"] for a in found)
    full = client.get("/areas", params={"level": "street", "parent": district, "format": "geojson"}).json()
    light = client.get("/areas", params={"level": "street", "parent": district, "format": "geojson",
                                         "simplify": 0.002}).json()
    assert len(full["features"]) == len(streets)
    assert len(str(light)) < len(str(full))
    detail = client.get(f"/areas/{district}").json()
    assert [a["code"] for a in detail["ancestors"]] == [city]
    assert {c["code"] for c in detail["children"]} == set(streets)
    assert client.get(f"/areas/{district}", params={"geometry": True}).json()["geometry"]["type"] == "MultiPolygon"
    assert client.get("/areas/339999000000").status_code == 404


def test_cases_pages_cover_every_case_once_with_personal_data_masked(api):
    client = api.client()
    street = busiest(api.db_url, "street")
    with psycopg.connect(api.db_url) as conn:
        want = {r[0] for r in conn.execute("SELECT case_id FROM cases WHERE street_code = %s", (street,))}
        addresses = conn.execute("SELECT count(*) FROM cases WHERE street_code = %s AND address ~ '[0-9]'",
                                 (street,)).fetchone()[0]
    seen, after, pages = [], None, 0
    while True:
        params = {"area": street, "limit": 50} | ({"after": after} if after is not None else {})
        page = client.get("/cases", params=params).json()
        seen += [c["case_id"] for c in page["cases"]]
        pages += 1
        for c in page["cases"]:
            assert c["street_code"] == street
            assert "person_key" not in c and "attributes" not in c
            assert not any(ch.isdigit() for ch in (c["address"] or ""))
        after = page["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == want
    assert pages > 2 and addresses > 0
    as_csv = client.get("/cases", params={"area": street, "limit": 20, "format": "csv", "status": "resolved"})
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == 20 and all(r["status"] == "resolved" for r in rows)
    assert 'rel="next"' in as_csv.headers["link"]
    geo = client.get("/cases", params={"area": street, "limit": 20, "format": "geojson"}).json()
    assert len(geo["features"]) == 20
    lon, lat = geo["features"][0]["geometry"]["coordinates"]
    box = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
    in_box = client.get("/cases", params={"bbox": box, "limit": 1000}).json()["cases"]
    with psycopg.connect(api.db_url) as conn:
        expected = conn.execute("SELECT count(*) FROM cases WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
                                (lon - 0.003, lat - 0.003, lon + 0.003, lat + 0.003)).fetchone()[0]
    assert len(in_box) == expected > 0


def test_tiles_carry_rollup_counts_with_etag_and_tilejson(api):
    client = api.client()
    grid = busiest(api.db_url, "grid")
    with psycopg.connect(api.db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM areas"
                                " WHERE code = %s) p", (grid,)).fetchone()
    x, y = tile_of(lon, lat, 14)
    r = client.get(f"/tiles/areas/14/{x}/{y}.mvt")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    features = read_mvt(r.content, 14, x, y)
    counts = {f["properties"]["code"]: f["properties"].get("reported") for f in features}
    assert grid in counts
    for code, reported in list(counts.items())[:10]:
        assert (reported or 0) == recount(api.db_url, "grid", code)["total"]
    assert all(len(code) == 15 for code in counts)  # zoom 14 draws grids
    again = client.get(f"/tiles/areas/14/{x}/{y}.mvt", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    x10, y10 = tile_of(lon, lat, 10)
    districts = read_mvt(client.get(f"/tiles/areas/10/{x10}/{y10}.mvt").content, 10, x10, y10)
    assert districts and all(f["properties"]["level"] == "district" for f in districts)
    points = read_mvt(client.get(f"/tiles/cases/14/{x}/{y}.mvt").content, 14, x, y)
    assert points and all(f["geometry"]["type"] == "Point" for f in points)
    tilejson = client.get("/tiles/areas.json").json()
    assert tilejson["tilejson"] == "3.0.0" and tilejson["tiles"][0].endswith("/tiles/areas/{z}/{x}/{y}.mvt")
    west, south, east, north = tilejson["bounds"]
    assert west < lon < east and south < lat < north


def test_health_and_metrics(api):
    anonymous = api.client(role=None)
    assert anonymous.get("/health").json()["status"] == "ok"
    ready = anonymous.get("/ready").json()
    assert ready["status"] == "ready" and ready["postgis"] and ready["generation"] > 0
    assert anonymous.get("/metrics").status_code == 401
    assert api.client("viewer").get("/metrics").status_code == 403
    admin = api.client()
    admin.get("/areas")
    metrics = admin.get("/metrics")
    assert metrics.status_code == 200
    assert 'gridhub_api_requests_total{method="GET",route="/areas",status="200"}' in metrics.text


HOSTILE = [
    ("/areas/abc/summary", {}, 422, "code"),
    ("/areas/339902000000/summary", {"from": "2025-13-01"}, 422, "from"),
    ("/areas/339902000000/summary", {"from": "2025-06-30", "to": "2025-06-01"}, 400, "from"),
    ("/areas/339902000000/summary", {"from": "0001-01-01"}, 400, "from"),
    ("/areas/339902000000/summary", {"to": "9999-12-31"}, 400, "to"),
    ("/areas/339902000000/summary", {"kind": "riot'; DROP TABLE cases;--"}, 422, "kind"),
    ("/areas/339902000000/timeseries", {"interval": "hour"}, 422, "interval"),
    ("/areas/339999999999/timeseries", {}, 404, None),
    ("/stats", {"level": "planet"}, 422, "level"),
    ("/stats", {"format": "xml"}, 422, "format"),
    ("/stats", {"parent": "1" * 5000}, 422, "parent"),
    ("/stats", {"level": "city", "parent": "339902000000"}, 404, None),
    ("/stats", {"simplify": "-1"}, 422, "simplify"),
    ("/rankings", {"metric": "loudest"}, 422, "metric"),
    ("/rankings", {"limit": "0"}, 422, "limit"),
    ("/cases", {"bbox": "1,2,3"}, 400, "bbox"),
    ("/cases", {"bbox": "10,10,5,5"}, 400, "bbox"),
    ("/cases", {"after": "-5"}, 422, "after"),
    ("/cases", {"limit": "1e9"}, 422, "limit"),
    ("/cases", {"area": "339902000000\x00"}, 422, "area"),
    ("/tiles/areas/14/99999/1.mvt", {}, 400, "x"),
    ("/tiles/areas/99/0/0.mvt", {}, 422, "z"),
    ("/tiles/roads/1/0/0.mvt", {}, 422, "layer"),
    ("/areas", {"format": "kml"}, 422, "format"),
]


def test_bad_input_is_named_and_never_a_500(api):
    client = api.client()
    wrong = []
    for path, params, status, parameter in HOSTILE:
        r = client.get(path, params=params)
        body = r.json() if r.headers.get("content-type") == "application/problem+json" else {}
        named = parameter is None or parameter in (body.get("parameters") or [body.get("parameter")])
        if r.status_code != status or not named:
            wrong.append((path, params, r.status_code, r.text[:200]))
    assert not wrong


def test_cached_answers_follow_a_rollup_refresh(api):
    from store import rollups
    from store.loading import merge_cases
    from tests.store.test_rollups import _changed_cases

    client = api.client()
    with psycopg.connect(api.db_url) as conn:
        changed = _changed_cases(conn, 60)
    district = changed["district_code"].iloc[-1]
    first = client.get(f"/areas/{district}/summary")
    again = client.get(f"/areas/{district}/summary")
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert client.get(f"/areas/{district}/summary",
                      headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    with psycopg.connect(api.db_url) as conn:
        merge_cases(conn, 997, changed)
        rollups.refresh_touched(conn)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = client.get(f"/areas/{district}/summary")
        if now.headers["etag"] != first.headers["etag"]:
            break
        time.sleep(0.05)
    assert now.json()["total"] == recount(api.db_url, "district", district)["total"] != first.json()["total"]
    assert client.get(f"/areas/{district}/summary",
                      headers={"If-None-Match": first.headers["etag"]}).status_code == 200


def test_a_request_held_up_by_a_bulk_load_gets_a_503_then_its_answer(api_settings):
    """A bulk load holds the rollup tables until it commits: a request that waits past the
    statement timeout is told to retry (503 + Retry-After), never a 500, and is answered after."""
    from api.settings import ApiSettings
    from tests.api.conftest import Api, serve

    cfg = ApiSettings(statement_timeout_ms=300, cache_entries=0, audit_flush_seconds=0.1)
    with serve(api_settings, cfg) as server:
        live = Api(server.base_url, api_settings.database_url, api_settings.city_code, [])
        client = live.client()
        district = busiest(api_settings.database_url, "district")
        with psycopg.connect(api_settings.database_url) as load:
            load.execute("LOCK TABLE rollup_daily, rollup_closed_daily, rollup_monthly"
                         " IN ACCESS EXCLUSIVE MODE")  # what a bulk load's recount holds
            held = client.get(f"/areas/{district}/summary", params=JUNE)
            load.rollback()
        assert held.status_code == 503, held.text
        assert held.headers["Retry-After"] == "30"
        assert "retry" in held.json()["detail"]
        after = client.get(f"/areas/{district}/summary", params=JUNE)
        assert after.status_code == 200, after.text
        assert after.json()["total"] > 0
        client.close()
