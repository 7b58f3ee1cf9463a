"""`gridhub quarantine`: what failed validation and why; replay it after a spec or suite fix."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from connectors.spec import load_specs
from core.errors import GridHubError, NotFoundError
from pipeline.replay import replay_quarantine
from store.db import connect
from store.quarantine import count_by_reason, list_quarantined

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("list")
def list_rows(source: str | None = typer.Option(None, help="only this source"),
              reason: str | None = typer.Option(None, help="a check name (e.g. reported_at_present)"
                                                " or words of a message"),
              run: int | None = typer.Option(None, help="only rows quarantined by this run"),
              released: bool = typer.Option(False, help="include rows already released"),
              limit: int = typer.Option(50, min=1, help="rows to show"),
              as_json: bool = typer.Option(False, "--json", help="JSON lines on stdout")) -> None:
    """List quarantined rows, newest first, with every reason, and a count per reason."""
    with friendly_errors():
        cfg = settings()
        with connect(database_url(cfg)) as conn:
            rows = list_quarantined(conn, source, reason, run, released, limit)
            totals = count_by_reason(conn, source)
    if as_json:
        for row in rows:
            print(json.dumps(row.__dict__, default=str, ensure_ascii=False))
        return
    table = Table("id", "source", "record", "run", "quarantined", "reasons", "released")
    for row in rows:
        table.add_row(str(row.quarantine_id), row.source, row.source_record_id or "-", str(row.run_id),
                      f"{row.quarantined_at:%Y-%m-%d %H:%M}",
                      "\n".join(f"{r['check']}: {r['message']}" for r in row.reasons),
                      f"run {row.released_run_id}" if row.released_at else "")
    console.print(table)
    summary = Table("source", "check", "open rows", title="open quarantine by reason",
                    title_justify="left")
    for src, check, count in totals:
        summary.add_row(src, check, f"{count:,}")
    console.print(summary)


@app.command("replay")
def replay(source: str = typer.Option(..., help="the source whose rows to replay"),
           run: int | None = typer.Option(None, help="only rows quarantined by this run")) -> None:
    """Re-process quarantined rows after a spec or suite fix; rows that pass now are loaded
    and leave quarantine (once), the others stay with their reasons."""
    with friendly_errors():
        cfg = settings()
        url = database_url(cfg)
        specs = load_specs(cfg.resolved_sources_dir)
        if source not in specs:
            raise NotFoundError(f"unknown source {source!r}; known: {sorted(specs)}")
        result = replay_quarantine(specs[source], cfg, url, run)
        if result is None:
            raise GridHubError(f"nothing to replay: no open quarantine rows of {source}"
                               + (f" from run {run}" if run else ""))
    released = result.released
    loaded = result.ingest.counts.loaded
    table = Table("replay run", "replayed", "released", "of which new or changed", "still quarantined",
                  "superseded (released, not loaded)")
    table.add_row(str(result.ingest.run_id), f"{result.plan.records:,}", f"{released:,}",
                  f"{loaded:,}", f"{result.plan.records - released:,}",
                  f"{result.plan.superseded:,}")
    console.print(table)
