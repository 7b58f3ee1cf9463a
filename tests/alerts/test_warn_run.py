"""`gridhub warn run` on the demo city, the alert lifecycle, and the warnings API over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import psycopg
import pytest

from alerts.evaluation import read_outbreaks
from alerts.run import run_warnings
from api.keys import Role, create_key
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow  # every demo feed ingested, then warning runs


def _outbreak(demo_dir, pattern: str):
    return next(o for o in read_outbreaks(demo_dir / "demo" / "truth" / "outbreaks.json")
                if o.pattern == pattern)


def _alerts(url: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM alerts ORDER BY alert_id")
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def api(warn_settings):
    """A live server on the test's database, and a client factory per role and scope."""
    from api.main import create_app

    city = warn_settings.city_code
    with LiveServer(create_app(warn_settings)) as server:
        clients: list[httpx.Client] = []

        def client(role: Role = Role.ANALYST, scope: str = city) -> httpx.Client:
            with psycopg.connect(warn_settings.database_url) as conn:
                key = create_key(conn, role, scope).key
            made = httpx.Client(base_url=server.base_url, timeout=30,
                                headers={"Authorization": f"Bearer {key}"})
            clients.append(made)
            return made

        yield client
        for made in clients:
            made.close()


def test_run_raises_an_alert_where_an_outbreak_starts_and_rerun_changes_nothing(all_feeds_db, demo_dir):
    surge = _outbreak(demo_dir, "property_surge")
    day = surge.start_day + timedelta(days=3)
    first = run_warnings(all_feeds_db, day)
    assert first.as_of == day and first.opened > 0
    alerts = _alerts(all_feeds_db)
    here = [a for a in alerts if a["signal"] == "group:property" and a["status"] in ("new", "ongoing")
            and (a["area_code"] in surge.area_codes or a["area_code"][:12] in surge.area_codes)]
    assert here, "no open property alert in the surging community or its grids"
    alert = here[0]
    assert alert["first_day"] >= surge.start_day and alert["observed"] > alert["expected"]
    assert alert["severity"] in ("red", "yellow") and alert["p_value"] < 0.01

    again = run_warnings(all_feeds_db, day)
    assert (again.opened, again.updated, again.closed) == (0, 0, 0)
    assert _alerts(all_feeds_db) == alerts
    with psycopg.connect(all_feeds_db) as conn:
        runs = conn.execute("SELECT count(*), count(DISTINCT as_of) FROM warning_runs").fetchone()
        # Every alert is listed under its own area and each enclosing one, once.
        links = conn.execute(
            "SELECT count(*), count(DISTINCT (alert_id, area_code)) FROM alert_areas").fetchone()
        levels = dict(conn.execute(
            "SELECT a.level, min(x.n) FROM alerts a JOIN (SELECT alert_id, count(*) AS n"
            " FROM alert_areas GROUP BY 1) x USING (alert_id) GROUP BY 1").fetchall())
    assert runs == (2, 1)
    assert links[0] == links[1]
    depth = {"city": 1, "district": 2, "street": 3, "community": 4, "grid": 5}
    assert all(n == depth[level] for level, n in levels.items())


