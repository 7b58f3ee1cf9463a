"""GET /sources and /quality/runs over HTTP, and the Data Docs site at /quality/docs."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from api.keys import Role
from pipeline.ingest import ingest
from quality.gates import GateFailed


def _all(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_sources_and_quality_runs(settings, db_url, fixture_feed, quality_api, clean_hotline_rows,
                                  hotline_rows, hotline_defects):
    feed = fixture_feed("fixture_hotline")
    fixture_feed("idle_feed")  # a spec that never ran
    bad_ids = hotline_defects.loc[hotline_defects.expected == "quarantine", "source_record_id"]
    feed.write(pd.concat([clean_hotline_rows.iloc[:200], hotline_rows[hotline_rows["工单编号"].isin(bad_ids)].head(6)]))
    good = ingest(feed.spec, settings, db_url)
    feed.write(clean_hotline_rows.iloc[200:400].rename(columns={"工单状态": "状态"}))
    with pytest.raises(GateFailed):
        ingest(feed.spec, settings, db_url)
    stopped = good.run_id + 1

    admin = quality_api(Role.ADMIN)
    body = admin.get("/sources").json()
    by_name = {s["name"]: s for s in body["sources"]}
    assert set(by_name) == {"fixture_hotline", "idle_feed"}
    assert by_name["idle_feed"]["last_run"] is None and by_name["idle_feed"]["has_spec"]
    mine = by_name["fixture_hotline"]
    assert mine["last_run"]["run_id"] == stopped and mine["last_run"]["status"] == "stopped"
    assert "schema" in mine["last_run"]["error"] and "工单状态" in mine["last_run"]["error"]
    assert mine["counts"] == {"read": 200, "loaded": 0, "quarantined": 0, "duplicates": 0}
    assert mine["open_quarantine"] == good.counts.quarantined == 6
    newest, finished = _all(db_url, "SELECT max(c.reported_at), max(r.finished_at) FROM cases c,"
                                    " ingest_runs r WHERE r.run_id = %s", (good.run_id,))[0]
    assert pd.Timestamp(mine["freshness"]["newest_reported_at"]) == pd.Timestamp(newest)
    assert pd.Timestamp(mine["freshness"]["last_success_at"]) == pd.Timestamp(finished)
    assert mine["freshness"]["age_hours"] > 24

    runs = admin.get("/quality/runs", params={"source": "fixture_hotline"}).json()["runs"]
    assert [r["run_id"] for r in runs] == [stopped, good.run_id]
    assert runs[0]["status"] == "stopped" and runs[0]["validation"] is None  # rolled back with it
    first = runs[1]
    v = first["validation"]
    assert v["rows_evaluated"] == v["rows_passed"] + v["rows_failed"] == first["counts"]["read"] == 206
    assert v["rows_failed"] == first["counts"]["quarantined"] == 6
    # Each expectation's GX count equals the quarantine rows that name it.
    named = dict(_all(db_url, "SELECT r->>'check', count(*) FROM quarantine q,"
                              " jsonb_array_elements(q.reasons) r WHERE q.run_id = %s GROUP BY 1",
                      (good.run_id,)))
    for e in v["expectations"]:
        if e["action"] == "quarantine":
            assert e["unexpected"] == named.get(e["key"], 0), e["key"]
    assert {g["gate"] for g in v["gates"]} == {"volume", "schema", "quarantine_rate", "freshness"}
    assert any(e["examples"] for e in v["expectations"])

    page = admin.get("/quality/runs", params={"limit": 1}).json()
    assert len(page["runs"]) == 1 and page["next_before"] == stopped
    rest = admin.get("/quality/runs", params={"limit": 1, "before": page["next_before"]}).json()
    assert rest["runs"][0]["run_id"] == good.run_id
    assert admin.get(f"/quality/runs/{good.run_id}").json() == first

    viewer = quality_api(Role.VIEWER)
    seen = viewer.get(f"/quality/runs/{good.run_id}").json()
    assert all("examples" not in e for e in seen["validation"]["expectations"])

    for params, status, words in [
        ({"source": "no_such_feed"}, 404, "source 'no_such_feed' has no runs"),
        ({"source": "Bad-Name"}, 422, "source"),
        ({"limit": 0}, 422, "limit"),
        ({"status": "done"}, 422, "status"),
        ({"before": 0}, 422, "before"),
    ]:
        answer = admin.get("/quality/runs", params=params)
        assert answer.status_code == status and words in answer.text, (params, answer.text)
    assert admin.get("/quality/runs/99999").status_code == 404


def test_data_docs_are_served(settings, db_url, fixture_feed, quality_api, clean_hotline_rows):
    feed = fixture_feed("docs_feed")
    feed.write(clean_hotline_rows.iloc[:50])
    run = ingest(feed.spec, settings, db_url)
    admin = quality_api(Role.ADMIN)
    index = admin.get("/quality/docs", follow_redirects=True)
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "docs_feed" in index.text
    docs = settings.data_dir / "quality" / "docs"
    pages = sorted(docs.glob(f"validations/docs_feed/run-{run.run_id}/*/docs_feed.html"),
                   key=lambda p: p.stat().st_mtime)
    assert pages
    page = admin.get("/quality/docs/" + pages[-1].relative_to(docs).as_posix())
    assert page.status_code == 200 and "reported_at" in page.text
    escape = admin.get("/quality/docs/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd")
    assert escape.status_code == 404 and "root:" not in escape.text
    assert admin.get("/quality/docs/validations/nothing.html").status_code == 404
    assert quality_api(Role.VIEWER).get("/quality/docs/").status_code == 403
