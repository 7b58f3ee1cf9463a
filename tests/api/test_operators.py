"""What operators rely on: /metrics for a scraper's token with every source's ingest figures,
JSON log lines carrying a request id, and an audit log that no request can stop and that is
written out at shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from api.keys import Role, create_key
from api.settings import ApiSettings
from core.settings import PROJECT_ROOT
from tests.api.conftest import serve
from tests.conftest import _free_port

TOKEN = "scraper-token-0123456789"


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _samples(text: str) -> dict[tuple, float]:
    """(metric name, sorted labels) -> value, from Prometheus' text format."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_answer_a_scrapers_token_with_every_sources_ingest_figures(api_settings):
    url = api_settings.database_url
    with psycopg.connect(url) as conn:
        admin = create_key(conn, Role.ADMIN, api_settings.city_code).key
        viewer = create_key(conn, Role.VIEWER, api_settings.city_code).key
        loaded, read, finished = conn.execute(
            "SELECT sum(loaded), sum(records_read), max(finished_at) FROM ingest_runs"
            " WHERE source = 'hotline_12345' AND status = 'succeeded'").fetchone()
        waiting = dict(conn.execute(
            "SELECT r->>'check', count(*) FROM quarantine q, jsonb_array_elements(q.reasons) r"
            " WHERE q.source = 'hotline_12345' AND q.released_at IS NULL GROUP BY 1").fetchall())
        newest = conn.execute("SELECT max(reported_at) FROM cases WHERE source = 'hotline_12345'").fetchone()[0]
    assert waiting, "the demo feed quarantines some records"
    with serve(api_settings, ApiSettings(audit_flush_seconds=0.1, metrics_token=TOKEN)) as server, \
            httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers=_bearer("not-the-token-at-all-0000")).status_code == 401
        assert http.get("/metrics", headers=_bearer(viewer)).status_code == 403
        assert http.get("/metrics", headers=_bearer(admin)).status_code == 200
        scraped = http.get("/metrics", headers=_bearer(TOKEN))
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    figures = _samples(scraped.text)
    source = (("source", "hotline_12345"),)
    assert figures[("gridhub_database_up", ())] == 1
    assert figures[("gridhub_ingest_runs_total", (*source, ("status", "succeeded")))] >= 1
    assert figures[("gridhub_ingest_records_total", (("outcome", "loaded"), *source))] == loaded
    assert figures[("gridhub_ingest_records_total", (("outcome", "read"), *source))] == read
    for reason, count in waiting.items():
        labels = (("reason", reason), *source)
        assert figures[("gridhub_quarantine_open_records", labels)] == count, reason
        assert figures[("gridhub_quarantine_records_total", labels)] >= count, reason
    assert figures[("gridhub_ingest_last_success_timestamp_seconds", source)] == finished.timestamp()
    assert figures[("gridhub_source_newest_record_timestamp_seconds", source)] == newest.timestamp()
    age = figures[("gridhub_source_freshness_seconds", source)]
    assert abs(age - (datetime.now(UTC) - newest).total_seconds()) < 60
    assert ("gridhub_api_audit_rows_waiting", ()) in figures


def test_logs_are_json_lines_with_the_request_id(hotline_db, demo_dir):
    port = _free_port()
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": hotline_db, "GRIDHUB_DATA_DIR": str(demo_dir),
           "GRIDHUB_API_ACCESS_LOG": "true"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "the API did not start"
                time.sleep(0.2)
            given = http.get("/areas", headers={"X-Request-ID": "trace-4f2a.17"})
            made = http.get("/areas")
            odd = http.get("/areas", headers={"X-Request-ID": "two words\tand a tab"})
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert given.status_code == 401 and given.headers["x-request-id"] == "trace-4f2a.17"
    made_id, odd_id = made.headers["x-request-id"], odd.headers["x-request-id"]
    assert made_id and odd_id and made_id != odd_id  # new ones, each its own
    assert odd_id != "two words\tand a tab"
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = {line.get("request_id"): line for line in lines if line["logger"] == "gridhub.api.access"}
    for response in (given, made):
        line = access[response.headers["x-request-id"]]
        assert (line["method"], line["path"], line["status"]) == ("GET", "/areas", 401)
        assert line["duration_ms"] >= 0
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's lines too


