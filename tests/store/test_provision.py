"""`gridhub db up` on both paths: a given DATABASE_URL, and a private cluster of its own."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from core.settings import PROJECT_ROOT
from store.db import with_dbname

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")


def _gridhub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([GRIDHUB, *args], capture_output=True, text=True, env=env, timeout=300)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(extra)
    return env


def test_db_up_with_database_url_creates_database_and_postgis(server_url):
    name = f"gridhub_up_{uuid.uuid4().hex[:8]}"
    url = with_dbname(server_url, name)
    try:
        done = _gridhub("db", "up", env=_env(DATABASE_URL=url))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1
            assert conn.execute("SELECT to_regclass('cases')").fetchone()[0] == "cases"
        status = _gridhub("db", "status", env=_env(DATABASE_URL=url))
        assert status.returncode == 0
        assert json.loads(status.stdout)["pending_migrations"] == []
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_db_up_without_database_url_runs_a_durable_private_cluster(tmp_path):
    # The data directory sits in a folder only its owner may enter, as a clone in /root does.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    data_dir = private / "var"
    env = _env(GRIDHUB_DATA_DIR=str(data_dir))
    try:
        done = _gridhub("db", "up", env=env)
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/gridhub")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
            assert conn.execute("SELECT to_regclass('cases')").fetchone()[0] == "cases"
            durability = conn.execute("SELECT current_setting('fsync'), current_setting('full_page_writes'),"
                                      " current_setting('synchronous_commit')").fetchone()
            assert durability == ("on", "on", "on")
            conn.execute("CREATE TABLE kept (x int)")
            conn.commit()
        again = _gridhub("db", "up", env=env)  # a second `up` reuses the running cluster
        assert again.stdout.strip() == url
        status = json.loads(_gridhub("db", "status", env=env).stdout)
        assert status["private"] and status["running"] and status["postgis"]
        cluster_dir = Path(status["cluster_dir"])
        assert (cluster_dir / "data" / "PG_VERSION").exists()
        if os.geteuid() == 0:  # the postgres user could not enter the data directory's folder
            assert not cluster_dir.is_relative_to(private)
        down = _gridhub("db", "down", env=env)
        assert down.returncode == 0 and "stopped" in down.stderr
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=3)
        stopped = json.loads(_gridhub("db", "status", env=env).stdout)
        assert not stopped["running"] and stopped["cluster_dir"] == str(cluster_dir)

        url = _gridhub("db", "up", env=env).stdout.strip()  # down keeps the data
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone()[0] == "kept"
        removed = _gridhub("db", "remove", "--yes", env=env)
        assert removed.returncode == 0 and str(cluster_dir) in removed.stderr
        assert not cluster_dir.exists()
    finally:
        _gridhub("db", "remove", "--yes", env=env)


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://postgres@127.0.0.1:1/nowhere", "cannot reach"),
    ("not a url", "is not a PostgreSQL connection string"),
    ("postgresql://postgres@127.0.0.1:port/gridhub", "not a number"),
])
@pytest.mark.parametrize("command", [("db", "up"), ("keys", "list"), ("ingest", "--all")])
def test_database_problems_are_one_line(url, says, command):
    done = _gridhub(*command, env=_env(DATABASE_URL=url))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert says in lines[0]


def test_db_status_of_a_server_that_is_down():
    done = _gridhub("db", "status", env=_env(DATABASE_URL="postgresql://postgres@127.0.0.1:1/x"))
    assert done.returncode == 1
    state = json.loads(done.stdout)
    assert state["running"] is False and "Connection refused" in state["error"]


def test_bad_setting_is_one_line():
    done = _gridhub("sources", "list", env=_env(GRIDHUB_TIMEZONE="Mars/Olympus"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "GRIDHUB_TIMEZONE" in done.stderr and "Traceback" not in done.stderr
