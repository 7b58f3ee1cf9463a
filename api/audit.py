"""The audit log and request metrics, written by one ASGI middleware around every request.

Audit rows are queued in memory and written in batches with COPY (every
GRIDHUB_API_AUDIT_FLUSH_SECONDS and at shutdown), so logging costs no round trip per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import psycopg
from prometheus_client import Counter, Histogram

from api.hub import Hub

log = logging.getLogger("gridhub.api.audit")
UNAUDITED = frozenset({"/health", "/ready", "/metrics"})
# Rows kept while the database is away; beyond this new rows are dropped, rather than memory.
MAX_WAITING = 100_000

REQUESTS = Counter("gridhub_api_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("gridhub_api_request_seconds", "HTTP request latency", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))


class AuditWriter:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.rows: list[tuple] = []
        self.dropped = 0
        self._task: asyncio.Task | None = None

    def add(self, row: tuple) -> None:
        if len(self.rows) >= MAX_WAITING:
            self.dropped += 1
            return
        self.rows.append(row)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="gridhub-audit")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
        if self.rows:
            log.error("%d audit rows not written at shutdown: the database was away", len(self.rows))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.api.audit_flush_seconds)
            await self.flush()

    async def flush(self) -> None:
        if not self.rows or self.hub.unavailable:  # rows wait for the database to come back
            return
        if self.dropped:
            log.error("%d audit rows dropped while the database was away", self.dropped)
            self.dropped = 0
        rows, self.rows = self.rows, []
        try:
            async with self.hub.pool.connection() as conn, conn.cursor() as cur:
                async with cur.copy("COPY audit_log (at, key_id, role, method, path, query, status,"
                                    " area_code, duration_ms) FROM STDIN") as copy:
                    for row in rows:
                        await copy.write_row(row)
        except psycopg.Error as exc:  # keep them for the next try rather than lose them
            log.error("audit rows not written yet (%s); will retry", exc)
            self.rows[:0] = rows


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
            path = scope["path"]
            if path not in UNAUDITED:
                principal = scope.get("state", {}).get("principal")
                query = scope.get("query_string", b"").decode("latin-1") or None
                self.writer.add((
                    datetime.now(UTC), getattr(principal, "key_id", None),
                    getattr(getattr(principal, "role", None), "value", None), scope["method"], path,
                    query, status, scope.get("path_params", {}).get("code"), elapsed * 1000))
