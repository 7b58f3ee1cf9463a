"""Which database the DAGs' tasks use: the `gridhub` Airflow connection, else DATABASE_URL."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import GridHubSettings
from pipeline.orchestration import database_url


def test_an_airflow_connection_uri_becomes_a_libpq_url():
    # Airflow writes a PostgreSQL connection back as postgres://, with extras as a query.
    uri = "postgres://gridhub:s%40cret@db.example:5432/gridhub?sslmode=require"
    assert database_url(uri, GridHubSettings(database_url="postgresql://other/db")) == \
        "postgresql://gridhub:s%40cret@db.example:5432/gridhub?sslmode=require"
    assert database_url("postgresql+psycopg://u@h/d", GridHubSettings()) == "postgresql://u@h/d"


def test_without_a_connection_database_url_is_used():
    assert database_url(None, GridHubSettings(database_url="postgresql://u@h/d")) == \
        "postgresql://u@h/d"


def test_a_connection_of_another_kind_is_refused_by_name():
    with pytest.raises(ConfigError, match="'mysql'"):
        database_url("mysql://u@h/d", GridHubSettings())
