"""Loading a city's own address points into the gazetteer (`gridhub gazetteer load`)."""

from __future__ import annotations

import pandas as pd
import psycopg

from core.errors import GridHubError
from geo.address_points import AddressPoints, address_points
from store.areas import read_areas, replace_gazetteer


class NoAreasForAddressesError(GridHubError):
    """Address points were loaded before any area they could fall in."""


def load_address_points(conn: psycopg.Connection, points: pd.DataFrame) -> tuple[AddressPoints, int]:
    """Give points (geo.address_points.read_address_points) their current areas and upsert them
    into the gazetteer; what was made of them and the rows written (0 for a file loaded again)."""
    areas = read_areas(conn)
    if areas.empty:
        raise NoAreasForAddressesError("no areas are loaded, so no address can be placed: load the"
                                       " city's areas first (gridhub areas load FILE --level ...)")
    made = address_points(points, areas)
    written = replace_gazetteer(conn, made.rows) if len(made.rows) else 0
    return made, written


def gazetteer_size(conn: psycopg.Connection) -> int:
    """How many standard addresses the gazetteer holds."""
    return int(conn.execute("SELECT count(*) FROM gazetteer").fetchone()[0])
