"""What every command needs: settings, the database URL, and friendly errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.errors import GridHubError
from core.settings import GridHubSettings
from store.provision import PrivateCluster

console = Console(stderr=True)


def settings() -> GridHubSettings:
    return GridHubSettings()


def database_url(cfg: GridHubSettings) -> str:
    """DATABASE_URL, else the private cluster started by `gridhub db up`."""
    if cfg.database_url:
        return cfg.database_url
    url = PrivateCluster(cfg.data_dir / "pg").url()
    if url is None:
        raise GridHubError("no database: set DATABASE_URL, or run `gridhub db up` to start a private one")
    return url


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn GridHub's own errors into a one-line message and exit code 1 (no traceback)."""
    try:
        yield
    except GridHubError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)
