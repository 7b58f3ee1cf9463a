"""Disputes counted apart from records, referrals between agencies, and one dispute's timeline,
over a real server: the figures equal a recount from the tables, within the key's scope."""

from __future__ import annotations

from collections import Counter

import psycopg

from api.keys import Role
from api.main import create_app
from api.settings import ApiSettings
from core.settings import GridHubSettings
from pipeline.linking import link_cases
from tests.conftest import LiveServer
from tests.linking.test_links_api import MEDIATION_COPY, _client


def _recount(url: str, district: str) -> tuple[int, int, Counter]:
    """Records, disputes and referrals (agency before -> agency after) of a district's cases."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.case_id, c.source, c.district_code, coalesce(g.group_id, c.case_id) AS dispute, c.reported_at"
            " FROM cases c LEFT JOIN case_groups g USING (case_id) ORDER BY c.reported_at, c.case_id").fetchall()
    before: dict[int, str] = {}
    referrals: Counter = Counter()
    mine = [r for r in rows if r[2] == district]
    came_from = {}
    for case_id, source, _, dispute, _ in rows:
        came_from[case_id] = before.get(dispute)
        before[dispute] = source
    for case_id, source, *_ in mine:
        if came_from[case_id] not in (None, source):
            referrals[(came_from[case_id], source)] += 1
    return len(mine), len({r[3] for r in mine}), referrals


def test_disputes_are_counted_once_with_referrals_and_a_timeline(hotline_db, demo_dir) -> None:
    cfg = GridHubSettings(data_dir=demo_dir, database_url=hotline_db)
    with psycopg.connect(hotline_db) as conn:
        conn.execute(MEDIATION_COPY)
        # The mediation committee settles the first copy ten days after taking it.
        copy, original, district, hotline = conn.execute(
            "UPDATE cases c SET status = 'resolved', outcome = 'settled', closed_at = c.reported_at + interval '10 days'"
            " FROM cases o WHERE c.source_record_id = 'link-test-' || o.case_id"
            " AND c.case_id = (SELECT min(case_id) FROM cases WHERE source = 'people_mediation')"
            " RETURNING c.case_id, o.case_id, c.district_code, o.source").fetchone()
        other = conn.execute("SELECT code FROM areas WHERE level = 'district' AND code <> %s LIMIT 1",
                             (district,)).fetchone()[0]
        grid = conn.execute("SELECT grid_code FROM cases WHERE case_id = %s", (copy,)).fetchone()[0]
    link_cases(hotline_db)
    records, disputes, referrals = _recount(hotline_db, district)
    assert disputes < records and referrals[(hotline, "people_mediation")] >= 1
    with LiveServer(create_app(cfg, ApiSettings(audit_flush_seconds=0.1))) as server:
        analyst = _client(server.base_url, hotline_db, Role.ANALYST, cfg.city_code)
        viewer = _client(server.base_url, hotline_db, Role.VIEWER, cfg.city_code)
        elsewhere = _client(server.base_url, hotline_db, Role.ANALYST, other)
        with analyst, viewer, elsewhere:
            found = analyst.get(f"/areas/{district}/disputes")
            assert found.status_code == 200, found.text
            body = found.json()
            assert (body["records"], body["disputes"]) == (records, disputes)
            assert body["unlinked"] == 0
            assert sum(s["records"] for s in body["by_source"]) == records
            assert sum(s["first_reports"] for s in body["by_source"]) == disputes
            assert Counter({(r["from_source"], r["to_source"]): r["count"] for r in body["referrals"]}) == referrals

            timeline = analyst.get(f"/cases/{copy}/timeline")
            assert timeline.status_code == 200, timeline.text
            t = timeline.json()
            assert t["first_report"]["case_id"] == original and t["first_report"]["source"] == hotline
            assert t["agencies"][:1] == [hotline] and "people_mediation" in t["agencies"]
            assert t["referrals"] >= 1
            assert t["settled_by"]["source"] == "people_mediation" and t["settled_by"]["case_id"] == copy
            assert [e["at"] for e in t["events"]] == sorted(e["at"] for e in t["events"])
            referral = next(e for e in t["events"] if e["case_id"] == copy and e["event"] == "referral")
            assert referral["from_source"] == hotline

            # A grid's handful of records is withheld from a viewer, with nothing to subtract.
            small = viewer.get(f"/areas/{grid}/disputes").json()
            assert small["records"] is None and small["disputes"] is None and small["suppressed_below"] == 5
            assert viewer.get(f"/cases/{copy}/timeline").status_code == 403
            assert elsewhere.get(f"/cases/{copy}/timeline").status_code == 404
            assert analyst.get("/cases/999999999/timeline").status_code == 404
