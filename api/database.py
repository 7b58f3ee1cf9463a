"""The async connection pool, opened and closed with the app's lifespan, and the statements
the API sends through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import Depends, Request
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from api.settings import ApiSettings

CONNECT_TIMEOUT_SECONDS = 5  # libpq waits forever for a server that drops packets


def describe(exc: psycopg.Error) -> str:
    """The first line of libpq's message, without the "connection to server at ... failed:"
    before the reason (an API caller need not learn the database's address; the log has it)."""
    first = next(iter(str(exc).strip().splitlines()), "")
    return " ".join(first.split()).rpartition(" failed: ")[2] or type(exc).__name__


async def _configure(conn: AsyncConnection) -> None:
    set_json_loads(orjson.loads, conn)


def make_pool(url: str, cfg: ApiSettings) -> AsyncConnectionPool:
    """The API's pool, not open yet: the lifespan opens it."""
    return AsyncConnectionPool(
        url, min_size=cfg.pool_min_size, max_size=cfg.pool_max_size, open=False, configure=_configure,
        kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                # JIT compilation costs tens of milliseconds and never pays off on rollup reads.
                "options": f"-c statement_timeout={cfg.statement_timeout_ms} -c jit=off"})


async def database_ready(request: Request) -> None:
    """Answer 503 at once while the database is away, rather than wait on the pool."""
    request.app.state.hub.check_database()


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for one request (ConnDep)."""
    async with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(connection)]


@dataclass(frozen=True)
class Statement:
    """A statement's text and its named parameters (`%(name)s`)."""

    text: bytes
    params: Mapping[str, Any]


def merged(*params: Mapping[str, Any]) -> dict[str, Any]:
    """The named parameters of statements sent as one; a name may recur only with one value."""
    out: dict[str, Any] = {}
    for values in params:
        for name, value in values.items():
            if out.setdefault(name, value) is not value and out[name] != value:
                raise ValueError(f"parameter {name!r} given two values: {out[name]!r} and {value!r}")
    return out


async def fetch_all(pool: AsyncConnectionPool, statement: Statement) -> list[dict]:
    """The rows of one statement."""
    async with pool.connection() as conn:
        return await (await conn.execute(statement.text, statement.params)).fetchall()


@lru_cache(maxsize=1024)
def _together(texts: tuple[bytes, ...]) -> bytes:
    columns = [sql.SQL("(SELECT coalesce(json_agg(r), '[]') FROM ({}) r) AS {}").format(
        sql.SQL(t.decode()), sql.Identifier(f"result_{i}")) for i, t in enumerate(texts)]
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(columns)).as_bytes(None)


async def fetch_together(pool: AsyncConnectionPool, *statements: Statement) -> list[list[dict]]:
    """Rows of several statements in one round trip and one statement: each result comes back
    as a JSON array of row objects (so dates arrive as ISO strings, bigint arrays as lists,
    and float columns holding whole numbers as ints). Their parameters share one namespace.

    Three or four small statements in pipeline mode cost the API more CPU in psycopg than the
    database spent answering them; one statement of JSON columns costs about half.
    """
    text = _together(tuple(s.text for s in statements))
    params = merged(*(s.params for s in statements))
    async with pool.connection() as conn:
        row = await (await conn.execute(text, params)).fetchone()
    return list(row.values())
