"""The FastAPI application factory: `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.database import make_pool
from api.routers import areas, health
from api.settings import ApiSettings
from core.errors import ConfigError
from core.settings import GridHubSettings


def create_app(settings: GridHubSettings | None = None, api_settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings default to the environment."""
    settings = settings or GridHubSettings()
    api_settings = api_settings or ApiSettings()
    settings.check_secrets()
    if not settings.database_url:
        raise ConfigError("the API needs DATABASE_URL (or run it with `gridhub serve`)")
    pool = make_pool(settings.database_url, api_settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(title="GridHub", version="0.1.0", lifespan=lifespan,
                  description="Area-level dispute and incident views for governance grids.")
    app.state.pool = pool
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(areas.router)
    return app
