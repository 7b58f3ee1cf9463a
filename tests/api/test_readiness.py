"""Started while its database is away, the API opens its port, answers /health (live) and
/ready (not ready, and why), refuses data with 503 and Retry-After, and serves once the
database is back, with no restart; a malformed DATABASE_URL is one line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.keys import Role, create_key
from core.errors import ConfigError
from core.settings import PROJECT_ROOT, GridHubSettings
from store import migrations
from tests.api.conftest import serve
from tests.api.helpers import busiest, recount
from tests.api.tcpproxy import TcpProxy


def _wait_for(client: httpx.Client, path: str, status: int, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while (response := client.get(path)).status_code != status:
        assert time.monotonic() < deadline, f"{path} still answers {response.status_code}: {response.text}"
        time.sleep(0.2)
    return response


def _assert_away(client: httpx.Client, data_paths: list[str], reason: str) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    for path in ["/ready", *data_paths]:
        response = client.get(path)
        assert response.status_code == 503, path
        assert int(response.headers["Retry-After"]) > 0, path
        detail = response.json()["detail"]
        assert reason in detail and "\n" not in detail, detail


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_started_with_the_database_away_it_serves_once_it_is_back(hotline_db, demo_dir):
    district = busiest(hotline_db, "district")
    want = recount(hotline_db, "district", district)["total"]
    summary = f"/areas/{district}/summary"
    paths = [summary, "/stats", "/areas"]
    server = conninfo_to_dict(hotline_db)
    with TcpProxy(server.get("host") or "127.0.0.1", int(server.get("port") or 5432)) as database:
        # The API reaches its database only through the proxy, which is down to begin with.
        settings = GridHubSettings(data_dir=demo_dir, database_url=make_conninfo(
            hotline_db, host="127.0.0.1", port=str(database.port)))
        with psycopg.connect(hotline_db) as conn:
            key = create_key(conn, Role.ADMIN, settings.city_code, "readiness").key
        with serve(settings) as api, httpx.Client(
                base_url=api.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            _assert_away(client, paths, "database unreachable: Connection refused")

            database.up()
            assert _wait_for(client, "/ready", 200).json()["status"] == "ready"
            assert client.get(summary).json()["total"] == want > 0

            # Away again, every connection of the pool and of the watcher cut, then back.
            database.down()
            _wait_for(client, "/ready", 503)
            _assert_away(client, paths, "database unreachable")
            database.up()
            _wait_for(client, "/ready", 200)
            for path in paths:
                assert client.get(path).status_code == 200, path
            assert client.get(summary).json()["total"] == want

    # The requests answered 503 were audited once the database was back.
    with psycopg.connect(hotline_db) as conn:
        refused = conn.execute("SELECT count(*) FROM audit_log WHERE path = %s AND status = 503",
                               (summary,)).fetchone()[0]
    assert refused == 2


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_ready_says_what_the_database_lacks_until_it_has_it(databases, demo_dir):
    with databases.clone("template0") as url:  # a bare database: no PostGIS, no schema
        with serve(GridHubSettings(data_dir=demo_dir, database_url=url)) as api, httpx.Client(
                base_url=api.base_url, timeout=30) as client:
            _assert_away(client, ["/areas"], "PostGIS is not installed")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
            _wait_for_detail(client, "run `gridhub db migrate`")
            migrations.migrate(url)
            assert _wait_for(client, "/ready", 200).json()["generation"] == 0


def _wait_for_detail(client: httpx.Client, words: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while words not in (detail := client.get("/ready").json().get("detail", "")):
        assert time.monotonic() < deadline, detail
        time.sleep(0.2)


BAD_URLS = [
    ("postgresql://gridhub:secret@db:notaport/gridhub", "DATABASE_URL has the port 'notaport'"),
    ("postgresql://gridhub:secret@db/gridhub?colour=blue", "is not a PostgreSQL connection string"),
]


@pytest.mark.parametrize(("url", "says"), BAD_URLS, ids=["port", "query"])
def test_a_malformed_database_url_is_refused_in_one_line(url, says):
    from api.main import create_app

    with pytest.raises(ConfigError) as refused:
        create_app(GridHubSettings(database_url=url))
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", "0"],
    [sys.executable, "-c", "from cli.main import main; main()", "serve", "--port", "0"],
], ids=["uvicorn", "gridhub serve"])
@pytest.mark.parametrize(("url", "says"), BAD_URLS, ids=["port", "query"])
def test_started_with_a_malformed_database_url_the_api_exits_with_one_line(command, url, says):
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert says in lines[0] and "secret" not in lines[0]
