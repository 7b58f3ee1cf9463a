"""`gridhub`: run every step of the hub from the command line, with no scheduler.

Each command group's module is imported only when that group runs, so `gridhub --help` and
the quick commands answer at once instead of loading pandas, Arrow and Great Expectations.
"""

from __future__ import annotations

import importlib
import json

import click
import typer
from typer.core import TyperGroup

from cli import ingest_cmd
from cli.context import console, friendly_errors, settings

# name -> (module holding a Typer app named `app`, one-line help shown by `gridhub --help`)
GROUPS: dict[str, tuple[str, str]] = {
    "db": ("cli.db_cmd", "The PostgreSQL + PostGIS database."),
    "demo": ("cli.demo_cmd", "The built-in demo city."),
    "areas": ("cli.areas_cmd", "Governance areas (city > district > street > community > grid)."),
    "keys": ("cli.keys_cmd", "API keys: role and area scope of each caller."),
    "geo": ("cli.geo_cmd", "Geocoding: accuracy against the demo truth, CRS checks."),
    "gazetteer": ("cli.gazetteer_cmd", "Address points: load a city's own, for address geocoding."),
    "sources": ("cli.ingest_cmd", "Source specs (one YAML file per agency feed)."),
    "quarantine": ("cli.quarantine_cmd", "Rows that failed validation: list them, replay them after a fix."),
    "quality": ("cli.quality_cmd", "Validation: the suite, the record of every run, Data Docs."),
    "warn": ("cli.warn_cmd", "Early warning: detectors, alerts, hotspots, backtest."),
    "link": ("cli.link_cmd", "Cross-agency linking: records of one dispute, accuracy on the demo."),
}


class LazyGroups(TyperGroup):
    """The top-level group: lists GROUPS from their help lines, loads one when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *GROUPS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in GROUPS and name not in self.commands:
            # Listed in help with its line, without importing its module.
            return click.Group(name, help=GROUPS[name][1])
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] in GROUPS and args[0] not in self.commands:
            module, help_line = GROUPS[args[0]]
            group = typer.main.get_command(importlib.import_module(module).app)
            group.help = help_line
            self.add_command(group, args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(cls=LazyGroups, help="GridHub: grid-based urban governance data integration hub.",
                  no_args_is_help=True, add_completion=False)
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
        url = database_url(cfg)
    # The API reads its settings from the environment: hand it the resolved database.
    os.environ["DATABASE_URL"] = url
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics then adds up every worker's counters.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridhub-metrics-")
    if access_log:  # the API's own access line (JSON, with the request id) replaces uvicorn's
        os.environ["GRIDHUB_API_ACCESS_LOG"] = "true"
    console.print(f"GridHub API on http://{host}:{port} (docs at /docs)")
    # Each spawned worker re-imports this CLI (and all it imports) before it can answer the
    # supervisor's health check: give it time on a busy machine rather than uvicorn's 5 s.
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=False, timeout_worker_healthcheck=120)


@app.command()
def settings_show() -> None:
    """Print the effective settings (secrets hidden)."""
    from rich.table import Table

    with friendly_errors():
        cfg = settings()
    table = Table("setting", "value")
    for key, value in json.loads(cfg.model_dump_json()).items():
        table.add_row(key, str(value))
    console.print(table)


def main() -> None:
    app()
