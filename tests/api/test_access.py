"""Access control: keys, roles, scope confinement on every endpoint, suppression, audit."""

from __future__ import annotations

import csv
import io
import time

import psycopg
import pytest
from typer.testing import CliRunner

from api.keys import Role, revoke_key
from api.settings import ApiSettings
from core.errors import ConfigError
from core.settings import GridHubSettings
from tests.api.conftest import serve
from tests.api.helpers import busiest, read_mvt, tile_of


def _two_districts(db_url: str) -> tuple[str, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT district_code FROM cases WHERE district_code IS NOT NULL"
                            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 2").fetchall()
    return rows[0][0], rows[1][0]


def _subtree(db_url: str, code: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute(
            "WITH RECURSIVE t AS (SELECT code FROM areas WHERE code = %s AND valid_to IS NULL"
            " UNION SELECT a.code FROM areas a JOIN t ON a.parent_code = t.code WHERE a.valid_to IS NULL)"
            " SELECT code FROM t", (code,))}


def test_a_key_is_required_and_a_revoked_key_stops_working(api_settings):
    with serve(api_settings, ApiSettings(key_cache_seconds=0)) as server:
        from tests.api.conftest import Api

        live = Api(server.base_url, api_settings.database_url, api_settings.city_code, [])
        assert live.client(role=None).get("/areas").status_code == 401
        bogus = live.client(role=None)
        bogus.headers["Authorization"] = "Bearer ghk_not-a-key"
        assert bogus.get("/areas").status_code == 401
        analyst = live.client(Role.ANALYST)
        assert analyst.get("/areas").status_code == 200
        with psycopg.connect(api_settings.database_url) as conn:
            key_id = conn.execute("SELECT max(key_id) FROM api_keys").fetchone()[0]
            revoke_key(conn, key_id)
        assert analyst.get("/areas").status_code == 401
        via_header = live.client(role=None)
        via_header.headers["X-API-Key"] = live.client(Role.VIEWER).headers["Authorization"][7:]
        assert via_header.get("/areas").status_code == 200
        for c in live.clients:
            c.close()


def test_viewers_see_aggregates_but_no_cases(api):
    viewer = api.client(Role.VIEWER)
    district = busiest(api.db_url, "district")
    assert viewer.get(f"/areas/{district}/summary").status_code == 200
    assert viewer.get("/stats").status_code == 200
    assert viewer.get("/cases").status_code == 403
    assert viewer.get("/tiles/cases/14/13705/6783.mvt").status_code == 403
    assert api.client(Role.ANALYST).get("/cases", params={"limit": 1}).status_code == 200


def test_a_district_key_gets_nothing_of_another_district(api):
    mine, other = _two_districts(api.db_url)
    client = api.client(Role.ANALYST, scope=mine)
    allowed = _subtree(api.db_url, mine)
    foreign = _subtree(api.db_url, other)
    with psycopg.connect(api.db_url) as conn:
        other_codes = {lvl: conn.execute("SELECT min(code) FROM areas WHERE level = %s AND code = ANY(%s)",
                                         (lvl, list(foreign))).fetchone()[0]
                       for lvl in ("district", "street", "community", "grid")}
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM areas"
                                " WHERE code = %s) p", (other_codes["grid"],)).fetchone()
        w, s, e, n = conn.execute("SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM"
                                  " (SELECT geom g FROM areas WHERE code = %s) a", (other,)).fetchone()
    # Every per-area endpoint answers the other district's areas, at every level, as if they
    # did not exist: 404, never 403.
    for code in other_codes.values():
        for path in (f"/areas/{code}", f"/areas/{code}/summary", f"/areas/{code}/timeseries"):
            assert client.get(path).status_code == 404, path
        assert client.get("/stats", params={"parent": code}).status_code == 404
        assert client.get("/rankings", params={"parent": code}).status_code == 404
        assert client.get("/areas", params={"parent": code}).status_code == 404
        assert client.get("/cases", params={"area": code}).status_code == 404
    # Lists and tables without a parent hold only the key's own subtree, in every format.
    listed = {a["code"] for a in client.get("/areas").json()["areas"]}
    assert listed == allowed
    for level in ("district", "street", "community", "grid"):
        rows = client.get("/stats", params={"level": level}).json()["areas"]
        assert rows and {r["code"] for r in rows} <= allowed
        as_csv = client.get("/stats", params={"level": level, "format": "csv"}).content.decode("utf-8-sig")
        assert {r["code"] for r in csv.DictReader(io.StringIO(as_csv))} <= allowed
        geo = client.get("/stats", params={"level": level, "format": "geojson"}).json()
        assert {f["properties"]["code"] for f in geo["features"]} <= allowed
        ranked = client.get("/rankings", params={"level": level, "limit": 500}).json()["areas"]
        assert {r["code"] for r in ranked} <= allowed
    # Case rows: only the district's own, even when the box covers the other district.
    box = f"{w},{s},{e},{n}"
    for params in ({"limit": 1000}, {"bbox": box, "limit": 1000}):
        cases = client.get("/cases", params=params).json()["cases"]
        assert cases and all(c["district_code"] == mine for c in cases)
    as_csv = client.get("/cases", params={"bbox": box, "limit": 1000, "format": "csv"}).content.decode("utf-8-sig")
    assert all(r["district_code"] == mine for r in csv.DictReader(io.StringIO(as_csv)))
    # Tiles over the other district show none of its areas or cases.
    for z in (10, 12, 14, 16):
        x, y = tile_of(lon, lat, z)
        areas = read_mvt(client.get(f"/tiles/areas/{z}/{x}/{y}.mvt").content, z, x, y)
        assert {f["properties"]["code"] for f in areas} <= allowed, z
        if z >= 14:
            points = read_mvt(client.get(f"/tiles/cases/{z}/{x}/{y}.mvt").content, z, x, y)
            ids = [f["properties"]["case_id"] for f in points]
            with psycopg.connect(api.db_url) as conn:
                assert not conn.execute("SELECT count(*) FROM cases WHERE case_id = ANY(%s)"
                                        " AND district_code <> %s", (ids, mine)).fetchone()[0]
    # The admin's city-wide view of the same tile does show the other district.
    x, y = tile_of(lon, lat, 14)
    admin = read_mvt(api.client().get(f"/tiles/areas/14/{x}/{y}.mvt").content, 14, x, y)
    assert {f["properties"]["code"] for f in admin} & foreign


