"""Test fixtures: a real PostgreSQL + PostGIS server, a fresh database per test, the demo city.

The server is DATABASE_URL when set, else the project's private cluster (`gridhub db up`).
Each test session builds template databases (schema only; + the demo city's areas; + its
hotline feed ingested, or every feed) under names unique to the session, and every test gets its own clone of
one of them (`Databases`, the one way tests make and drop databases).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from connectors.spec import load_specs
from core.settings import PROJECT_ROOT, GridHubSettings
from demo.generate import generate
from pipeline.demo import load_demo_areas, run_demo
from pipeline.ingest import IngestResult, ingest
from store import migrations, provision
from store.db import with_dbname

TEST_RECORDS = 20_000
SESSION_TAG = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long end-to-end tests first, so that under `-n 2` they do not trail at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    """A URL of the test server's maintenance database (postgres)."""
    # Under pytest-xdist every worker gets here; one at a time starts or checks the server.
    with (tmp_path_factory.getbasetemp().parent / "server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = provision.up(PROJECT_ROOT / "var", os.environ.get("DATABASE_URL"))
    return with_dbname(info.url, "postgres")


class Databases:
    """Databases on the test server, each created empty or from a template: the one way tests
    make and drop them.

    A clone is handed out from a spare made in the background while the test before ran, and
    dropped in the background after: DROP DATABASE forces a checkpoint (seconds after an
    ingest) and CREATE DATABASE copies the template, neither of which a test needs to wait for.
    One worker thread does both, in order, so a template is never dropped while copied.
    """

    def __init__(self, server_url: str):
        self.server_url = server_url
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="databases")
        self._spares: dict[str, Future[str]] = {}  # template -> a clone made ahead of its test

    def create(self, name: str, template: str | None = None) -> str:
        """(Re)create database name, from template if given; its URL."""
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)
        return with_dbname(self.server_url, name)

    def drop(self, name: str) -> None:
        """Drop database name and those named after it (a demo's district databases)."""
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            named_after = conn.execute("SELECT datname FROM pg_database WHERE left(datname, %s) = %s",
                                       (len(name) + 1, f"{name}_")).fetchall()
            for dbname in [name, *(n for (n,) in named_after)]:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def _new_clone(self, template: str) -> str:
        name = f"gridhub_test_{uuid.uuid4().hex[:12]}"
        self.create(name, template)
        return name

    @contextmanager
    def clone(self, template: str) -> Iterator[str]:
        """A fresh copy of template for the block (its URL), dropped after."""
        spare = self._spares.pop(template, None)
        name = spare.result() if spare else self._new_clone(template)
        self._spares[template] = self._worker.submit(self._new_clone, template)
        try:
            yield with_dbname(self.server_url, name)
        finally:
            self._worker.submit(self.drop, name)

    def _discard_spare(self, template: str) -> None:
        spare = self._spares.pop(template, None)
        if spare:
            self.drop(spare.result())

    @contextmanager
    def template(self, kind: str, base: str | None = None) -> Iterator[tuple[str, str]]:
        """A session template (its name and URL), made from base if given, dropped after."""
        name = f"gridhub_tpl_{kind}_{SESSION_TAG}"
        try:
            yield name, self.create(name, base)
        finally:
            self._worker.submit(self._discard_spare, name).result()
            self._worker.submit(self.drop, name).result()

    def close(self) -> None:
        """Drop the spares left and wait for every drop queued."""
        for template in list(self._spares):
            self._worker.submit(self._discard_spare, template)
        self._worker.shutdown(wait=True)


@pytest.fixture(scope="session")
def databases(server_url) -> Iterator[Databases]:
    made = Databases(server_url)
    yield made
    made.close()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo city with its feeds and truth, generated once per session."""
    data_dir = tmp_path_factory.mktemp("gridhub-data")
    generate(data_dir / "demo", seed=7, records=TEST_RECORDS)
    return data_dir


@pytest.fixture(scope="session")
def empty_template(databases) -> Iterator[str]:
    """Schema only: PostGIS and every migration."""
    with databases.template("empty") as (name, url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        migrations.migrate(url)
        yield name


@pytest.fixture(scope="session")
def city_template(databases, empty_template, demo_dir) -> Iterator[str]:
    """The schema and the demo city's areas and gazetteer."""
    with databases.template("city", empty_template) as (name, url):
        load_demo_areas(GridHubSettings(data_dir=demo_dir, database_url=url), url)
        yield name


@pytest.fixture(scope="session")
def hotline_template(databases, city_template, demo_dir) -> Iterator[str]:
    """The demo city with its hotline feed ingested (cases and rollups)."""
    with databases.template("hotline", city_template) as (name, url):
        cfg = GridHubSettings(data_dir=demo_dir, database_url=url)
        ingest(load_specs(cfg.resolved_sources_dir)["hotline_12345"], cfg, url)
        yield name


@dataclass(frozen=True)
class FeedsTemplate:
    """A session template and the results of the ingests that filled it."""

    name: str
    results: list[IngestResult]


@pytest.fixture(scope="session")
def all_feeds_template(databases, city_template, demo_dir) -> Iterator[FeedsTemplate]:
    """The demo city with every agency feed ingested (cases and rollups): `gridhub demo run`'s
    ingest, made once and read by the quality, geocoding and early-warning checks."""
    with databases.template("all_feeds", city_template) as (name, url):
        results = run_demo(GridHubSettings(data_dir=demo_dir, database_url=url), url,
                           keep_services=False)
        yield FeedsTemplate(name, results)


@pytest.fixture
def empty_db(databases, empty_template) -> Iterator[str]:
    """A fresh migrated database with no areas."""
    with databases.clone(empty_template) as url:
        yield url


@pytest.fixture
def db_url(databases, city_template) -> Iterator[str]:
    """A fresh migrated database holding the demo city's areas."""
    with databases.clone(city_template) as url:
        yield url


@pytest.fixture
def second_db_url(databases, city_template) -> Iterator[str]:
    """Another database like db_url, to compare two ways of reaching the same state."""
    with databases.clone(city_template) as url:
        yield url


@pytest.fixture
def hotline_db(databases, hotline_template) -> Iterator[str]:
    """A fresh database holding the demo city with its hotline feed ingested."""
    with databases.clone(hotline_template) as url:
        yield url


@pytest.fixture
def all_feeds_db(databases, all_feeds_template) -> Iterator[str]:
    """A fresh database holding the demo city with every feed ingested."""
    with databases.clone(all_feeds_template.name) as url:
        yield url


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
