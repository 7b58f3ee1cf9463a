"""The audit log and request metrics, written by one ASGI middleware around every request.

Audit rows are queued in memory and written in batches, one statement each (every
GRIDHUB_API_AUDIT_FLUSH_SECONDS and at shutdown), so logging costs no round trip per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime

import psycopg
from prometheus_client import Counter, Gauge, Histogram

from api.hub import Hub

log = logging.getLogger("gridhub.api.audit")
UNAUDITED = frozenset({"/health", "/ready", "/metrics"})
# Rows kept while the database is away; beyond this new rows are dropped, rather than memory.
MAX_WAITING = 100_000
# A batch whose connection was lost may have been committed all the same: written again, its
# rows (each with the id its worker gave it) are skipped rather than stored twice.
INSERT_AUDIT = ("INSERT INTO audit_log (row_id, at, key_id, role, method, path, query, status, area_code,"
                " duration_ms) SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::bigint[], %s::text[],"
                " %s::text[], %s::text[], %s::text[], %s::integer[], %s::text[], %s::float8[])"
                " ON CONFLICT (row_id) DO NOTHING")
# Longest text kept of each field: a request line can be as long as the server lets it be.
MAX_PATH_CHARS = 2_000
MAX_QUERY_CHARS = 4_000
MAX_CODE_CHARS = 100

REQUESTS = Counter("gridhub_api_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("gridhub_api_request_seconds", "HTTP request latency", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
AUDIT_WAITING = Gauge("gridhub_api_audit_rows_waiting", "audit rows queued, not written yet",
                      multiprocess_mode="livesum")
AUDIT_DROPPED = Counter("gridhub_api_audit_rows_dropped_total",
                        "audit rows never written: queue_full (the database away too long) or"
                        " rejected (the database refused the row itself)", ["reason"])


def storable(text: str | None, limit: int) -> str | None:
    """Text PostgreSQL takes: NUL bytes shown as `\\x00` (a text column cannot hold them),
    anything that is not UTF-8 escaped, and at most `limit` characters."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def audit_row(scope: dict, status: int, elapsed: float) -> tuple:
    """The audit row of a finished request, its text fields made storable."""
    principal = scope.get("state", {}).get("principal")
    query = scope.get("query_string", b"").decode("latin-1") or None
    return (uuid.uuid4(), datetime.now(UTC), getattr(principal, "key_id", None),
            getattr(getattr(principal, "role", None), "value", None), storable(scope["method"], 20),
            storable(scope["path"], MAX_PATH_CHARS), storable(query, MAX_QUERY_CHARS), status,
            storable(scope.get("path_params", {}).get("code"), MAX_CODE_CHARS), elapsed * 1000)


class AuditWriter:
    """Queues audit rows and writes them in batches. A batch the database refuses for its
    data is written again row by row, and only the rows refused are dropped (counted); a lost
    connection keeps the rows for the next try."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.rows: list[tuple] = []
        self.dropped = 0  # since the last time the log said so
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def add(self, row: tuple) -> None:
        if len(self.rows) >= MAX_WAITING:
            self.dropped += 1
            AUDIT_DROPPED.labels("queue_full").inc()
            return
        self.rows.append(row)

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="gridhub-audit")

    async def stop(self) -> None:
        """Write what is queued (the pool must still be open). A flush under way is let finish:
        cancelling it mid-write would lose its batch."""
        self._stopping.set()
        if self._task:
            await self._task
        await self.flush()
        if self.rows:
            log.error("%d audit rows not written at shutdown: the database was away", len(self.rows))

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.hub.api.audit_flush_seconds)
            except TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:  # a bug here must not end audit writing for the worker's life
                log.exception("audit flush failed; will retry")

    async def flush(self) -> None:
        AUDIT_WAITING.set(len(self.rows))
        if not self.rows or self.hub.unavailable:  # rows wait for the database to come back
            return
        if self.dropped:
            log.error("%d audit rows dropped while the database was away", self.dropped)
            self.dropped = 0
        rows, self.rows = self.rows, []
        try:
            async with self.hub.write_pool.connection() as conn:
                await _write(conn, rows)
        except psycopg.OperationalError as exc:  # keep them for the next try rather than lose them
            log.error("audit rows not written yet (%s); will retry", exc)
            self._requeue(rows)
        except (psycopg.Error, ValueError) as exc:  # a row the database will never take
            log.warning("an audit batch was refused (%s); writing its rows one by one", _first_line(exc))
            await self._one_by_one(rows)
        AUDIT_WAITING.set(len(self.rows))

    async def _one_by_one(self, rows: list[tuple]) -> None:
        try:
            async with self.hub.write_pool.connection() as conn:
                for done, row in enumerate(rows):
                    try:
                        await _write(conn, [row])
                    except psycopg.OperationalError:
                        self._requeue(rows[done:])
                        raise
                    except (psycopg.Error, ValueError) as exc:
                        AUDIT_DROPPED.labels("rejected").inc()
                        log.error("audit row of %s %r dropped: %s", row[4], row[5], _first_line(exc))
        except psycopg.OperationalError as exc:
            log.error("audit rows not written yet (%s); will retry", exc)

    def _requeue(self, rows: list[tuple]) -> None:
        """Put rows back at the head of the queue, keeping it within MAX_WAITING."""
        self.rows[:0] = rows
        if len(self.rows) > MAX_WAITING:
            over = len(self.rows) - MAX_WAITING
            del self.rows[MAX_WAITING:]
            self.dropped += over
            AUDIT_DROPPED.labels("queue_full").inc(over)


async def _write(conn: psycopg.AsyncConnection, rows: list[tuple]) -> None:
    await conn.execute(INSERT_AUDIT, [list(column) for column in zip(*rows, strict=True)])


def _first_line(exc: BaseException) -> str:
    return next(iter(str(exc).strip().splitlines()), type(exc).__name__)


class AuditMiddleware:
    """Times each request, counts it for /metrics and queues its audit row."""

    def __init__(self, app, hub: Hub, writer: AuditWriter):
        self.app, self.hub, self.writer = app, hub, writer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = ("cached answer" if scope.get("gridhub_cached")
                        else getattr(route, "path", None) or "unmatched")
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            LATENCY.labels(template).observe(elapsed)
            if scope["path"] not in UNAUDITED:
                self.writer.add(audit_row(scope, status, elapsed))
