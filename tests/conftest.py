"""Test fixtures: a real PostgreSQL + PostGIS server, a fresh database per test, the demo city.

The server is DATABASE_URL when set, else the project's private cluster (`gridhub db up`).
Each test session builds two template databases (schema only; schema + demo city areas) under
names unique to the session, and every test gets its own clone of one of them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from core.settings import PROJECT_ROOT, GridHubSettings
from demo.generate import generate
from pipeline.demo import load_demo_areas
from store import migrations, provision
from store.db import with_dbname

TEST_RECORDS = 20_000
SESSION_TAG = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL of the test server's maintenance database (postgres)."""
    info = provision.up(PROJECT_ROOT / "var", os.environ.get("DATABASE_URL"))
    return with_dbname(info.url, "postgres")


def _create_db(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return with_dbname(server_url, name)


def _drop_db(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo city with its feeds and truth, generated once per session."""
    data_dir = tmp_path_factory.mktemp("gridhub-data")
    generate(data_dir / "demo", seed=7, records=TEST_RECORDS)
    return data_dir


@pytest.fixture(scope="session")
def empty_template(server_url) -> Iterator[str]:
    name = f"gridhub_tpl_empty_{SESSION_TAG}"
    url = _create_db(server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    migrations.migrate(url)
    yield name
    _drop_db(server_url, name)


@pytest.fixture(scope="session")
def city_template(server_url, empty_template, demo_dir) -> Iterator[str]:
    name = f"gridhub_tpl_city_{SESSION_TAG}"
    url = _create_db(server_url, name, template=empty_template)
    load_demo_areas(GridHubSettings(data_dir=demo_dir, database_url=url), url)
    yield name
    _drop_db(server_url, name)


def _fresh(server_url: str, template: str) -> Iterator[str]:
    name = f"gridhub_test_{uuid.uuid4().hex[:12]}"
    yield _create_db(server_url, name, template=template)
    _drop_db(server_url, name)


@pytest.fixture
def empty_db(server_url, empty_template) -> Iterator[str]:
    """A fresh migrated database with no areas."""
    yield from _fresh(server_url, empty_template)


@pytest.fixture
def db_url(server_url, city_template) -> Iterator[str]:
    """A fresh migrated database holding the demo city's areas."""
    yield from _fresh(server_url, city_template)


@pytest.fixture
def second_db_url(server_url, city_template) -> Iterator[str]:
    """Another database like db_url, to compare two ways of reaching the same state."""
    yield from _fresh(server_url, city_template)


@pytest.fixture
def settings(db_url, demo_dir) -> GridHubSettings:
    """Settings pointing at the session's demo data and this test's database."""
    return GridHubSettings(data_dir=demo_dir, database_url=db_url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app served by uvicorn on a local port, in a background thread."""

    def __init__(self, app):
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_api(settings) -> Iterator[httpx.Client]:
    """An HTTP client talking to the real API over a real socket, on this test's database,
    carrying an admin key for the whole city."""
    from api.keys import Role, create_key
    from api.main import create_app

    with psycopg.connect(settings.database_url) as conn:
        key = create_key(conn, Role.ADMIN, settings.city_code, "live_api fixture").key
    with LiveServer(create_app(settings)) as server, httpx.Client(
            base_url=server.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client