def test_lifecycle_new_ongoing_acknowledged_resolved_and_expired(all_feeds_db, demo_dir, api):
    surge = _outbreak(demo_dir, "property_surge")
    start = surge.start_day + timedelta(days=2)
    run_warnings(all_feeds_db, start)
    run_warnings(all_feeds_db, start + timedelta(days=1))
    alerts = _alerts(all_feeds_db)
    statuses = {a["status"] for a in alerts}
    assert statuses <= {"new", "ongoing", "expired"} and "expired" not in {
        a["status"] for a in alerts if a["last_day"] >= start}
    target = next(a for a in alerts if a["signal"] == "group:property" and a["status"] in ("new", "ongoing")
                  and (a["area_code"] in surge.area_codes or a["area_code"][:12] in surge.area_codes))
    other = next((a for a in alerts if a["status"] in ("new", "ongoing")
                  and a["alert_id"] != target["alert_id"]), None)

    viewer = api(Role.VIEWER)
    assert viewer.post(f"/warnings/{target['alert_id']}/ack").status_code == 403
    analyst = api(Role.ANALYST)
    acked = analyst.post(f"/warnings/{target['alert_id']}/ack", json={"by": "grid worker 7"})
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "grid worker 7"
    assert analyst.post(f"/warnings/{target['alert_id']}/ack").json()["status"] == "acknowledged"
    assert analyst.post("/warnings/999999999/ack").status_code == 404

    # A month later nothing of this episode alarms any more: acknowledged -> resolved,
    # never acknowledged -> expired, each closed on the run's day.
    later = start + timedelta(days=40)
    run_warnings(all_feeds_db, later)
    by_id = {a["alert_id"]: a for a in _alerts(all_feeds_db)}
    assert by_id[target["alert_id"]]["status"] == "resolved"
    assert by_id[target["alert_id"]]["closed_day"] == later
    if other is not None:
        assert by_id[other["alert_id"]]["status"] == "expired"
        late = analyst.post(f"/warnings/{other['alert_id']}/ack")
        assert late.status_code == 409 and "expired" in late.text


def test_warnings_endpoint_lists_grid_alerts_under_their_parents_once(all_feeds_db, demo_dir, api):
    cluster = _outbreak(demo_dir, "wage_arrears_cluster")
    run_warnings(all_feeds_db, cluster.start_day + timedelta(days=5))
    with psycopg.connect(all_feeds_db) as conn:
        grid_alert = conn.execute(
            "SELECT alert_id, area_code FROM alerts WHERE level = 'grid' ORDER BY score DESC LIMIT 1").fetchone()
        assert grid_alert is not None
        lineage = conn.execute(
            "SELECT area_code FROM alert_areas WHERE alert_id = %s ORDER BY depth", (grid_alert[0],)).fetchall()
        district = lineage[3][0]
        in_district = conn.execute(
            "SELECT count(*) FROM alert_areas WHERE area_code = %s", (district,)).fetchone()[0]
    admin = api(Role.ADMIN)
    listed = admin.get("/warnings", params={"area": district, "limit": 1000})
    assert listed.status_code == 200, listed.text
    ids = [w["alert_id"] for w in listed.json()["warnings"]]
    assert grid_alert[0] in ids and len(ids) == len(set(ids)) == in_district
    assert listed.json()["area"]["level"] == "district"
    # Filters: level (red/yellow), status, since, signal, area level.
    one = admin.get("/warnings", params={"area": district, "area_level": "grid", "status": ["new", "ongoing"]})
    assert all(w["area_level"] == "grid" and w["status"] in ("new", "ongoing") for w in one.json()["warnings"])
    red = admin.get("/warnings", params={"level": "red"}).json()["warnings"]
    assert all(w["level"] == "red" for w in red)
    future = (cluster.start_day + timedelta(days=400)).isoformat()
    assert admin.get("/warnings", params={"since": future}).json()["warnings"] == []
    # A key confined to another district neither sees nor acknowledges the alert.
    elsewhere = next(code for code in ("339902000000", "339903000000", "339904000000") if code != district)
    outsider = api(Role.ANALYST, elsewhere)
    assert outsider.get("/warnings", params={"area": district}).status_code == 404
    refused = outsider.post(f"/warnings/{grid_alert[0]}/ack")
    assert refused.status_code == 404 and refused.json()["detail"] == f"no alert {grid_alert[0]}"
    assert all(w["alert_id"] != grid_alert[0] for w in outsider.get("/warnings").json()["warnings"])
    assert admin.get("/warnings", params={"level": "orange"}).status_code == 422
    # Viewers get no small grid counts (k = 5, as everywhere in the API).
    grids = {"area": district, "area_level": "grid", "limit": 1000}
    full = {w["alert_id"]: w for w in admin.get("/warnings", params=grids).json()["warnings"]}
    seen = api(Role.VIEWER).get("/warnings", params=grids).json()["warnings"]
    assert seen and {w["alert_id"] for w in seen} == set(full)
    for w in seen:
        small = full[w["alert_id"]]["observed"] < 5
        assert (w["observed"] is None) is small and (w["expected"] is None) is small
    assert httpx.get(f"{admin.base_url}/warnings").status_code == 401


