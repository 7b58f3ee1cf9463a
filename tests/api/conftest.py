"""API test fixtures: a session template holding the ingested hotline feed, cloned per test,
and a live server with keys of every role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from psycopg import sql

from api.keys import Role, create_key
from api.settings import ApiSettings
from connectors.spec import load_specs
from core.settings import GridHubSettings
from pipeline.ingest import ingest
from store.db import with_dbname


def _create(server_url: str, name: str, template: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                      sql.Identifier(template)))
    return with_dbname(server_url, name)


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def ingested_template(server_url, city_template, demo_dir) -> Iterator[str]:
    """The demo city with the hotline feed ingested (cases and rollups), as a template."""
    name = f"gridhub_tpl_api_{uuid.uuid4().hex[:8]}"
    url = _create(server_url, name, city_template)
    cfg = GridHubSettings(data_dir=demo_dir, database_url=url)
    ingest(load_specs(cfg.resolved_sources_dir)["hotline_12345"], cfg, url)
    yield name
    _drop(server_url, name)


@pytest.fixture
def api_db(server_url, ingested_template) -> Iterator[str]:
    """A fresh clone of the ingested template for one test."""
    name = f"gridhub_test_{uuid.uuid4().hex[:12]}"
    yield _create(server_url, name, ingested_template)
    _drop(server_url, name)


@pytest.fixture
def api_settings(api_db, demo_dir) -> GridHubSettings:
    return GridHubSettings(data_dir=demo_dir, database_url=api_db)


@dataclass
class Api:
    """A live server and a client per role; `client(role, scope)` makes more."""

    base_url: str
    db_url: str
    city: str
    clients: list[httpx.Client]

    def client(self, role: Role | None = Role.ADMIN, scope: str | None = None) -> httpx.Client:
        headers = {}
        if role is not None:
            with psycopg.connect(self.db_url) as conn:
                headers["Authorization"] = "Bearer " + create_key(conn, role, scope or self.city).key
        client = httpx.Client(base_url=self.base_url, timeout=30, headers=headers)
        self.clients.append(client)
        return client


def serve(settings: GridHubSettings, api_cfg: ApiSettings | None = None):
    from api.main import create_app
    from tests.conftest import LiveServer

    return LiveServer(create_app(settings, api_cfg or ApiSettings(audit_flush_seconds=0.1)))


@pytest.fixture
def api(api_settings) -> Iterator[Api]:
    """The real app on a real socket over this test's ingested database."""
    with serve(api_settings) as server:
        live = Api(server.base_url, api_settings.database_url, api_settings.city_code, [])
        yield live
        for c in live.clients:
            c.close()
