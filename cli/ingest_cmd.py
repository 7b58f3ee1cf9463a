"""`gridhub ingest` and `gridhub sources`: run and inspect agency feeds."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.context import console, database_url, friendly_errors, progress_bar, settings
from connectors.spec import load_specs
from core.errors import GridHubError
from pipeline.ingest import IngestResult
from pipeline.ingest import ingest as ingest_source

sources_app = typer.Typer(help="Source specs (one YAML file per agency feed).", no_args_is_help=True)


@sources_app.command("list")
def list_sources() -> None:
    """List the source specs in GRIDHUB_SOURCES_DIR."""
    with friendly_errors():
        cfg = settings()
        specs = load_specs(cfg.resolved_sources_dir)
    table = Table("name", "agency", "kind", "format", "crs", "schedule")
    for spec in specs.values():
        table.add_row(spec.name, spec.agency, spec.kind.value, spec.format.value, spec.crs,
                      spec.schedule or "")
    console.print(table)


def ingest(names: list[str] = typer.Argument(None, help="source names"),
           all_: bool = typer.Option(False, "--all", help="ingest every source")) -> None:
    """Ingest sources: read, land raw, validate, geocode, load, refresh rollups."""
    with friendly_errors():
        cfg = settings()
        url = database_url(cfg)
        results = run_ingests(cfg, url, names or [], all_)
    print_results(results)
    if not all(r.counts.adds_up() for r in results):
        raise typer.Exit(2)


def run_ingests(cfg, url: str, names: list[str], all_: bool) -> list[IngestResult]:
    """Ingest the named sources (or all), with a progress bar per source."""
    specs = load_specs(cfg.resolved_sources_dir)
    if all_:
        names = list(specs)
    if not names:
        raise GridHubError("name at least one source, or use --all (see `gridhub sources list`)")
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise GridHubError(f"unknown source(s) {unknown}; known: {sorted(specs)}")
    results = []
    with progress_bar() as bar:
        for name in names:
            task = bar.add_task(f"ingest {name}", total=None)
            results.append(ingest_source(specs[name], cfg, url,
                                         progress=lambda n, t=task: bar.advance(t, n)))
            bar.update(task, total=results[-1].counts.records_read)
    return results


def print_results(results: list[IngestResult]) -> None:
    table = Table("source", "run", "read", "inserted", "updated", "quarantined", "duplicates", "adds up")
    for r in results:
        c = r.counts
        table.add_row(r.source, str(r.run_id), f"{c.records_read:,}", f"{c.inserted:,}",
                      f"{c.updated:,}", f"{c.quarantined:,}", f"{c.duplicates:,}",
                      "yes" if c.adds_up() else "[red]NO[/red]")
    console.print(table)
