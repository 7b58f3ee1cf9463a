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
