"""The FastAPI application factory: `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from pydantic import ValidationError
from starlette.middleware.cors import CORSMiddleware

from api import errors
from api.audit import AuditMiddleware, AuditWriter
from api.auth import check_auth_mode, current_principal
from api.cache import AnswerCache, CachedAnswerMiddleware
from api.compression import CompressionMiddleware
from api.database import WRITER_APPLICATION_NAME, database_ready, make_pool
from api.hub import Hub
from api.observability import REQUEST_ID_HEADER, RequestContextMiddleware, configure_logging
from api.rendering import OrjsonResponse
from api.routers import (
    areas,
    cases,
    dashboard,
    disputes,
    docs,
    health,
    links,
    ogc,
    quality,
    session,
    sources,
    stats,
    summary,
    tiles,
    warnings,
)
from api.settings import ApiSettings
from core.errors import ConfigError, GridHubError
from core.memory import existing_objects_frozen
from core.settings import GridHubSettings
from store.db import checked_url

# Every data router needs the database (503 at once while it is away) and a valid key; each
# endpoint then confines the key to its scope.
KEYED = [Depends(database_ready), Depends(current_principal)]


def create_app(settings: GridHubSettings | None = None, api_settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings default to the environment. Started from the environment
    (uvicorn, `gridhub serve`), a bad setting ends the process with one line saying what is
    wrong; with settings given, it raises."""
    from_environment = settings is None
    try:
        settings = (settings or GridHubSettings()).for_api()  # its own database role, if set
        api_settings = api_settings or ApiSettings()
        settings.check_secrets()
        if not settings.database_url:
            raise ConfigError("the API needs DATABASE_URL (or run it with `gridhub serve`)")
        url = checked_url(settings.database_url)  # malformed: a ConfigError saying how
        # Reads from a replica when one is given; writes always go to DATABASE_URL.
        replica = api_settings.read_database_url
        read_url = checked_url(settings.api_url(replica)) if replica else url
        hub = Hub(settings, api_settings, make_pool(read_url, api_settings),
                  AnswerCache(api_settings.cache_entries, api_settings.cache_bytes),
                  write_pool=make_pool(url, api_settings, WRITER_APPLICATION_NAME) if replica else None, read_url=read_url)
        check_auth_mode(hub)
        if from_environment:  # a server's logs; tests and embedders keep their own logging
            configure_logging(api_settings.log_format, api_settings.access_log)
    except (GridHubError, ValueError) as exc:  # ValueError: pydantic's, and check_secrets'
        if not from_environment:
            raise
        # uvicorn would print the factory's traceback; an operator needs the reason.
        raise SystemExit(f"error: {_one_line(exc)}") from None
    audit = AuditWriter(hub)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await hub.open()
        await audit.start()
        # Everything imported and loaded so far lives as long as the worker. Without this, each
        # full collection walks those ~120k objects (60-80 ms during which no request moves:
        # the benchmark's p99); frozen, they are left out of collections while it serves.
        with existing_objects_frozen():
            yield
        await audit.stop()
        await hub.close()

    app = FastAPI(title="GridHub", version="0.1.0", lifespan=lifespan,
                  default_response_class=OrjsonResponse, docs_url=None, redoc_url=None,  # api.routers.docs
                  description="Area-level dispute and incident views for governance grids. "
                              "Send an API key as `Authorization: Bearer <key>`.")
    app.state.hub = hub
    app.state.pool = hub.pool
    app.state.settings = settings
    app.state.audit = audit
    errors.install(app)
    app.add_middleware(CachedAnswerMiddleware, hub=hub)  # inside the audit: hits are audited too
    app.add_middleware(AuditMiddleware, hub=hub, writer=audit)
    # Outside the cache: answers it sends already gzipped pass through untouched.
    app.add_middleware(CompressionMiddleware)
    if hub.api.cors_origins:  # none by default: no CORS header at all
        app.add_middleware(CORSMiddleware, allow_origins=hub.api.cors_origins,
                           allow_methods=["GET", "HEAD"],
                           allow_headers=["Authorization", "X-API-Key", "If-None-Match", "X-Request-ID"],
                           expose_headers=["ETag", "Link", "Content-Disposition", "Retry-After",
                                           REQUEST_ID_HEADER.decode()],
                           max_age=600)  # no credentials: the session cookie stays same-site
    app.add_middleware(RequestContextMiddleware)  # outermost: every log line of a request has its id
    app.include_router(health.router)
    app.include_router(areas.router, dependencies=KEYED)
    app.include_router(summary.router, dependencies=KEYED)
    app.include_router(stats.router, dependencies=KEYED)
    app.include_router(cases.router, dependencies=KEYED)
    app.include_router(links.router, dependencies=KEYED)
    app.include_router(disputes.router, dependencies=KEYED)
    app.include_router(tiles.router, dependencies=KEYED)
    app.include_router(sources.router, dependencies=KEYED)
    app.include_router(quality.router, dependencies=KEYED)
    app.include_router(warnings.router, dependencies=KEYED)
    app.include_router(ogc.router, dependencies=KEYED)  # OGC API Features and Tiles for GIS clients
    app.include_router(session.router)  # its own gates: logging in needs no key yet
    app.include_router(docs.make_router(hub.api.dashboard_dir / "docs", app.openapi_url, app.title))
    app.include_router(dashboard.make_router(hub.api.dashboard_dir))  # the page and its scripts: no data, no key
    return app


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):  # name the environment variable behind each bad field
        prefix = {cls.__name__: cls.model_config["env_prefix"] for cls in (GridHubSettings, ApiSettings)}
        problems = "; ".join(f"{prefix.get(exc.title, '')}{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        return f"invalid setting ({problems})"
    return " ".join(str(exc).split())
