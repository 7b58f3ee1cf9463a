"""GridHub errors mapped to HTTP status codes in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg.errors import QueryCanceled

from api.database import describe
from core.errors import (
    ConfigError,
    DatabaseUnavailableError,
    ForbiddenError,
    GridHubError,
    NotFoundError,
)


class UnauthorizedError(GridHubError):
    """The request carries no valid API key."""


class BadParameterError(GridHubError):
    """A query parameter is well-typed but makes no sense (e.g. from after to)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class CodeFormatError(BadParameterError):
    """An area code that fits none of the city profile's code patterns (a malformed value)."""


class UnknownLevelError(BadParameterError):
    """A level name that is not one of the city profile's levels."""


STATUS_FOR: dict[type[GridHubError], int] = {
    CodeFormatError: 422,
    UnknownLevelError: 422,
    NotFoundError: 404,
    ForbiddenError: 403,
    UnauthorizedError: 401,
    BadParameterError: 400,
    ConfigError: 400,
    DatabaseUnavailableError: 503,
}
# Retry-After of a 503 while the database is away: a little more than the watcher's retry.
RETRY_AFTER_SECONDS = "5"


def install(app: FastAPI) -> None:
    @app.exception_handler(GridHubError)
    async def _gridhub_error(request: Request, exc: GridHubError) -> JSONResponse:
        status = next((code for cls, code in STATUS_FOR.items() if isinstance(exc, cls)), 500)
        body: dict = {"detail": str(exc)}
        if isinstance(exc, BadParameterError):
            body["parameter"] = exc.parameter
        headers = None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif status == 503:
            headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(OperationalError)
    async def _database_lost(request: Request, exc: OperationalError) -> JSONResponse:
        # The connection broke mid-request or the pool had none to give (the database went
        # away before the watcher noticed): as temporary as any other outage.
        return JSONResponse({"detail": f"database unreachable: {describe(exc)}; retry shortly"},
                            status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(QueryCanceled)
    async def _timed_out(request: Request, exc: QueryCanceled) -> JSONResponse:
        # The statement timeout: most often a bulk load holding the rollup tables until it
        # commits. The request was fine; asking again later will answer it.
        return JSONResponse({"detail": "the database did not answer in time (a bulk load may be"
                                       " rewriting the rollups); retry shortly"},
                            status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name every offending parameter plainly, next to FastAPI's own detail.
        errors = exc.errors()
        names = [str(e["loc"][-1]) for e in errors if e.get("loc")]
        safe = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                for e in errors]
        return JSONResponse({"detail": safe, "parameters": names}, status_code=422)
