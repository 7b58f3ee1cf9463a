"""`gridhub ingest` and `gridhub sources`: run and inspect agency feeds."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import console, database_url, friendly_errors, progress_bar, settings
from core.errors import GridHubError

if TYPE_CHECKING:
    from connectors.spec import SpecFolder
    from pipeline.ingest import IngestResult

# The pipeline (pandas, Arrow, Great Expectations) is imported inside the commands that run
# it, so `gridhub sources list` and `gridhub --help` answer at once.

app = typer.Typer(no_args_is_help=True, add_completion=False)

# Canonical columns shown by `sources check`, in reading order.
CHECK_COLUMNS = ("source_record_id", "kind", "category", "status", "outcome", "reported_at",
                 "closed_at", "src_x", "src_y", "src_crs", "address", "area_name",
                 "source_grid_code", "amount", "parties", "person_key")


@app.command("list")
def list_sources() -> None:
    """List the source specs in GRIDHUB_SOURCES_DIR, and every file that is not a valid spec
    with its reason (exit 1 then)."""
    from connectors.spec import read_spec_folder

    with friendly_errors():
        cfg = settings()
        found = read_spec_folder(cfg.resolved_sources_dir)
    specs = found.specs
    table = Table("agency", "kind", "format", "crs", "watermark", "schedule")
    table.add_column("name", no_wrap=True, min_width=max((len(n) for n in specs), default=4))
    table.columns.insert(0, table.columns.pop())
    for spec in specs.values():
        table.add_row(spec.name, spec.agency, spec.kind.value, spec.format.value, spec.crs,
                      spec.watermark or "", spec.schedule or "")
    console.print(table)
    _report_broken(found.broken)


def _report_broken(broken: dict) -> None:
    """One line per spec file that does not parse, then exit 1 (the others went ahead)."""
    for problem in broken.values():
        console.print(f"[red]error:[/red] {escape(problem)}", soft_wrap=True)
    if broken:
        raise typer.Exit(1)


@app.command("check")
def check(name: str = typer.Argument(..., help="a source name, or the path of a spec file"),
          rows: int = typer.Option(10, min=1, help="how many records to read")) -> None:
    """Parse a spec, read a sample, print the mapped rows and every problem found."""
    from connectors.spec import load_spec
    from pipeline.demo import feed_variables
    from pipeline.ingest import check_source

    with friendly_errors():
        cfg = settings()
        spec = load_spec(_path(name)) if name.endswith((".yaml", ".yml")) else _named(cfg, name)
        url = _optional_database(cfg)
        with feed_variables(cfg, url, os.environ, specs=[spec]) if url else _no_services() as variables:
            result = check_source(spec, cfg, rows=rows, variables=variables)
    for index, case in result.cases.iterrows():
        table = Table("field", "value", title=f"{spec.name}: record {index}", title_justify="left")
        for column in CHECK_COLUMNS:
            if not _missing(case[column]):
                table.add_row(column, str(case[column]))
        console.print(table)
        for reason in result.reasons.at[index]:
            console.print(f"[yellow]record {index}[/yellow] {reason['check']}: {reason['message']}")
    bad = [i for i, r in result.reasons.items() if r]
    console.print(f"{len(result.cases)} record(s) read, {len(bad)} with problems")
    if bad:
        raise typer.Exit(1)


@app.command("runs")
def list_runs(source: str | None = typer.Option(None, help="only this source"),
              limit: int = typer.Option(20, min=1, help="runs to show")) -> None:
    """Recent ingest runs, newest first: status, counts and error. A run still marked running
    whose process is gone (killed) is marked failed first."""
    from store.db import connect
    from store.runs import reap_orphans, recent_runs

    with friendly_errors():
        cfg = settings()
        with connect(database_url(cfg)) as conn:
            reaped = reap_orphans(conn)
            found = recent_runs(conn, source, limit)
    table = Table("run", "source", "status", "started", "finished", "read", "loaded", "quarantined", "error")
    for run in found:
        table.add_row(str(run["run_id"]), run["source"], run["status"], f"{run['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{run['finished_at']:%Y-%m-%d %H:%M:%S}" if run["finished_at"] else "",
                      _count(run["records_read"]), _count(run["loaded"]), _count(run["quarantined"]),
                      escape(run["error"] or ""))
    console.print(table)
    for run_id, name in reaped:
        console.print(f"[yellow]run {run_id} of {escape(name)} was still marked running but its"
                      " process is gone: marked failed[/yellow]", soft_wrap=True)


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def ingest(names: list[str] = typer.Argument(None, help="source names"),
           all_: bool = typer.Option(False, "--all", help="ingest every source")) -> None:
    """Ingest sources: read, land raw, validate, geocode, load, refresh rollups. A spec file
    that does not parse stops only its own source."""
    from connectors.spec import read_spec_folder

    with friendly_errors():
        cfg = settings()
        url = database_url(cfg)
        found = read_spec_folder(cfg.resolved_sources_dir)
        results = run_ingests(cfg, url, found, names or [], all_)
    print_results(results)
    if not all(r.counts.adds_up() for r in results):
        raise typer.Exit(2)
    if all_:
        _report_broken(found.broken)


def run_ingests(cfg, url: str, found: SpecFolder, names: list[str],
                all_: bool) -> list[IngestResult]:
    """Ingest the named sources (or every valid one), with a progress bar per source."""
    from pipeline.demo import feed_variables
    from pipeline.ingest import ingest as ingest_source

    if all_:
        names = list(found.specs)
    if not names:
        raise GridHubError("name at least one source, or use --all (see `gridhub sources list`)")
    specs = {name: _spec_named(found, name) for name in names}
    results = []
    chosen = list(specs.values())
    with feed_variables(cfg, url, os.environ, specs=chosen) as variables, progress_bar() as bar:
        for name in names:
            task = bar.add_task(f"ingest {name}", total=None)

            def advance(step: str, n: int, task=task) -> None:
                if step == "land":  # the total is known once the source is read
                    bar.update(task, total=(bar.tasks[task].total or 0) + n)
                else:
                    bar.advance(task, n)

            results.append(ingest_source(specs[name], cfg, url, progress=advance, variables=variables))
    return results


def print_results(results: list[IngestResult]) -> None:
    """The final per-source table of counts."""
    table = Table("run", "read", "inserted", "updated", "quarantined", "duplicates", "adds up")
    table.add_column("source", no_wrap=True, min_width=max((len(r.source) for r in results), default=6))
    table.columns.insert(0, table.columns.pop())
    for r in results:
        c = r.counts
        table.add_row(r.source, str(r.run_id), f"{c.records_read:,}", f"{c.inserted:,}",
                      f"{c.updated:,}", f"{c.quarantined:,}", f"{c.duplicates:,}",
                      "yes" if c.adds_up() else "[red]NO[/red]")
    console.print(table)


def _named(cfg, name: str):
    from connectors.spec import read_spec_folder

    return _spec_named(read_spec_folder(cfg.resolved_sources_dir), name)


def _spec_named(found: SpecFolder, name: str):
    """The valid spec of that name; else why its file is broken, or that it is unknown."""
    if name in found.specs:
        return found.specs[name]
    for path, problem in found.broken.items():
        if path.stem == name:
            raise GridHubError(problem)
    raise GridHubError(f"unknown source {name!r}; known: {sorted(found.specs)}")


def _path(name: str):
    from pathlib import Path

    return Path(name)


def _optional_database(cfg) -> str | None:
    """The database URL when one is configured (the demo's district feed needs it), else None."""
    try:
        return database_url(cfg)
    except GridHubError:
        return None


class _no_services:  # noqa: N801 - reads as a context manager name
    def __enter__(self) -> dict[str, str]:
        return dict(os.environ)

    def __exit__(self, *exc) -> None:
        return None


def _missing(value) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_scalar(value) and pd.isna(value))
