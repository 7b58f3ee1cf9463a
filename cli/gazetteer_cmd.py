"""`gridhub gazetteer`: load a city's own address points, for address geocoding and grids by
households."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.context import console, database_url, friendly_errors, settings
from geo.address_points import PointFields, read_address_points
from store.db import connect
from store.gazetteer import gazetteer_size, load_address_points

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def gazetteer() -> None:
    """Address points: load a city's own, for address geocoding."""  # keeps `load` a subcommand


@app.command()
def load(path: Path = typer.Argument(..., help="CSV with coordinate columns, or GeoJSON points"),
         address_field: str = typer.Option(None, help="field of the address text (default: address or text)"),
         lon_field: str = typer.Option(None, help="CSV: field of x / longitude (default: lon, lng, longitude or x)"),
         lat_field: str = typer.Option(None, help="CSV: field of y / latitude (default: lat, latitude or y)"),
         households_field: str = typer.Option(None, help="field of households per address (default: 1 each)"),
         id_field: str = typer.Option(None, help="field of a stable integer id (default: a hash of the address)"),
         crs: str = typer.Option(None, help="CRS of the coordinates (default: the file's own, else WGS84)")) -> None:
    """Load address points into the gazetteer, each given its areas by point in polygon."""
    fields = PointFields(address=address_field, lon=lon_field, lat=lat_field,
                         households=households_field, id=id_field)
    with friendly_errors():
        points = read_address_points(path, fields, crs)
        with connect(database_url(settings())) as conn:
            made, written = load_address_points(conn, points)
            conn.commit()
            total = gazetteer_size(conn)
    console.print(f"{path.name}: {made.read:,} rows read, {len(made.rows):,} addresses loaded"
                  f" ({written:,} new or changed), gazetteer now {total:,} addresses", soft_wrap=True)
    for reason, count in (("outside every loaded area", made.outside), ("no text or no point", made.unusable),
                          ("a repeat of an address already read", made.repeated)):
        if count:
            examples = "; ".join(made.examples.get(reason, []))
            console.print(f"  not loaded: {count:,} {reason} (e.g. {examples})", soft_wrap=True)
