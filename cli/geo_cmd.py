"""`gridhub geo`: how well the cascade places records, and whether a feed's CRS is what it says."""

from __future__ import annotations

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from demo.generate import read_truth
from geo.accuracy import TRUTH_COLUMNS, accuracy_report, missed_targets
from geo.crs_detect import detect_crs
from store.db import connect
from store.geocoding import load_geocoder, read_assignments, read_source_points

app = typer.Typer(no_args_is_help=True, add_completion=False)


def report_out() -> Console:
    """Reports go to stdout, sized to the terminal of this call."""
    return Console()


@app.command()
def accuracy(check: bool = typer.Option(False, help="exit 1 when a target share is missed")) -> None:
    """Share of demo records placed in their true grid, community and street, per method."""
    with friendly_errors():
        cfg = settings()
        truth_dir = cfg.demo_dir / "truth" / "records"
        if not any(truth_dir.glob("part-*.parquet")):
            console.print(f"[red]error:[/red] no demo truth under {truth_dir}: run `gridhub demo generate`")
            raise typer.Exit(1)
        with connect(database_url(cfg)) as conn:
            assigned = read_assignments(conn)
        report = accuracy_report(assigned, read_truth(cfg.demo_dir, columns=TRUTH_COLUMNS))
    titles = {"method": "by geocoding method", "input": "by what the record offered",
              "source": "by source and method"}
    for name, frame in report.items():
        report_out().print(_table(frame, f"Records in their true area, {titles[name]}"))
    missed = missed_targets(report["input"])
    for line in missed:
        console.print(f"[red]missed:[/red] {line}")
    if check and missed:
        raise typer.Exit(1)


@app.command("check-crs")
def check_crs(source: str = typer.Argument(..., help="name of an ingested source")) -> None:
    """Check a source's declared coordinate system against its addresses and grid codes."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        points = read_source_points(conn, source)
        if points.empty:
            console.print(f"[red]error:[/red] no stored cases of {source!r} with coordinates")
            raise typer.Exit(1)
        verdict = detect_crs(points, load_geocoder(conn))
    fits = pd.DataFrame([f.__dict__ for f in verdict.fits])
    report_out().print(_table(fits, f"{source}: {verdict.records} points, {verdict.evidence} with evidence"))
    report_out().print(verdict.message)
    if verdict.wrong:
        raise typer.Exit(1)


def _table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(*frame.columns, title=title)
    shares = [c.startswith("true_") or c in _SHARE_COLUMNS for c in frame.columns]
    for row in frame.itertuples(index=False):
        table.add_row(*[_cell(v, share) for v, share in zip(row, shares, strict=True)])
    return table


_SHARE_COLUMNS = {"in_city", "grid_code_agreement"}


def _cell(value, share: bool) -> str:
    if isinstance(value, float):
        return f"{value:.2%}" if share else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
