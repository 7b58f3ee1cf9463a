"""`gridhub link`: link the records several agencies keep of one dispute, and how well it does."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from core.case import AreaLevel
from pipeline.linking import demo_accuracy, link_cases

app = typer.Typer(no_args_is_help=True, add_completion=False)
TARGET = 0.95  # precision and recall on the demo's true disputes (issue 28)


@app.command()
def run(area_level: AreaLevel = typer.Option(AreaLevel.COMMUNITY, help="level whose areas block records with no point")) -> None:
    """Link the cases not yet linked into dispute groups; running again adds nothing."""
    with friendly_errors():
        done = link_cases(database_url(settings()), area_level)
    console.print(f"linked {done.new_records:,} new cases: {done.links:,} links, "
                  f"{done.regrouped:,} older cases regrouped, {done.relinked:,} linked again"
                  " (their group held a changed record)")


@app.command()
def accuracy(check: bool = typer.Option(False, help="exit 1 when precision or recall is under 0.95")) -> None:
    """Pairwise precision, recall and F1 of linking the demo's records of one dispute across feeds."""
    with friendly_errors():
        score = demo_accuracy(settings().demo_dir)
    table = Table("records", "true disputes (2+ records)", "found groups (2+)", "precision", "recall", "F1",
                  title="Demo records linked into disputes, scored over record pairs")
    table.add_row(f"{score.records:,}", f"{score.true_groups:,}", f"{score.found_groups:,}",
                  f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}")
    Console().print(table)
    if check and min(score.precision, score.recall) < TARGET:
        console.print(f"[red]missed:[/red] precision and recall must each reach {TARGET}")
        raise typer.Exit(1)
