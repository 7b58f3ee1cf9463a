"""The Hub: what every request handler shares in one worker (pool, settings, areas, answer
cache), and the watcher that keeps it current with the database."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import psycopg
from fastapi import Request
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.areaindex import AreaIndex
from api.database import CONNECT_TIMEOUT_SECONDS, WATCHER_APPLICATION_NAME, describe
from api.settings import ApiSettings
from core.errors import DatabaseUnavailableError
from core.settings import GridHubSettings
from store import migrations
from store.rollups import NOTIFY_CHANNEL

if TYPE_CHECKING:  # api.cache serves answers from a Hub: it imports this module
    from api.cache import AnswerCache

log = logging.getLogger("gridhub.api")
# What the API reads from a replica it follows: its rollup generation and how far behind the
# primary it is (0 while streaming and every record received is replayed; else the time since
# the last transaction it replayed, which grows while the primary is away; 0 on a primary).
REPLICA_STATE = """
SELECT (SELECT generation FROM rollup_state) AS generation,
       CASE WHEN NOT pg_is_in_recovery() THEN 0.0
            WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag"""
RETRY_SECONDS = 2  # between attempts to get the database back
FIRST_ATTEMPT_SECONDS = 15  # how long start-up waits for the database before serving without it


class _PoolAttemptsWhileAway(logging.Filter):
    """Drops psycopg_pool's warning about each failed connection attempt (two lines, again at
    every retry) while the watcher has already said, once, that the database is away and why.
    With the database there, such a warning is news (too many clients, say) and stays."""

    def __init__(self, hub: Hub):
        super().__init__()
        self.hub = hub

    def filter(self, record: logging.LogRecord) -> bool:
        return self.hub.unavailable is None or not record.getMessage().startswith("error connecting in")


class Hub:
    """Per-worker state: built in the app factory, opened and closed in the lifespan.

    A watcher task keeps one connection of its own to the database: it loads the areas and
    the rollup generation whenever that connection is (re)gained, follows the NOTIFYs of
    rollup refreshes, and otherwise records in `unavailable` why the database cannot serve,
    so that requests are refused at once (503) instead of waiting on the pool.
    """

    def __init__(self, settings: GridHubSettings, api: ApiSettings, pool: AsyncConnectionPool,
                 cache: AnswerCache, write_pool: AsyncConnectionPool | None = None, read_url: str | None = None):
        self.settings = settings
        self.api = api
        self.pool = pool  # reads: the replica's, when the API reads from one
        self.write_pool = write_pool or pool  # audit rows and acknowledgements: the primary's
        self.read_url = read_url or settings.database_url
        self.replica = write_pool is not None
        self.replica_lag: float | None = None  # seconds the replica's answers are behind, when known
        self.areas = AreaIndex([])
        self.generation = 0  # rollup_generation as last seen
        self.cache = cache
        self.keys: dict[str, tuple[float, object]] = {}  # key hash -> (looked up at, principal)
        self.unavailable: str | None = "the database has not been reached yet"
        self._first_attempt = asyncio.Event()
        self._watcher: asyncio.Task | None = None
        self._quiet = _PoolAttemptsWhileAway(self)

    async def open(self) -> None:
        """Open the pool and start the watcher; wait a little for a first answer."""
        logging.getLogger("psycopg.pool").addFilter(self._quiet)
        await self.pool.open(wait=False)  # the API starts, and keeps trying, with the database down
        if self.replica:
            await self.write_pool.open(wait=False)
        self._watcher = asyncio.create_task(self._watch(), name="gridhub-database-watcher")
        # With the database there, serve with the areas already loaded; without it, serve
        # /health and /ready now and data once the watcher gets through.
        try:
            await asyncio.wait_for(self._first_attempt.wait(), FIRST_ATTEMPT_SECONDS)
        except TimeoutError:
            log.warning("the database has not answered in %s s; starting without it", FIRST_ATTEMPT_SECONDS)

    async def close(self) -> None:
        """Stop the watcher and close the pool."""
        if self._watcher:
            self._watcher.cancel()
            try:
                await self._watcher
            except (asyncio.CancelledError, psycopg.Error):
                pass
        await self.pool.close()
        if self.replica:
            await self.write_pool.close()
        logging.getLogger("psycopg.pool").removeFilter(self._quiet)

    def check_database(self) -> None:
        """Raise DatabaseUnavailableError (503) while the database cannot serve."""
        if self.unavailable is not None:
            raise DatabaseUnavailableError(self.unavailable)

    async def reload(self) -> None:
        """Read the generation and the area hierarchy again and forget cached answers."""
        async with self.pool.connection() as conn:
            await self._load(conn)

    async def _load(self, conn: psycopg.AsyncConnection) -> None:
        cur = await conn.execute("SELECT generation FROM rollup_state")
        self.generation = (await cur.fetchone())["generation"]
        self.areas = await AreaIndex.load(conn)
        self.cache.clear()

    async def _check_schema(self, conn: psycopg.AsyncConnection) -> None:
        """PostGIS and every migration this code expects must be in the database."""
        cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        if await cur.fetchone() is None:
            raise DatabaseUnavailableError("PostGIS is not installed in the database"
                                           " (run `gridhub db up`, or CREATE EXTENSION postgis)")
        missing = await asyncio.to_thread(migrations.pending, self.read_url)
        if missing:
            raise DatabaseUnavailableError(f"the database lacks {len(missing)} migration(s), from"
                                           f" {missing[0]} (run `gridhub db migrate`)")

    async def _watch(self) -> None:
        """Hold a connection to the database, and get it back after losing it.

        A connection lost while serving (its backend terminated, say) is replaced at once,
        requests going on meanwhile; only when that fails too is the database away (503)."""
        at_once = False  # the next attempt follows the loss of a serving connection
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.read_url, autocommit=True, row_factory=dict_row,
                        connect_timeout=CONNECT_TIMEOUT_SECONDS,
                        application_name=WATCHER_APPLICATION_NAME) as conn:
                    if not self.replica:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                    await self._check_schema(conn)
                    await self._load(conn)  # anything missed while not listening
                    await self.pool.check()  # drop pooled connections broken while it was away
                    self._available()
                    at_once = True
                    if self.replica:
                        await self._follow_replica(conn)
                    async for _ in conn.notifies():
                        await self.reload()
            except psycopg.OperationalError as exc:
                if at_once and self.unavailable is None:
                    at_once = False
                    log.info("the database watcher lost its connection (%s); reconnecting", describe(exc))
                    continue
                self._unavailable(f"database unreachable: {describe(exc)}", exc)
            except psycopg.Error as exc:  # reachable, but not as this code expects (schema, rights)
                self._unavailable(f"database not usable: {describe(exc)}", exc)
            except DatabaseUnavailableError as exc:
                self._unavailable(str(exc))
            at_once = False
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow_replica(self, conn: psycopg.AsyncConnection) -> None:
        """A standby cannot LISTEN: read its rollup generation and lag every poll instead, and
        reload when the generation has moved on (its refresh replayed)."""
        while True:
            row = await (await conn.execute(REPLICA_STATE)).fetchone()
            self.replica_lag = row["lag"]
            if row["generation"] != self.generation:
                await self._load(conn)
            await asyncio.sleep(self.api.replica_poll_seconds)

    def _available(self) -> None:
        if self.unavailable is not None and self._first_attempt.is_set():
            log.warning("the database is back; serving again")  # as visible as its loss
        self.unavailable = None
        self._first_attempt.set()

    def _unavailable(self, reason: str, exc: psycopg.Error | None = None) -> None:
        if reason != self.unavailable or not self._first_attempt.is_set():  # once, not every retry
            # libpq's own first line names the server, which the reason leaves out.
            detail = f" ({next(iter(str(exc).strip().splitlines()), '')})" if exc else ""
            log.warning("%s; answering 503 and retrying every %s s%s", reason, RETRY_SECONDS, detail)
        self.unavailable = reason
        self._first_attempt.set()


def hub_of(request: Request) -> Hub:
    """The Hub of the worker serving this request."""
    return request.app.state.hub
