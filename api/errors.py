"""GridHub errors mapped to HTTP status codes in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.errors import (
    ConfigError,
    DatabaseUnavailableError,
    ForbiddenError,
    GridHubError,
    NotFoundError,
)

STATUS_FOR: dict[type[GridHubError], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    ConfigError: 400,
    DatabaseUnavailableError: 503,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(GridHubError)
    async def _gridhub_error(request: Request, exc: GridHubError) -> JSONResponse:
        status = next((code for cls, code in STATUS_FOR.items() if isinstance(exc, cls)), 500)
        return JSONResponse({"detail": str(exc)}, status_code=status)
