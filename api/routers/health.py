"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import logging
import os
from datetime import UTC, datetime

import psycopg
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from api.auth import current_principal, presented_key, require_admin
from api.database import describe
from api.hub import hub_of
from api.observability import SourceCollector
from api.schemas import KEY_SCHEMES, Health, Ready, errors
from store.source_metrics import source_facts

log = logging.getLogger("gridhub.api")
router = APIRouter(tags=["operations"])
READY_POOL_WAIT_SECONDS = 5  # a probe wants an answer sooner than the pool's own 30 s


@router.get("/health", response_model=Health)
async def health() -> dict:
    """Liveness: 200 while the process serves, database or not (no key needed)."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready, responses=errors(503))
async def ready(request: Request) -> dict:
    """Readiness: 200 when the database answers with PostGIS and every migration applied, else
    503 with the reason in one line (no key needed, no data shown)."""
    hub = hub_of(request)
    hub.check_database()
    async with hub.pool.connection(timeout=READY_POOL_WAIT_SECONDS) as conn:
        row = await (await conn.execute("SELECT postgis_lib_version() AS postgis")).fetchone()
    body = {"status": "ready", "postgis": row["postgis"], "generation": hub.generation}
    if hub.replica:
        body["replica"] = {"lag_seconds": hub.replica_lag}
    return body


async def metrics_reader(request: Request) -> None:
    """The metrics token (GRIDHUB_API_METRICS_TOKEN) as a Bearer token, or an admin key."""
    token = hub_of(request).api.metrics_token
    presented = presented_key(request.headers.get("authorization"), None)
    if token is not None and presented is not None and hmac.compare_digest(
            presented.encode(), token.get_secret_value().encode()):
        return
    await require_admin(await current_principal(request))


@router.get("/metrics", response_class=Response, dependencies=[*KEY_SCHEMES, Depends(metrics_reader)],
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition"}} | errors(401, 403, 503))
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and the audit queue of this worker (of all workers when
    PROMETHEUS_MULTIPROC_DIR is set), its answer cache, and every source's ingest figures read
    from the database now. Needs the metrics token or an admin key."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    hub = hub_of(request)
    facts = None
    if hub.unavailable is None:
        try:
            async with hub.pool.connection(timeout=READY_POOL_WAIT_SECONDS) as conn:
                facts = await source_facts(conn)
        except psycopg.Error as exc:  # the scrape still answers: gridhub_database_up says 0
            log.warning("ingest metrics not read: %s", describe(exc))
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(SourceCollector(facts, datetime.now(UTC)))
    body = generate_latest(registry) + generate_latest(scrape)
    body += (f"# HELP gridhub_api_cache_hits_total answers served from this worker's cache\n"
             f"# TYPE gridhub_api_cache_hits_total counter\n"
             f"gridhub_api_cache_hits_total {hub.cache.hits}\n"
             f"# HELP gridhub_api_cache_misses_total answers built from the rollups\n"
             f"# TYPE gridhub_api_cache_misses_total counter\n"
             f"gridhub_api_cache_misses_total {hub.cache.misses}\n"
             f"# HELP gridhub_rollup_generation rollup generation this worker serves\n"
             f"# TYPE gridhub_rollup_generation gauge\n"
             f"gridhub_rollup_generation {hub.generation}\n").encode()
    if hub.replica and hub.replica_lag is not None:
        body += (f"# HELP gridhub_replica_lag_seconds how far the replica this worker reads is behind\n"
                 f"# TYPE gridhub_replica_lag_seconds gauge\n"
                 f"gridhub_replica_lag_seconds {hub.replica_lag}\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
