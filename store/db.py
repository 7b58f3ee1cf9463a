"""Connections to PostGIS, and the rule for which database errors are worth a retry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors

from core.errors import ConfigError, DatabaseUnavailableError

# Errors that a retry can cure: lost connections, serialization failures, deadlocks.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.AdminShutdown,
)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, turning connection failures into a clear GridHub error."""
    try:
        # JIT compiling costs 0.1-1 s per statement; the pipeline's statements run once per
        # chunk over rows already staged, where that never pays back.
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, options="-c jit=off")
    except psycopg.OperationalError as exc:
        raise unreachable(url, exc) from exc


def unreachable(url: str, exc: psycopg.OperationalError) -> DatabaseUnavailableError:
    """The one-line error for a server that does not answer, with what to do about it."""
    return DatabaseUnavailableError(
        f"cannot reach {redact(url)}: {one_line(exc)}. Start that server, fix DATABASE_URL, or "
        "unset it and run `gridhub db up` for a private cluster")


def checked_url(url: str) -> str:
    """url, when libpq can read it; else a ConfigError that says what a URL looks like."""
    expected = "expected postgresql://user:password@host:5432/gridhub"
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        # libpq's reason can quote the whole string, password included: it is not repeated.
        raise ConfigError(f"DATABASE_URL is not a PostgreSQL connection string; {expected}") from exc
    # libpq parses the port only when it connects, and then fails with a long message.
    if not all(p.isdigit() for p in str(info.get("port", "5432")).split(",")):
        raise ConfigError(f"DATABASE_URL has the port {info['port']!r}, not a number; {expected}")
    return url


def one_line(exc: BaseException) -> str:
    """A database error's message on one line (libpq's messages span several)."""
    return "; ".join(part.strip() for part in str(exc).strip().splitlines() if part.strip())


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection that commits on success and rolls back on error."""
    with connect(url) as conn:
        yield conn


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return url
    info = psycopg.conninfo.conninfo_to_dict(url)
    if info.get("password"):
        info["password"] = "***"
    return psycopg.conninfo.make_conninfo(**info)


def with_dbname(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (URL or key=value form kept)."""
    if "://" not in url:
        info = psycopg.conninfo.conninfo_to_dict(url)
        info["dbname"] = dbname
        return psycopg.conninfo.make_conninfo(**info)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname)))


def dbname_of(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "postgres"
