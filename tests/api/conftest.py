"""API test fixtures: settings on a clone of the demo city with its hotline feed ingested
(tests/conftest.py), and a live server with keys of every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from api.keys import Role, create_key
from api.settings import ApiSettings
from core.settings import GridHubSettings


@pytest.fixture
def api_settings(hotline_db, demo_dir) -> GridHubSettings:
    return GridHubSettings(data_dir=demo_dir, database_url=hotline_db)


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
