"""The API reads from a streaming replica while ingest writes to the primary: a second private
cluster, a hot standby of the first, serves every read; new data reaches the answers once
replayed; /ready reports the replica's lag; and reads go on with the primary stopped."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import psycopg
import pytest

from api.keys import Role, create_key
from api.main import create_app
from api.settings import ApiSettings
from core.settings import GridHubSettings
from store import rollups
from store.db import with_dbname
from store.provision import STANDBY_PRIMARY_SETTINGS, PrivateCluster, _postgres_bindir, cluster_root
from tests.conftest import LiveServer
from tests.linking.test_links_api import MEDIATION_COPY


def _copy_database(source_url: str, target_url: str) -> None:
    """The test city's database, dumped and restored into another cluster."""
    bindir = _postgres_bindir()
    with psycopg.connect(with_dbname(target_url, "postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE gridhub")
    dump = subprocess.Popen([str(bindir / "pg_dump"), "-Fc", "--no-owner", "-d", source_url],
                            stdout=subprocess.PIPE)
    restored = subprocess.run([str(bindir / "pg_restore"), "--no-owner", "--no-acl", "-d", target_url], stdin=dump.stdout,
                              capture_output=True, text=True)
    assert dump.wait() == 0 and restored.returncode == 0, restored.stderr


def _until(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.mark.slow  # two clusters started, a city's database copied between them
def test_the_api_reads_from_a_streaming_replica(hotline_db, demo_dir, tmp_path) -> None:
    primary = PrivateCluster(cluster_root(tmp_path / "primary"), STANDBY_PRIMARY_SETTINGS)
    standby = PrivateCluster(cluster_root(tmp_path / "standby"))
    try:
        primary_url = with_dbname(primary.start(tmp_path / "primary"), "gridhub")
        _copy_database(hotline_db, primary_url)
        replica_url = with_dbname(standby.start_standby(primary_url, tmp_path / "standby"), "gridhub")
        cfg = GridHubSettings(data_dir=demo_dir, database_url=primary_url)
        with psycopg.connect(primary_url) as conn:
            key = create_key(conn, Role.ADMIN, cfg.city_code, "replica test").key
            total = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        with psycopg.connect(replica_url) as conn:  # the key is read on the replica
            assert _until(lambda: conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] > 0)
        api_cfg = ApiSettings(read_database_url=replica_url, replica_poll_seconds=0.2, audit_flush_seconds=0.1)
        with LiveServer(create_app(cfg, api_cfg)) as server, httpx.Client(
                base_url=server.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            assert _until(lambda: client.get("/ready").status_code == 200)
            ready = client.get("/ready").json()
            assert ready["replica"]["lag_seconds"] < 5
            summary = client.get(f"/areas/{cfg.city_code}/summary")
            assert summary.status_code == 200, summary.text
            assert summary.json()["total"] == total
            with psycopg.connect(replica_url) as conn:
                readers = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gridhub-api'"
                                       ).fetchone()[0]
            with psycopg.connect(primary_url) as conn:
                # Reads never connect to the primary; only the writer pool (audit rows) does.
                on_primary = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name"
                                          " = 'gridhub-api'").fetchone()[0]
            assert readers >= 1 and on_primary == 0

            # Ingest writes to the primary; the answers follow once the replica has replayed it.
            with psycopg.connect(primary_url) as conn:
                conn.execute(MEDIATION_COPY)
                rollups.rebuild(conn, cfg.timezone)
            assert _until(lambda: client.get(f"/areas/{cfg.city_code}/summary").json()["total"] == total + 3)

            # The primary goes away: the replica still answers every read.
            primary.stop()
            after = client.get(f"/areas/{cfg.city_code}/summary", params={"kind": "dispute"})
            assert after.status_code == 200, after.text
            assert client.get("/ready").json()["replica"]["lag_seconds"] is not None
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(standby.root, ignore_errors=True)
        shutil.rmtree(primary.root, ignore_errors=True)
