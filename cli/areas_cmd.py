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
from geo.areas import read_area_file, read_code_file
from geo.grid_making import GridMethod, make_grids, write_datav
from pipeline.boundaries import (
    AreaChecksError,
    load_area_file,
    load_code_file,
    under_current_parents,
)
from store.areas import prepare_version, read_areas, read_gazetteer
from store.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False)


def report_out() -> Console:
    """Reports go to stdout, sized to the terminal of this call."""
    return Console()


def _read(path: Path, level: str, code_field: str | None, name_field: str | None,
          parent_field: str | None, crs: str | None, pad_to: int | None, codes: bool):
    profile = settings().profile
    if codes:
        return read_code_file(path, profile.slot_of(level), code_field=code_field,
                              name_field=name_field, parent_field=parent_field, pad_to=pad_to)
    return read_area_file(path, profile.slot_of(level), code_field=code_field,
                          name_field=name_field, parent_field=parent_field, crs=crs or profile.crs,
                          pad_to=pad_to)


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
PAD_CODES = typer.Option(None, "--pad-codes", min=1, help="right-pad codes and parent codes with zeros"
                         " to this many characters (DataV 530102 -> NBS 530102000000 with 12)")
EFFECTIVE = typer.Option(None, help="YYYY-MM-DD the new boundaries hold from"
                         " (default: today, or always for a first load)")
FORCE = typer.Option(False, help="load even when the checks find errors")


@app.command()
def load(path: Path = PATH, level: str = LEVEL, code_field: str = CODE_FIELD,
         name_field: str = NAME_FIELD, parent_field: str = PARENT_FIELD, crs: str = CRS_OPTION,
         pad_codes: int = PAD_CODES,
         dissolve_by: str = typer.Option(None, help="also make the level above: one area per value"
                                         " of FIELD, or of its first N characters with FIELD:N"
                                         " (code:1 groups by the code's first digit)"),
         dissolve_name_field: str = typer.Option(None, help="field naming each dissolved area"
                                                 " (one value per group; default: its key)"),
         effective: str = EFFECTIVE, complete: bool = COMPLETE, force: bool = FORCE) -> None:
    """Load areas as a new boundary version: checks, closes and opens rows, re-assigns cases."""
    with friendly_errors():
        cfg = settings()
        result = _loaded(lambda: load_area_file(
            database_url(cfg), cfg, path, level, code_field=code_field, name_field=name_field,
            parent_field=parent_field, crs=crs, pad_to=pad_codes, dissolve_by=dissolve_by,
            dissolve_name_field=dissolve_name_field, effective_from=_day(effective),
            complete=complete, force=force, on_report=_print_report, on_note=console.print))
    _print_result(result)


@app.command("load-codes")
def load_codes(path: Path = typer.Argument(..., exists=True, help="CSV (code, name, parent fields)"
                                           " or NBS JSON {parent: {code: name}}"),
               level: str = LEVEL,
               code_field: str = typer.Option(None, help="field holding the code (default code)"),
               name_field: str = typer.Option(None, help="field holding the name (default name)"),
               parent_field: str = typer.Option(None, help="field holding the parent code"
                                                " (default parent_code)"),
               pad_codes: int = PAD_CODES, effective: str = EFFECTIVE, complete: bool = COMPLETE,
               force: bool = FORCE) -> None:
    """Load a level known by codes and names only (no shapes): rows under the current level above."""
    with friendly_errors():
        cfg = settings()
        result = _loaded(lambda: load_code_file(
            database_url(cfg), cfg, path, level, code_field=code_field, name_field=name_field,
            parent_field=parent_field, pad_to=pad_codes, effective_from=_day(effective),
            complete=complete, force=force, on_report=_print_report, on_note=console.print))
    _print_result(result)


def _loaded(load):
    try:
        return load()
    except AreaChecksError:  # the report printed before lists the errors
        console.print("[red]not loaded:[/red] the checks found errors (--force loads anyway)")
        raise typer.Exit(1) from None


def _print_result(result) -> None:
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
         pad_codes: int = PAD_CODES,
         codes: bool = typer.Option(False, help="the file is a code list (as areas load-codes)"),
         complete: bool = COMPLETE) -> None:
    """Show what loading a file would change, and what the checks find, without loading it."""
    with friendly_errors():
        incoming = _read(path, level, code_field, name_field, parent_field, crs, pad_codes, codes)
        slot = settings().profile.slot_of(level)
        with connect(database_url(settings())) as conn:
            if codes:  # a code list may hold other cities and levels: only this one's rows
                incoming = under_current_parents(conn, settings().profile, path, incoming, slot)
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
