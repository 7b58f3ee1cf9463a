"""`gridhub quarantine`: what failed validation and why; replay it after a spec or suite fix."""

from __future__ import annotations

import json
from dataclasses import dataclass

import typer
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from connectors.spec import SourceSpec, load_specs
from core.errors import GridHubError, NotFoundError
from core.settings import GridHubSettings
from pipeline.ingest import IngestResult, process
from quality.quarantine import count_by_reason, list_quarantined
from quality.replay import ReplayPlan, link_replay
from store import locks, runs
from store.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False)


@dataclass
class ReplayResult:
    plan: ReplayPlan
    ingest: IngestResult


def replay_quarantine(spec: SourceSpec, cfg: GridHubSettings, url: str,
                      of_run: int | None = None) -> ReplayResult | None:
    """Re-process a source's open quarantine rows (of one run, if given) through the pipeline's
    own steps (map -> judge -> geocode -> merge) as a new run; None when nothing waits."""
    with connect(url) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM quarantine WHERE source = %s AND released_at IS NULL"
            " AND (%s::bigint IS NULL OR run_id = %s)", (spec.name, of_run, of_run)).fetchone()[0]
    if not waiting:
        return None
    run_id = runs.start_run(url, spec.name, {"format": spec.format.value, "replay_of": of_run})
    try:
        with connect(url) as conn:
            locks.hold_for_transaction(conn, locks.source_lock(spec.name))
            plan = link_replay(conn, spec.name, run_id, of_run)
            watermark = runs.get_watermark(conn, spec.name)
            runs.mark_landed(conn, run_id, plan.records, plan.fields, watermark, watermark)
    except BaseException as exc:
        runs.fail_run(url, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    return ReplayResult(plan, process(spec, cfg, url, run_id))


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
        with connect(url) as conn:
            released = conn.execute(
                "SELECT count(*) FROM quarantine WHERE released_run_id = %s AND release_note IS NULL",
                (result.ingest.run_id,)).fetchone()[0]
    loaded = result.ingest.counts.loaded
    table = Table("replay run", "replayed", "released", "of which new or changed", "still quarantined",
                  "superseded (released, not loaded)")
    table.add_row(str(result.ingest.run_id), f"{result.plan.records:,}", f"{released:,}",
                  f"{loaded:,}", f"{result.plan.records - released:,}",
                  f"{result.plan.superseded:,}")
    console.print(table)