def test_viewers_get_no_grid_count_below_k(api):
    community = busiest(api.db_url, "community")
    params = {"level": "grid", "parent": community}
    exact = {r["code"]: r["reported"] for r in api.client(Role.ANALYST).get("/stats", params=params).json()["areas"]}
    shown = {r["code"]: r["reported"] for r in api.client(Role.VIEWER).get("/stats", params=params).json()["areas"]}
    assert any(0 < v < 5 for v in exact.values())
    for code, value in exact.items():  # others may be hidden too, lest a sum give a small one away
        assert shown[code] in ((None,) if 0 < value < 5 else (None, value))
    small = next(code for code, v in exact.items() if 0 < v < 5)
    body = api.client(Role.VIEWER).get(f"/areas/{small}/summary").json()
    assert body["total"] is None and body["suppressed_below"] == 5
    # A time series starting late: the cases still open at its start are a count like any other.
    for code in [c for c, v in exact.items() if v > 0][:20]:
        seen = {}
        for role in (Role.ANALYST, Role.VIEWER):
            series = api.client(role).get(f"/areas/{code}/timeseries",
                                          params={"from": "2026-06-01", "interval": "month"}).json()
            seen[role] = series["open_at_start"]
        assert seen[Role.VIEWER] in ((None,) if 0 < seen[Role.ANALYST] < 5 else (None, seen[Role.ANALYST]))
    # Street level is not suppressed.
    street = api.client(Role.VIEWER).get("/stats", params={"level": "street"}).json()["areas"]
    assert all(r["reported"] is not None for r in street)
    # Nor are grids in a z14 tile: the small count is left out for a viewer, kept for an analyst.
    with psycopg.connect(api.db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas"
                                " WHERE code = %s AND valid_to IS NULL) g", (small,)).fetchone()
    x, y = tile_of(lon, lat, 14)
    tiles = {role: {f["properties"]["code"]: f["properties"] for f in read_mvt(
        api.client(role).get(f"/tiles/areas/14/{x}/{y}.mvt").content, 14, x, y)}
        for role in (Role.VIEWER, Role.ANALYST)}
    assert tiles[Role.ANALYST][small]["reported"] == exact[small]
    assert tiles[Role.VIEWER][small].get("reported") is None
    for code, props in tiles[Role.VIEWER].items():
        if code in exact and exact[code] >= 5:
            assert props["reported"] == exact[code]


def test_every_request_is_audited(api):
    analyst = api.client(Role.ANALYST)
    district = busiest(api.db_url, "district")
    analyst.get(f"/areas/{district}/summary", params={"from": "2025-06-01"})
    analyst.get("/cases", params={"limit": 2})
    api.client(role=None).get("/stats")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(api.db_url) as conn:
            rows = conn.execute("SELECT key_id, role, path, query, status, area_code FROM audit_log"
                                " ORDER BY audit_id").fetchall()
        if len(rows) >= 3:
            break
        time.sleep(0.1)
    with psycopg.connect(api.db_url) as conn:
        key_id = conn.execute("SELECT max(key_id) FROM api_keys WHERE role = 'analyst'").fetchone()[0]
    assert (key_id, "analyst", f"/areas/{district}/summary", "from=2025-06-01", 200, district) in rows
    assert (key_id, "analyst", "/cases", "limit=2", 200, None) in rows
    assert (None, None, "/stats", None, 401, None) in rows


def test_development_mode_without_keys_only_in_development(api_settings):
    off = ApiSettings(auth="off")
    with serve(api_settings, off) as server:
        import httpx

        assert httpx.get(server.base_url + "/areas", timeout=30).status_code == 200
    production = GridHubSettings(env="production", hash_key="a-real-secret",
                                 database_url=api_settings.database_url)
    from api.main import create_app

    with pytest.raises(ConfigError, match="GRIDHUB_API_AUTH=off"):
        create_app(production, off)


def test_keys_cli_prints_the_key_once_and_stores_only_its_hash(hotline_db, monkeypatch):
    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", hotline_db)
    district = busiest(hotline_db, "district")
    result = CliRunner().invoke(app, ["keys", "create", "--role", "analyst", "--scope", district,
                                      "--name", "desk"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("ghk_") and len(key) > 40
    with psycopg.connect(hotline_db) as conn:
        stored = conn.execute("SELECT api_keys::text FROM api_keys").fetchall()
    assert stored and not any(key in row[0] for row in stored)
    assert CliRunner().invoke(app, ["keys", "create", "--role", "viewer", "--scope", "339999000000"]).exit_code == 1
    listed = CliRunner().invoke(app, ["keys", "list"])
    assert "desk" in listed.output and key not in listed.output
