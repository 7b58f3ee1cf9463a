"""`gridhub warn`: early warnings from the daily rollups, and their evaluation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from alerts.backtest import backtest_database, report_rows
from alerts.methods import Method
from alerts.run import run_warnings
from alerts.settings import AlertSettings
from cli.context import console, database_url, friendly_errors, settings

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@app.command("run")
def run(day: str = typer.Option(None, "--date", help="day to judge (default: the last day with data)")) -> None:
    """Judge one day: open, continue and close alerts, and map the day's hotspots."""
    as_of = _day(day)
    with friendly_errors():
        cfg = settings()
        result = run_warnings(database_url(cfg), as_of, AlertSettings.from_env().warn_settings())
    table = Table("", "", title=f"warnings as of {result.as_of}", title_justify="left",
                  show_header=False)
    for label, value in (("method", result.method), ("episodes judged", result.episodes),
                         ("alerts opened", result.opened), ("alerts updated", result.updated),
                         ("alerts closed", result.closed), ("hotspots", result.hotspots),
                         ("escalation findings", result.escalations),
                         ("seconds", f"{result.seconds:.1f}")):
        table.add_row(label, str(value))
    Console().print(table)


@app.command("backtest")
def backtest(truth: Path = typer.Option(None, help="outbreaks.json (default: the demo's truth)"),
             method: list[Method] = typer.Option(None, help="methods to score (default: all)"),
             check: bool = typer.Option(False, help="exit 1 unless the issue's targets are met")) -> None:
    """Score every method against the injected outbreaks: detected, delay, false alerts."""
    with friendly_errors():
        cfg = settings()
        truth = truth or cfg.demo_dir / "truth" / "outbreaks.json"
        report = backtest_database(database_url(cfg), truth, method or None)
    table = Table("method", "detected", "share", "median delay (days)", "false alerts",
                  "false / 100 area-weeks",
                  title=f"backtest {report.first_day.date()} .. {report.last_day.date()}",
                  title_justify="left")
    for row in report_rows(report):
        delay = "-" if row["median_delay_days"] is None else f"{row['median_delay_days']:g}"
        name = f"[bold]{row['method']}[/bold] (configured)" if row["configured"] else row["method"]
        table.add_row(name, row["detected"], f"{row['detected_share']:.0%}", delay,
                      str(row["false_alerts"]), f"{row['false_per_100_area_weeks']:.3f}")
    Console().print(table)
    targets = report.targets
    verdict = "[green]met[/green]" if report.passed else "[red]not met[/red]"
    console.print(f"targets (>= {targets.detected_share:.0%} detected, median delay <= "
                  f"{targets.median_delay:g} days, <= {targets.false_per_100_area_weeks:g} false alerts per "
                  f"100 area-weeks, better than EARS C2 at the same false-alert rate): {verdict}")
    if report.c2_matched is not None:
        console.print(f"EARS C2 at the same false-alert rate (threshold {report.c2_threshold:g}): "
                      f"{'beaten' if report.beats_c2 else 'not beaten'} by {report.configured.value}")
    if report.skipped_outbreaks:
        console.print(f"outbreaks outside the scored period: {report.skipped_outbreaks}")
    console.print(f"{report.seconds:.1f} s")
    if check and not report.passed:
        raise typer.Exit(1)
