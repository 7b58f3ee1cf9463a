"""`gridhub areas`: load, compare, version and make governance area boundaries."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from cli.context import console, database_url, friendly_errors, settings
from core.case import AreaLevel
from geo.areas import read_area_file
from geo.grid_making import GridMethod, make_grids, write_datav
from pipeline.boundaries import AreaChecksError, load_area_file
from store.areas import prepare_version, read_areas, read_gazetteer
from store.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False)


def report_out() -> Console:
    """Reports go to stdout, sized to the terminal of this call."""
    return Console()


def _read(path: Path, level: str, code_field: str | None, name_field: str | None,
          parent_field: str | None, crs: str | None):
    profile = settings().profile
    return read_area_file(path, profile.slot_of(level), code_field=code_field,
                          name_field=name_field, parent_field=parent_field, crs=crs or profile.crs)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a YYYY-MM-DD day") from exc


PATH = typer.Argument(..., exists=True, help="GeoJSON (DataV style too), Shapefile or GeoPackage")
LEVEL = typer.Option(..., help="the level of every area in the file (a level name of the city profile)")
CODE_FIELD = typer.Option(None, help="property holding the code (default adcode/code)")
NAME_FIELD = typer.Option(None, help="property holding the name (default name, else the code)")
PARENT_FIELD = typer.Option(None, help="property holding the parent code (default parent/parent_code;"
                            " without one, the parent is the area of the level above it overlaps most)")
CRS_OPTION = typer.Option(None, "--crs", help="CRS of a file that declares none (default: the"
                          " profile's crs): WGS84, GCJ-02, BD-09, EPSG:<code>")
COMPLETE = typer.Option(False, help="the file is the whole level: current areas absent from it close")


@app.command()
def load(path: Path = PATH, level: str = LEVEL, code_field: str = CODE_FIELD,
         name_field: str = NAME_FIELD, parent_field: str = PARENT_FIELD, crs: str = CRS_OPTION,
         effective: str = typer.Option(None, help="YYYY-MM-DD the new boundaries hold from"
                                       " (default: today, or always for a first load)"),
         complete: bool = COMPLETE,
         force: bool = typer.Option(False, help="load even when the checks find errors")) -> None:
    """Load areas as a new boundary version: checks, closes and opens rows, re-assigns cases."""
    with friendly_errors():
        cfg = settings()
        try:
            result = load_area_file(database_url(cfg), cfg, path, level, code_field=code_field,
                                    name_field=name_field, parent_field=parent_field, crs=crs,
                                    effective_from=_day(effective), complete=complete,
                                    force=force, on_report=_print_report, on_note=console.print)
        except AreaChecksError:  # the report above lists the errors
            console.print("[red]not loaded:[/red] the checks found errors (--force loads anyway)")
            raise typer.Exit(1) from None
    plan = result.plan
    summary = ", ".join(f"{v} {k}" for k, v in plan.summary().items())
    if result.version_id is None:
        console.print(f"nothing to load: {summary}")
        return
    console.print(f"version {result.version_id} from {plan.effective_from}: {summary};"
                  f" {result.cases_reassigned} case(s) re-assigned")


@app.command()
def diff(path: Path = PATH, level: str = LEVEL, code_field: str = CODE_FIELD,
         name_field: str = NAME_FIELD, parent_field: str = PARENT_FIELD, crs: str = CRS_OPTION,
         complete: bool = COMPLETE) -> None:
    """Show what loading a file would change, and what the checks find, without loading it."""
    with friendly_errors():
        incoming = _read(path, level, code_field, name_field, parent_field, crs)
        slot = settings().profile.slot_of(level)
        with connect(database_url(settings())) as conn:
            plan, report = prepare_version(conn, incoming, slot, None, complete,
                                           slots=settings().profile.slots)
    report_out().print(_table(plan.rows(), f"{path.name} against the current {level} areas"))
    report_out().print(", ".join(f"{v} {k}" for k, v in plan.summary().items()))
    _print_report(report)


@app.command()
def versions() -> None:
    """List the boundary versions loaded so far."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        rows = conn.execute(
            "SELECT version_id, effective_from, level, added, changed, closed, unchanged,"
            " cases_reassigned, to_char(loaded_at, 'YYYY-MM-DD HH24:MI'), source"
            " FROM area_versions ORDER BY version_id").fetchall()
    frame = pd.DataFrame(rows, columns=["version", "effective_from", "level", "added", "changed",
                                        "closed", "unchanged", "cases_reassigned", "loaded_at", "source"])
    report_out().print(_table(frame, "Boundary versions"))


@app.command("make-grids")
def make_grids_command(
        out: Path = typer.Option(..., help="GeoJSON file to write (DataV style), then `areas load` it"),
        households: int = typer.Option(None, help="grid cells of about this many households"),
        square: float = typer.Option(None, help="regular squares of this side, in metres"),
        h3: int = typer.Option(None, help="H3 cells of this resolution (8-10 suit grid work)"),
        community: list[str] = typer.Option(None, help="only these community codes (repeatable)")) -> None:
    """Split the current communities into grid cells, for a city that has no grid layer yet."""
    chosen = [(GridMethod.HOUSEHOLDS, households), (GridMethod.SQUARE, square), (GridMethod.H3, h3)]
    chosen = [(m, v) for m, v in chosen if v is not None]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --households, --square, --h3")
    method, size = chosen[0]
    with friendly_errors():
        with connect(database_url(settings())) as conn:
            areas = read_areas(conn)
            addresses = read_gazetteer(conn) if method == GridMethod.HOUSEHOLDS else None
        communities = areas[areas["level"] == AreaLevel.COMMUNITY]
        if community:
            communities = communities[communities["code"].isin(community)]
        grids = make_grids(communities, method, size, addresses)
        write_datav(grids, out)
    console.print(f"wrote {len(grids):,} grid cells for {len(communities):,} communities to {out}")


def _print_report(report) -> None:
    frame = report.frame()
    if frame.empty:
        console.print(f"checks: {report.areas} area(s), no problems found")
        return
    report_out().print(_table(frame, f"Checks on {report.areas} area(s)"))


def _table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(*map(str, frame.columns), title=title)
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    return table
