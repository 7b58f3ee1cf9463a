"""The async connection pool, opened and closed with the app's lifespan, and the statements
the API sends through it."""

from __future__ import annotations

import logging
import select
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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

log = logging.getLogger("gridhub.api")

CONNECT_TIMEOUT_SECONDS = 5  # libpq waits forever for a server that drops packets
READ_ATTEMPTS = 3  # a read whose connection was lost is sent again, on another connection
# How the API's connections show in pg_stat_activity (an operator terminating or counting them).
POOL_APPLICATION_NAME = "gridhub-api"
WATCHER_APPLICATION_NAME = "gridhub-api-watcher"
WRITER_APPLICATION_NAME = "gridhub-api-writer"  # the primary's pool when reads go to a replica


def describe(exc: psycopg.Error) -> str:
    """The first line of libpq's message, without the "connection to server at ... failed:"
    before the reason (an API caller need not learn the database's address; the log has it)."""
    first = next(iter(str(exc).strip().splitlines()), "")
    return " ".join(first.split()).rpartition(" failed: ")[2] or type(exc).__name__


async def _configure(conn: AsyncConnection) -> None:
    set_json_loads(orjson.loads, conn)


def _has_pending_input(conn: AsyncConnection) -> bool:
    """Whether an idle connection has bytes waiting. The server says nothing to an idle pooled
    connection (none LISTENs) except when it ends the session: a terminated backend sends its
    FATAL message and closes the socket, which then reads as ready."""
    poller = select.poll()  # not select.select: file descriptors above 1023 are fine
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class PooledConnectionCheck:
    """The pool's check before lending a connection: one the server has closed is discarded
    (the pool takes another) instead of failing the request. A round trip only when the socket
    says something happened, so a healthy checkout costs one poll().

    Backends are usually terminated together (a failover, an operator's pg_terminate_backend),
    and the pool waits 1, 2, 4... s between consecutive failed checks: on the first dead
    connection every idle one is checked at once, so the next checkout finds live ones."""

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool | None = None  # set once the pool is made
        self._purging = False

    async def __call__(self, conn: AsyncConnection) -> None:
        if not conn.closed and not _has_pending_input(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error:
            await self._purge()
            raise

    async def _purge(self) -> None:
        if self._purging or self.pool is None:
            return
        self._purging = True
        try:
            await self.pool.check()  # replaces each broken idle connection
        finally:
            self._purging = False


def make_pool(url: str, cfg: ApiSettings, application_name: str = POOL_APPLICATION_NAME) -> AsyncConnectionPool:
    """The API's pool, not open yet: the lifespan opens it."""
    check = PooledConnectionCheck()
    check.pool = AsyncConnectionPool(
        url, min_size=cfg.pool_min_size, max_size=cfg.pool_max_size, open=False, configure=_configure,
        check=check,
        kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "application_name": application_name,
                # JIT compilation costs tens of milliseconds and never pays off on rollup reads.
                "options": f"-c statement_timeout={cfg.statement_timeout_ms} -c jit=off"})
    return check.pool


async def database_ready(request: Request) -> None:
    """Answer 503 at once while the database is away, rather than wait on the pool."""
    request.app.state.hub.check_database()


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for one request (ConnDep)."""
    async with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(connection)]


async def write_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection to the primary, for a request that writes (WriteConnDep): the same
    pool as ConnDep's unless the API reads from a replica."""
    async with request.app.state.hub.write_pool.connection() as conn:
        yield conn


WriteConnDep = Annotated[AsyncConnection, Depends(write_connection)]


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


def connection_lost(exc: psycopg.OperationalError) -> bool:
    """Whether the error ended the session rather than the statement: no SQLSTATE (the socket
    broke), a connection exception (08) or the server ending it (57P: terminated, shutting down,
    starting up, idle timeout). A query cancelled by statement_timeout is 57014: not lost."""
    state = exc.sqlstate or ""
    return not state or state.startswith(("08", "57P"))


async def read_retrying(pool: AsyncConnectionPool, read: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    """Run a read on a pooled connection; if the connection is lost under it (its backend
    terminated, a failover), run it again on another: reads are safe to repeat. Up to
    READ_ATTEMPTS in all, since backends terminated together also take idle pooled connections
    whose end has not reached the socket yet. A statement timeout, or a database that stays
    away, still raises (503 at the edge)."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        async with pool.connection() as conn:
            try:
                return await read(conn)
            except psycopg.OperationalError as exc:
                if attempt == READ_ATTEMPTS or not connection_lost(exc):
                    raise
                log.info("connection lost during a read (%s); reading again", describe(exc))
    raise AssertionError("unreachable")


async def fetch_all(pool: AsyncConnectionPool, statement: Statement) -> list[dict]:
    """The rows of one statement."""
    async def read(conn: AsyncConnection) -> list[dict]:
        return await (await conn.execute(statement.text, statement.params)).fetchall()
    return await read_retrying(pool, read)


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
    async def read(conn: AsyncConnection) -> dict:
        return await (await conn.execute(text, params)).fetchone()
    return list((await read_retrying(pool, read)).values())
