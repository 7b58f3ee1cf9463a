"""`gridhub db`: find or start PostGIS, migrate, report status, stop."""

from __future__ import annotations

import json

import typer

from cli.context import console, database_url, friendly_errors, settings
from store import migrations, provision
from store.db import redact

app = typer.Typer(help="The PostgreSQL + PostGIS database.", no_args_is_help=True)


@app.command()
def up() -> None:
    """Use DATABASE_URL, or start a private cluster (installing PostGIS if needed); migrate."""
    with friendly_errors():
        cfg = settings()
        info = provision.up(cfg.data_dir, cfg.database_url)
        applied = migrations.migrate(info.url)
    where = f"private cluster in {info.data_dir}" if info.private else "DATABASE_URL"
    console.print(f"database ready ({where}); {len(applied)} migration(s) applied")
    print(redact(info.url))


@app.command()
def migrate() -> None:
    """Apply schema migrations that are not applied yet."""
    with friendly_errors():
        url = database_url(settings())
        provision.ensure_database(url)
        applied = migrations.migrate(url)
    console.print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


@app.command()
def status() -> None:
    """Where the database is and whether it answers."""
    cfg = settings()
    state = provision.status(cfg.data_dir, cfg.database_url)
    if state.get("running"):
        state["pending_migrations"] = migrations.pending(database_url(cfg))
    print(json.dumps(state, indent=1))
    if not state.get("running"):
        raise typer.Exit(1)


@app.command()
def down() -> None:
    """Stop the private cluster (a DATABASE_URL server is never touched)."""
    stopped = provision.down(settings().data_dir)
    console.print("private cluster stopped" if stopped else "no private cluster was running")
