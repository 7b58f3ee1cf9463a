"""The demo's live services: the police REST API and the district's own database.

`demo_services` starts the police API on a free local port and (re)creates the district
system's database beside the hub's database on the same PostgreSQL server, loading the
generated table into it; it yields the variables the source specs refer to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from demo.feeds import district
from demo.feeds.police_api import DEFAULT_TOKEN, PoliceApi
from store.db import dbname_of, with_dbname

POLICE_URL = "GRIDHUB_POLICE_API_URL"
POLICE_TOKEN = "GRIDHUB_POLICE_API_TOKEN"
DISTRICT_URL = "GRIDHUB_DISTRICT_DB_URL"


@contextmanager
def demo_services(demo_dir: Path, url: str, flaky: float = 0.0, keep: bool = True,
                  with_police: bool = True, with_district: bool = True) -> Iterator[dict[str, str]]:
    """Run the demo's police API and district database while the block runs; yields variables.

    keep=False drops the district database afterwards (tests); with_police / with_district say
    which of the two services to start.
    """
    with ExitStack() as stack:
        variables: dict[str, str] = {}
        folder = demo_dir / "feeds" / "police_110"
        if with_police and (folder / "index.json").exists():
            api = stack.enter_context(PoliceApi(folder, token=DEFAULT_TOKEN, flaky=flaky))
            variables.update({POLICE_URL: api.url, POLICE_TOKEN: DEFAULT_TOKEN})
        export = demo_dir / "feeds" / f"{district.NAME}.csv"
        if with_district and export.exists():
            variables[DISTRICT_URL] = sqlalchemy_url(load_district_database(export, url))
            if not keep:
                stack.callback(drop_district_database, url)
        yield variables


def drop_district_database(url: str) -> None:
    """Remove the district database made for url's hub database."""
    name = dbname_of(district_database_url(url))
    with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def district_database_url(url: str) -> str:
    """The district system's database: beside the hub's, named after it."""
    return with_dbname(url, f"{dbname_of(url)}_district02")


def load_district_database(export: Path, url: str) -> str:
    """(Re)create the district database and load its table from the export; returns its URL."""
    target = district_database_url(url)
    name = dbname_of(target)
    with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in district.COLUMNS.items())
    with psycopg.connect(target) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(district.TABLE), columns))
        statement = sql.SQL("COPY {} FROM STDIN (FORMAT csv, HEADER true)").format(
            sql.Identifier(district.TABLE))
        with conn.cursor() as cur, cur.copy(statement) as copy, open(export, "rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        conn.execute(sql.SQL("CREATE INDEX ON {} (updated_at)").format(sql.Identifier(district.TABLE)))
    return target


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as SQLAlchemy wants it for psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url
