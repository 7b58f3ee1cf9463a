"""GridHub errors mapped to HTTP status codes in one place, each answered as an RFC 9457
problem (`application/problem+json`: type, title, status, detail, and GridHub's extras)."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from psycopg import OperationalError
from psycopg.errors import QueryCanceled
from starlette.exceptions import HTTPException

from api import schemas
from api.database import describe
from api.rendering import PROBLEM, dumps
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
# Retry-After of a statement timeout: a bulk load holds the rollups for longer than an outage.
TIMEOUT_RETRY_AFTER_SECONDS = "30"
# `type` of every problem: no page describes GridHub's problems beyond their status, so the
# title is the status's phrase (RFC 9457, 4.2.1) and `detail` says what went wrong.
PROBLEM_TYPE = "about:blank"


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extras) -> Response:
    """An RFC 9457 problem answer; `detail` is kept to one line."""
    body = {"type": PROBLEM_TYPE, "title": _phrase(status), "status": status,
            "detail": " ".join(detail.split()), **extras}
    return Response(dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _parameter_name(loc: tuple | list) -> str:
    """`limit` for ("query", "limit"); `key` for ("body", "key"); the place alone otherwise."""
    return ".".join(map(str, loc[1:])) if len(loc) > 1 else ".".join(map(str, loc))


def install(app: FastAPI) -> None:
    """Answer every error as a problem, and put the problem body in the OpenAPI document."""
    schemas.install(app)

    @app.exception_handler(GridHubError)
    async def _gridhub_error(request: Request, exc: GridHubError) -> Response:
        status = next((code for cls, code in STATUS_FOR.items() if isinstance(exc, cls)), 500)
        extras = {"parameter": exc.parameter} if isinstance(exc, BadParameterError) else {}
        headers = None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif status == 503:
            headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return problem(status, str(exc), headers, **extras)

    @app.exception_handler(OperationalError)
    async def _database_lost(request: Request, exc: OperationalError) -> Response:
        # The connection broke mid-request or the pool had none to give (the database went
        # away before the watcher noticed): as temporary as any other outage.
        return problem(503, f"database unreachable: {describe(exc)}; retry shortly",
                       {"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(QueryCanceled)
    async def _timed_out(request: Request, exc: QueryCanceled) -> Response:
        # The statement timeout: most often a bulk load holding the rollup tables until it
        # commits. The request was fine; asking again later will answer it.
        return problem(503, "the database did not answer in time (a bulk load may be rewriting"
                            " the rollups); retry shortly", {"Retry-After": TIMEOUT_RETRY_AFTER_SECONDS})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # One line naming every offending parameter, with the itemised list beside it.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        names = [_parameter_name(e["loc"]) for e in errors if e["loc"]]
        detail = "; ".join(f"{_parameter_name(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return problem(422, detail, parameters=names, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # Starlette's own (no such route, method not allowed) and the few raised by routers.
        detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
        return problem(exc.status_code, detail, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # A bug: the client gets a problem like any other; Starlette re-raises the exception
        # after this answer, so the server's log keeps its traceback.
        return problem(500, "internal error: the server could not answer this request")