def test_hotspots_and_escalations(all_feeds_db, demo_dir, api):
    day = _outbreak(demo_dir, "wage_arrears_cluster").start_day + timedelta(days=3)
    # Four labour disputes at one address within a week: a place that keeps coming back.
    with psycopg.connect(all_feeds_db) as conn:
        grid, = conn.execute("SELECT grid_code FROM cases WHERE geom IS NOT NULL AND grid_code IS NOT NULL"
                             " ORDER BY case_id LIMIT 1").fetchone()
        conn.execute("""
            INSERT INTO cases (source, source_record_id, record_hash, run_id, kind, category, status,
                               reported_at, report_day, geom, grid_code, community_code, street_code,
                               district_code, city_code, geocode_method, geocode_precision)
            SELECT 'test', 'repeat-' || n, md5(n::text), 0, 'dispute', 'labour', 'reported',
                   (%(day)s::date - n)::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '10 hours',
                   %(day)s::date - n, c.geom, c.grid_code, c.community_code, c.street_code,
                   c.district_code, c.city_code, 'coordinates', 'grid'
            FROM (SELECT * FROM cases WHERE grid_code = %(grid)s AND geom IS NOT NULL LIMIT 1) c,
                 generate_series(0, 3) AS n
            """, {"day": day, "grid": grid})
    result = run_warnings(all_feeds_db, day)
    assert result.escalations >= 1
    with psycopg.connect(all_feeds_db) as conn:
        found = conn.execute("SELECT area_code, observed, details FROM alerts"
                             " WHERE signal = 'escalation:repeat_place'").fetchall()
        stored = conn.execute("SELECT count(*), max(q_value) FROM hotspots WHERE day = %s", (day,)).fetchone()
    assert any(area == grid and observed >= 4 for area, observed, _ in found)
    details = next(d for area, _, d in found if area == grid)
    assert details["findings"][0]["category"] == "labour"
    assert stored[0] == result.hotspots and (stored[1] is None or stored[1] <= 0.01)

    admin = api(Role.ADMIN)
    geo = admin.get("/hotspots", params={"day": day.isoformat()})
    assert geo.status_code == 200 and geo.headers["content-type"].startswith("application/geo+json")
    collection = geo.json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == result.hotspots
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert feature["properties"]["z_score"] > 0 and feature["properties"]["q_value"] <= 0.01
    plain = admin.get("/hotspots", params={"day": day.isoformat(), "format": "json"}).json()
    assert plain["day"] == day.isoformat() and len(plain["hotspots"]) == result.hotspots
    assert json.dumps(plain)  # plain JSON, no geometry
    assert admin.get("/hotspots", params={"day": (day - timedelta(days=1)).isoformat(),
                                          "format": "json"}).json()["hotspots"] == []


def test_warn_run_refuses_an_empty_database(empty_db):
    from core.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no rollup rows on or before 2025-01-01"):
        run_warnings(empty_db, date(2025, 1, 1))
    with pytest.raises(NotFoundError, match="rollup_daily is empty"):
        run_warnings(empty_db)


def test_a_warning_run_moves_the_generation_that_api_caches_follow(all_feeds_db, demo_dir):
    """Summaries carry open warnings, so a warning run must invalidate cached answers."""
    def generation() -> int:
        with psycopg.connect(all_feeds_db) as conn:
            return conn.execute("SELECT last_value FROM rollup_generation").fetchone()[0]

    surge = _outbreak(demo_dir, "property_surge")
    before = generation()
    run_warnings(all_feeds_db, surge.start_day + timedelta(days=3))
    assert generation() > before
