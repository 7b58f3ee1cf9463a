"""`gridhub db up` on both paths: a given DATABASE_URL, and a private cluster of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

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


def test_db_up_without_database_url_runs_a_private_cluster():
    # Under var/ (not /tmp): as root the cluster belongs to the postgres user, who must reach it.
    data_dir = PROJECT_ROOT / "var" / "test-clusters" / uuid.uuid4().hex[:8]
    env = _env(GRIDHUB_DATA_DIR=str(data_dir))
    try:
        done = _gridhub("db", "up", env=env)
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/gridhub")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
            assert conn.execute("SELECT to_regclass('cases')").fetchone()[0] == "cases"
        again = _gridhub("db", "up", env=env)  # a second `up` reuses the running cluster
        assert again.stdout.strip() == url
        status = json.loads(_gridhub("db", "status", env=env).stdout)
        assert status["private"] and status["running"] and status["postgis"]
        down = _gridhub("db", "down", env=env)
        assert down.returncode == 0 and "stopped" in down.stderr
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=3)
    finally:
        _gridhub("db", "down", env=env)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_unreachable_database_url_gives_a_clear_error():
    done = _gridhub("db", "up", env=_env(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere"))
    assert done.returncode == 1
    assert "cannot reach" in done.stderr and "Traceback" not in done.stderr
