"""`gridhub quality`: validation records, the expectation suite, and GX Data Docs."""

from __future__ import annotations

import pandas as pd
import typer
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from connectors.spec import load_specs
from core.errors import NotFoundError
from quality.config import quality_config
from quality.docs import publish
from quality.suite import suite_rules
from store.db import connect
from store.quality_runs import read_record, recent_records
from store.runs import reap_orphans

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("runs")
def runs(source: str | None = typer.Option(None, help="only this source"),
         limit: int = typer.Option(20, min=1, help="runs to show")) -> None:
    """Recent validation runs: rows passed and failed, failing expectations, gates."""
    with friendly_errors():
        cfg = settings()
        with connect(database_url(cfg)) as conn:
            reap_orphans(conn)  # a killed run shows as failed, not running
            found = recent_records(conn, source, limit)
    table = Table("run", "source", "status", "rows", "passed", "failed", "failing expectations", "gates")
    for record, run in found:
        failing = [f"{e['key']} ({e['unexpected']:,})" for e in record.expectations
                   if e["unexpected"] and e["action"] == "quarantine"]
        stopped = [f"{g['gate']}: {g['message']}" for g in record.gates if not g["passed"]]
        table.add_row(str(record.run_id), record.source, run["status"], f"{record.rows_evaluated:,}",
                      f"{record.rows_passed:,}", f"{record.rows_failed:,}", "\n".join(failing),
                      "\n".join(stopped) or ("passed" if record.gates else ""))
    console.print(table)


@app.command("show")
def show(run: int = typer.Argument(..., help="a run id")) -> None:
    """Every expectation of one validation run with GX's counts, and the gates."""
    with friendly_errors():
        cfg = settings()
        with connect(database_url(cfg)) as conn:
            record = read_record(conn, run)
        if record is None:
            raise NotFoundError(f"run {run} has no validation record")
    table = Table("expectation", "action", "evaluated", "unexpected", "missing", "message",
                  title=f"run {run} of {record.source}: {record.rows_passed:,} passed,"
                        f" {record.rows_failed:,} failed", title_justify="left")
    _keys_whole(table, [e["key"] for e in record.expectations])
    for e in record.expectations:
        table.add_row(e["key"], e["action"], f"{e['evaluated']:,}", f"{e['unexpected']:,}",
                      f"{e['missing']:,}", e["message"])
    console.print(table)
    for gate in record.gates:
        mark = "[green]pass[/green]" if gate["passed"] else "[red]STOP[/red]"
        console.print(f"{mark} {gate['gate']}: {gate['message']}")


@app.command("suite")
def suite(source: str | None = typer.Option(None, help="include this source's own expectations")) -> None:
    """The expectations a source's rows must meet (the canonical suite without --source)."""
    with friendly_errors():
        cfg = settings()
        spec = None
        if source:
            specs = load_specs(cfg.resolved_sources_dir)
            if source not in specs:
                raise NotFoundError(f"unknown source {source!r}; known: {sorted(specs)}")
            spec = specs[source]
        rules = suite_rules(quality_config(spec), pd.Timestamp.now(tz="UTC").to_pydatetime(),
                            spec.timezone if spec else cfg.timezone)
    table = Table("key", "GX expectation", "columns", "action", "message")
    _keys_whole(table, [rule.key for rule in rules])
    for rule in rules:
        table.add_row(rule.key, rule.expectation, ", ".join(rule.columns), rule.action.value,
                      rule.message)
    console.print(table)


@app.command("docs")
def docs(limit: int = typer.Option(200, min=1, help="latest runs to render")) -> None:
    """Rebuild the GX Data Docs of the latest validation runs; prints the index path."""
    with friendly_errors():
        cfg = settings()
        with connect(database_url(cfg)) as conn:
            found = recent_records(conn, None, limit)
        index = None
        for record, run in reversed(found):
            index = publish(record, cfg.data_dir, run["finished_at"] or run["started_at"])
    if index is None:
        console.print("no validation runs yet")
        raise typer.Exit(1)
    print(index)


def _keys_whole(table: Table, keys: list[str]) -> None:
    """Never cut the first column's keys, however narrow the terminal: a key is what the spec,
    the suite and the run's record name, and a cut one matches none of them."""
    table.columns[0].no_wrap = True
    table.columns[0].min_width = max(map(len, keys), default=0) or None
