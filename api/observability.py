"""What operators read: structured logs with a request id, and the ingest figures of /metrics.

Logs are one JSON object per line (time, level, logger, message and, within a request,
request_id, method and path; an access line adds status and duration_ms). The request id is
the caller's `X-Request-ID` when it looks like one, else a new one, and is echoed in the
response's `X-Request-ID`.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from store.source_metrics import SourceFacts

REQUEST_ID_HEADER = b"x-request-id"
# An id worth echoing into logs and headers: printable, short, nothing a log reader could trip on.
_GOOD_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
access_log = logging.getLogger("gridhub.api.access")
# New ids: this process's random prefix and a counter (unique without a system call per request).
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str


# Each request runs in its own task, so this never leaks from one request into another.
current_request: ContextVar[RequestContext | None] = ContextVar("gridhub_request", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request's id, method and path when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_request.get()
        if context is not None:
            entry |= {"request_id": context.request_id, "method": context.method, "path": context.path}
        for field in ("status", "duration_ms"):  # an access line's own
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _GridHubHandler(logging.StreamHandler):
    """Marks the handler this module installed, so that configuring twice replaces it."""


def configure_logging(log_format: str, access: bool) -> None:
    """Send GridHub's and uvicorn's logs to stderr as JSON lines (or uvicorn's plain text).

    uvicorn's own handlers go: its lines then reach the root logger in the same format.
    uvicorn's access line is left out either way: GridHub's (with the request id) replaces it.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _GridHubHandler)]:
        root.removeHandler(handler)
    handler = _GridHubHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    access_log.disabled = not access


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is a plausible id, else a new one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER and _GOOD_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


class RequestContextMiddleware:
    """Gives each request its id (logged with every line it causes, echoed in X-Request-ID)
    and writes its access line when GRIDHUB_API_ACCESS_LOG is on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        current_request.set(RequestContext(request_id, scope["method"], scope["path"]))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        echoed = request_id.encode("ascii")

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, echoed)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not access_log.disabled and access_log.isEnabledFor(logging.INFO):
                elapsed = round((time.perf_counter() - started) * 1000, 2)
                access_log.info("%s %s %s", scope["method"], scope["path"], status,
                                extra={"status": status, "duration_ms": elapsed})


class SourceCollector(Collector):
    """The ingest figures of every source, read from the database at scrape time
    (store.source_metrics); `gridhub_database_up` 0 when they could not be read."""

    def __init__(self, facts: SourceFacts | None, now: datetime):
        self.facts, self.now = facts, now

    def collect(self):
        up = GaugeMetricFamily("gridhub_database_up", "1 when this scrape could read the database")
        up.add_metric([], 1 if self.facts is not None else 0)
        yield up
        if self.facts is None:
            return
        runs = CounterMetricFamily("gridhub_ingest_runs", "ingest runs by final status", labels=["source", "status"])
        records = CounterMetricFamily(
            "gridhub_ingest_records", "records of succeeded runs: read = loaded + quarantined + duplicates",
            labels=["source", "outcome"])
        last_success = GaugeMetricFamily("gridhub_ingest_last_success_timestamp_seconds",
                                         "when the source's last succeeded run finished", labels=["source"])
        newest = GaugeMetricFamily("gridhub_source_newest_record_timestamp_seconds",
                                   "report time of the newest record a succeeded run delivered",
                                   labels=["source"])
        freshness = GaugeMetricFamily("gridhub_source_freshness_seconds",
                                      "age of the newest record a succeeded run delivered", labels=["source"])
        for s in self.facts.sources:
            for status, count in s.runs_by_status.items():
                runs.add_metric([s.source, status], count)
            for outcome, count in s.records.items():
                records.add_metric([s.source, outcome], count)
            if s.last_success_at is not None:
                last_success.add_metric([s.source], s.last_success_at.timestamp())
            if s.newest_reported_at is not None:
                newest.add_metric([s.source], s.newest_reported_at.timestamp())
                freshness.add_metric([s.source], (self.now - s.newest_reported_at).total_seconds())
        quarantined = CounterMetricFamily(
            "gridhub_quarantine_records", "records ever quarantined, by reason (a record counts once"
            " under each of its reasons)", labels=["source", "reason"])
        waiting = GaugeMetricFamily("gridhub_quarantine_open_records",
                                    "records waiting in quarantine, by reason", labels=["source", "reason"])
        for q in self.facts.quarantine:
            quarantined.add_metric([q.source, q.reason], q.total)
            waiting.add_metric([q.source, q.reason], q.open)
        yield from (runs, records, last_success, newest, freshness, quarantined, waiting)
