"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from api.auth import AdminPrincipal
from api.hub import hub_of

router = APIRouter(tags=["operations"])
READY_POOL_WAIT_SECONDS = 5  # a probe wants an answer sooner than the pool's own 30 s


@router.get("/health")
async def health() -> dict:
    """Liveness: 200 while the process serves, database or not (no key needed)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "the database is away; `detail` says why"}})
async def ready(request: Request) -> dict:
    """Readiness: 200 when the database answers with PostGIS and every migration applied, else
    503 with the reason in one line (no key needed, no data shown)."""
    hub = hub_of(request)
    hub.check_database()
    async with hub.pool.connection(timeout=READY_POOL_WAIT_SECONDS) as conn:
        row = await (await conn.execute("SELECT postgis_lib_version() AS postgis")).fetchone()
    return {"status": "ready", "postgis": row["postgis"], "generation": hub.generation}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, principal: AdminPrincipal) -> Response:
    """Prometheus metrics of this worker (of all workers when PROMETHEUS_MULTIPROC_DIR is set);
    needs an admin key."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    hub = hub_of(request)
    body = generate_latest(registry)
    body += (f"# HELP gridhub_api_cache_hits_total answers served from this worker's cache\n"
             f"# TYPE gridhub_api_cache_hits_total counter\n"
             f"gridhub_api_cache_hits_total {hub.cache.hits}\n"
             f"# HELP gridhub_api_cache_misses_total answers built from the rollups\n"
             f"# TYPE gridhub_api_cache_misses_total counter\n"
             f"gridhub_api_cache_misses_total {hub.cache.misses}\n"
             f"# HELP gridhub_rollup_generation rollup generation this worker serves\n"
             f"# TYPE gridhub_rollup_generation gauge\n"
             f"gridhub_rollup_generation {hub.generation}\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
