"""What every command needs: settings, the database URL, and friendly errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.errors import ConfigError, GridHubError
from core.settings import GridHubSettings

console = Console(stderr=True)


def settings() -> GridHubSettings:
    """The settings from the environment; a bad value is a one-line ConfigError."""
    from pydantic import ValidationError

    try:
        return GridHubSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid setting ({problems})") from exc


def _variable(loc: tuple) -> str:
    """The environment variable behind a settings field."""
    field = str(loc[0]) if loc else "settings"
    return "DATABASE_URL" if field == "database_url" else f"GRIDHUB_{field.upper()}"


def database_url(cfg: GridHubSettings) -> str:
    """DATABASE_URL, else the private cluster started by `gridhub db up`."""
    from store.provision import resolve_url

    return resolve_url(cfg.database_url, cfg.data_dir)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn GridHub's own errors, and a database lost on the way, into a one-line message and
    exit code 1 (no traceback)."""
    import psycopg

    from store.db import one_line

    try:
        yield
    except GridHubError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except psycopg.OperationalError as exc:
        console.print(f"[red]error:[/red] cannot reach the database: {escape(one_line(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc


def progress_bar() -> Progress:
    # Only a terminal gets a bar: in a log or a pipe its last frame would sit beside the
    # one-line error or the results table and say nothing they don't.
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False,
                    disable=not console.is_terminal)