def _audited(url: str, marker: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT path, query, status FROM audit_log WHERE query LIKE %s"
                            " ORDER BY audit_id", (f"%{marker}%",)).fetchall()


def _wait_audited(url: str, marker: str, count: int, seconds: float = 15) -> list[tuple]:
    deadline = time.monotonic() + seconds
    while len(rows := _audited(url, marker)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return rows


def test_a_nul_byte_in_a_request_does_not_stop_the_audit_log(api_settings):
    url = api_settings.database_url
    with serve(api_settings) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert http.get("/areas/%00", params={"mark": "nul-0"}).status_code == 401
        assert http.get("/areas", params={"mark": "nul-1", "q": "\x00"}).status_code == 401
        for i in range(2, 5):
            assert http.get("/areas", params={"mark": f"nul-{i}"}).status_code == 401
        rows = _wait_audited(url, "nul-", 5)
    assert [(r[1].split("&")[0], r[2]) for r in rows] == [(f"mark=nul-{i}", 401) for i in range(5)]
    assert rows[0][0] == "/areas/\\x00"  # kept, and shown, rather than refused


def test_a_row_the_database_refuses_is_dropped_alone_and_counted(api_settings):
    from api.audit import AUDIT_DROPPED
    from api.main import create_app

    app = create_app(api_settings, ApiSettings(audit_flush_seconds=3600))
    rejected = AUDIT_DROPPED.labels("rejected")._value.get()

    def row(mark: str, status: int = 200) -> tuple:
        return (uuid.uuid4(), datetime.now(UTC), None, None, "GET", "/areas", f"mark={mark}", status, None, 1.0)

    async def flush_three() -> None:
        async with app.router.lifespan_context(app):
            writer = app.state.audit
            for r in (row("bad-0"), row("bad-1", status=2**40), row("bad-2")):  # status: integer
                writer.add(r)
            await writer.flush()
            assert writer.rows == []

    asyncio.run(flush_three())
    assert [r[1] for r in _audited(api_settings.database_url, "bad-")] == ["mark=bad-0", "mark=bad-2"]
    assert AUDIT_DROPPED.labels("rejected")._value.get() == rejected + 1


def test_a_batch_written_again_after_a_lost_commit_is_stored_once(api_settings):
    from api.main import create_app

    app = create_app(api_settings, ApiSettings(audit_flush_seconds=3600))
    batch = [(uuid.uuid4(), datetime.now(UTC), None, None, "GET", "/areas", f"mark=again-{i}", 401, None, 1.0)
             for i in range(3)]

    async def flush_twice() -> None:
        async with app.router.lifespan_context(app):
            writer = app.state.audit
            for _ in range(2):  # the second time as the writer does when the commit's answer was lost
                for r in batch:
                    writer.add(r)
                await writer.flush()
                assert writer.rows == []

    asyncio.run(flush_twice())
    assert [r[1] for r in _audited(api_settings.database_url, "again-")] == [f"mark=again-{i}" for i in range(3)]


def test_audit_rows_are_written_at_shutdown(api_settings):
    # No periodic flush during the test: only the shutdown writes them.
    with serve(api_settings, ApiSettings(audit_flush_seconds=3600)) as server, \
            httpx.Client(base_url=server.base_url, timeout=30) as http:
        for i in range(20):
            assert http.get("/areas", params={"mark": f"bye-{i}"}).status_code == 401
        assert _audited(api_settings.database_url, "bye-") == []
    assert len(_audited(api_settings.database_url, "bye-")) == 20
