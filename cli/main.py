"""`gridhub`: run every step of the hub from the command line, with no scheduler."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from cli import (
    areas_cmd,
    db_cmd,
    demo_cmd,
    geo_cmd,
    ingest_cmd,
    keys_cmd,
    quality_cmd,
    quarantine_cmd,
    warn_cmd,
)
from cli.context import console, friendly_errors, settings

app = typer.Typer(help="GridHub: grid-based urban governance data integration hub.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(db_cmd.app, name="db")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(areas_cmd.app, name="areas")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(geo_cmd.app, name="geo")
app.add_typer(ingest_cmd.sources_app, name="sources")
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(quality_cmd.app, name="quality")
app.add_typer(warn_cmd.app, name="warn")
app.command("ingest")(ingest_cmd.ingest)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="interface to listen on"),
          port: int = typer.Option(8000, help="TCP port"),
          workers: int = typer.Option(1, help="uvicorn worker processes: one suits a 2-core machine that also runs PostgreSQL; add one per extra core"),
          access_log: bool = typer.Option(False, help="log every request (the audit log keeps them anyway)")) -> None:
    """Serve the HTTP API (FastAPI + uvicorn); keys come from `gridhub keys create`."""
    import os
    import tempfile

    import uvicorn

    from cli.context import database_url

    with friendly_errors():
        cfg = settings()
        cfg.check_secrets()
        url = database_url(cfg)
    # The API reads its settings from the environment: hand it the resolved database.
    os.environ["DATABASE_URL"] = url
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics then adds up every worker's counters.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridhub-metrics-")
    console.print(f"GridHub API on http://{host}:{port} (docs at /docs)")
    # Each spawned worker re-imports this CLI (and all it imports) before it can answer the
    # supervisor's health check: give it time on a busy machine rather than uvicorn's 5 s.
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=access_log, timeout_worker_healthcheck=120)


@app.command()
def settings_show() -> None:
    """Print the effective settings (secrets hidden)."""
    cfg = settings()
    table = Table("setting", "value")
    for key, value in json.loads(cfg.model_dump_json()).items():
        table.add_row(key, str(value))
    console.print(table)


def main() -> None:
    app()
