"""The API's database role reads no raw payload; the pipeline's reads everything (migration
0623_raw_payload_roles_and_retention, docs/privacy.md)."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from api.keys import Role, create_key
from core.settings import GridHubSettings
from tests.api.conftest import serve


def _as(url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(url, options=f"-c role={role}", autocommit=True)


@pytest.mark.parametrize("statement", [
    "SELECT payload FROM raw_records LIMIT 1",
    "SELECT count(*) FROM raw_records",
    "SELECT payload FROM quarantine LIMIT 1",
    "SELECT reasons FROM quarantine LIMIT 1",
    "SELECT * FROM quarantine LIMIT 1",
])
def test_the_api_role_cannot_read_raw_payloads(hotline_db, statement):
    with _as(hotline_db, "gridhub_api") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "gridhub_api"
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)


def test_the_api_role_reads_what_it_serves_and_the_ingest_role_reads_everything(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        raw = conn.execute("SELECT count(*) FROM raw_records").fetchone()[0]
        waiting = conn.execute("SELECT count(*) FROM quarantine WHERE released_at IS NULL").fetchone()[0]
    assert raw > 0 and waiting > 0
    with _as(hotline_db, "gridhub_api") as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM quarantine WHERE released_at IS NULL").fetchone()[0] == waiting
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM cases")
    with _as(hotline_db, "gridhub_ingest") as conn:
        assert conn.execute("SELECT count(payload::text) FROM raw_records").fetchone()[0] == raw


def test_the_api_serves_as_its_role(hotline_db, demo_dir):
    settings = GridHubSettings(data_dir=demo_dir, database_url=hotline_db, api_database_role="gridhub_api")
    with psycopg.connect(hotline_db) as conn:
        admin = create_key(conn, Role.ADMIN, settings.city_code).key
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with serve(settings) as server, httpx.Client(base_url=server.base_url, timeout=30,
                                                 headers={"Authorization": f"Bearer {admin}"}) as client:
        assert client.get("/ready").status_code == 200
        for path in ("/stats", f"/areas/{settings.city_code}/summary", "/sources", "/cases?limit=5",
                     "/warnings", "/quality/runs"):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
        assert client.get("/sources").json()  # counts quarantine without reading its payloads
    with psycopg.connect(hotline_db) as conn:  # the audit rows were written as gridhub_api
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > before


def test_the_role_setting_keeps_the_urls_own_options():
    settings = GridHubSettings(database_url="postgresql://gridhub@db/gridhub?options=-c%20jit%3Doff",
                               api_database_role="gridhub_api")
    url = settings.for_api().database_url
    assert psycopg.conninfo.conninfo_to_dict(url)["options"] == "-c jit=off -c role=gridhub_api"
    assert GridHubSettings(database_url="postgresql://gridhub@db/gridhub").for_api().database_url == (
        "postgresql://gridhub@db/gridhub")
