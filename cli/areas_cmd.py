"""`gridhub areas`: load governance area boundaries."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.context import console, database_url, friendly_errors, settings
from core.case import AreaLevel
from geo.areas import read_area_file
from store.areas import replace_current_areas
from store.db import connect

app = typer.Typer(help="Governance areas (city > district > street > community > grid).",
                  no_args_is_help=True)


@app.command()
def load(path: Path = typer.Argument(..., exists=True, help="GeoJSON, Shapefile or GeoPackage"),
         level: AreaLevel = typer.Option(..., help="the level of every area in the file"),
         code_field: str = typer.Option(None, help="property holding the code (default adcode/code)"),
         name_field: str = typer.Option("name", help="property holding the name")) -> None:
    """Load one level of areas from a file as the current boundaries."""
    with friendly_errors():
        areas = read_area_file(path, level, code_field=code_field, name_field=name_field)
        with connect(database_url(settings())) as conn:
            count = replace_current_areas(conn, areas)
    console.print(f"loaded {count} {level.value} area(s) from {path}")
