"""What every request handler shares in one worker: pool, settings, areas, answer cache."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from api.areaindex import AreaIndex
from api.settings import ApiSettings
from core.settings import GridHubSettings
from store.rollups import NOTIFY_CHANNEL

log = logging.getLogger("gridhub.api")


@dataclass(slots=True)
class CachedAnswer:
    """A finished response. Headers are kept encoded, as ASGI sends them; with slots and no
    dict inside, each entry is a single object for the garbage collector to walk."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


class AnswerCache:
    """A small LRU of finished responses, emptied whenever the rollups move on."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, CachedAnswer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> CachedAnswer | None:
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: tuple, answer: CachedAnswer) -> None:
        if self.size <= 0:
            return
        self.entries[key] = answer
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


class Hub:
    """Per-worker state: built in the app factory, opened and closed in the lifespan."""

    def __init__(self, settings: GridHubSettings, api: ApiSettings, pool: AsyncConnectionPool):
        self.settings = settings
        self.api = api
        self.pool = pool
        self.areas = AreaIndex([])
        self.generation = 0  # rollup_generation as last seen
        self.cache = AnswerCache(api.cache_entries)
        self.keys: dict[str, tuple[float, object]] = {}  # key hash -> (looked up at, principal)
        self._listener: asyncio.Task | None = None

    async def open(self) -> None:
        await self.pool.open()
        await self.reload()
        self._listener = asyncio.create_task(self._listen(), name="gridhub-rollup-listener")

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, psycopg.Error):
                pass
        await self.pool.close()

    async def reload(self) -> None:
        """Read the generation and the area hierarchy again and forget cached answers."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT last_value, is_called FROM rollup_generation")
            row = await cur.fetchone()
            self.generation = row["last_value"] if row["is_called"] else 0
            self.areas = await AreaIndex.load(conn)
        self.cache.clear()

    async def _listen(self) -> None:
        """Follow NOTIFYs from rollup refreshes; reconnect after a lost connection."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.settings.database_url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                    await self.reload()  # anything missed while not listening
                    async for _ in conn.notifies():
                        await self.reload()
            except psycopg.OperationalError as exc:
                log.warning("rollup listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(2)
