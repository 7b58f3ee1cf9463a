"""The async connection pool, opened and closed with the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.settings import ApiSettings


def make_pool(url: str, cfg: ApiSettings) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url, min_size=cfg.pool_min_size, max_size=cfg.pool_max_size, open=False,
        kwargs={"row_factory": dict_row, "autocommit": True,
                "options": f"-c statement_timeout={cfg.statement_timeout_ms}"})


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(connection)]


async def fetch_together(pool: AsyncConnectionPool, *queries) -> list[list[dict]]:
    """Run (statement, params) pairs on one connection in pipeline mode: one round trip."""
    async with pool.connection() as conn:
        async with conn.pipeline():
            cursors = [await conn.execute(statement, params) for statement, params in queries]
        return [await cur.fetchall() for cur in cursors]
