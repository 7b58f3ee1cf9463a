"""A real city onboarded from its example profile and specs, for the end-to-end tests.

Data is read where it lies (../shared/data/real); a missing folder fails the test loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
from psycopg import sql

from connectors.spec import load_specs
from core.settings import PROJECT_ROOT, GridHubSettings
from pipeline.boundaries import load_area_file
from pipeline.ingest import ingest

REAL = PROJECT_ROOT.parent / "shared" / "data" / "real"
EXAMPLES = PROJECT_ROOT / "examples" / "cities"


def real_data(relative: str) -> Path:
    """A file of the shared real data; its absence is an error, never a skip."""
    path = REAL / relative
    if not path.exists():
        raise FileNotFoundError(f"real data {path} is missing: these tests need ../shared/data/real")
    return path


@dataclass
class City:
    settings: GridHubSettings
    url: str
    notes: list[str]

    def ingest_all(self) -> dict[str, object]:
        """Every example spec of the city ingested once; counts by source. The cases are stored
        by month as on every city: each in the month of its local day, one key row each."""
        specs = load_specs(self.settings.resolved_sources_dir)
        counts = {name: ingest(spec, self.settings, self.url, variables={"GRIDHUB_REAL_DATA": str(REAL)}).counts
                  for name, spec in specs.items()}
        [(cases, keys, misplaced, months)] = self.rows(
            "SELECT count(*), (SELECT count(*) FROM case_keys),"
            " count(*) FILTER (WHERE tableoid::regclass::text <> 'cases_' || to_char(report_day, 'YYYY_MM')),"
            " count(DISTINCT tableoid) FROM cases")
        assert keys == cases and misplaced == 0 and (months > 0 or cases == 0), (cases, keys, misplaced, months)
        self.notes.append(f"{cases} cases in {months} month(s)")
        return counts

    def rows(self, query: str | sql.Composable, *params) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(query, params).fetchall()


def onboard(city: str, url: str, tmp_path: Path, areas: str, level: str, **fields) -> City:
    """The city's profile and specs on an empty database, its areas loaded from a real file."""
    folder = EXAMPLES / city
    settings = GridHubSettings(city_profile=folder / "city.yaml", sources_dir=folder / "sources",
                               data_dir=tmp_path, database_url=url)
    notes: list[str] = []
    load_area_file(url, settings, real_data(areas), level, on_note=notes.append, **fields)
    return City(settings, url, notes)


def agreement(city: City, source: str, label_field: str, labels: pd.Series | None = None,
              to_code: Callable[[str | None], str | None] | None = None,
              column: str = "grid_code", method: str = "coordinates") -> tuple[int, int]:
    """(rows whose GridHub area equals the agency's label, rows GridHub placed by `method`).

    to_code turns the agency's label into the city's code ("05 MANHATTAN" -> "105");
    column is the level compared (grid_code: the finest).
    """
    rows = city.rows(sql.SQL(
        "SELECT c.{}, r.payload->>%s FROM cases c JOIN raw_records r ON r.raw_id = c.raw_id"
        " WHERE c.source = %s AND c.geocode_method = %s").format(sql.Identifier(column)),
        label_field, source, method)
    convert = to_code or (lambda label: label)
    agree = sum(1 for code, label in rows if labels_equal(code, convert(label)))
    return agree, len(rows)


def labels_equal(code: str | None, label: str | None) -> bool:
    return code is not None and label is not None and str(code).strip() == str(label).strip()


def point_in_polygon_agreement(records: pd.DataFrame, polygons: gpd.GeoDataFrame, code_field: str,
                               label_field: str, lon: str, lat: str) -> tuple[int, int]:
    """The plain geopandas answer on the same rows: (agreeing, rows inside some polygon)."""
    points = gpd.GeoDataFrame(records[[label_field]], crs="EPSG:4326",
                              geometry=gpd.points_from_xy(records[lon], records[lat]))
    joined = gpd.sjoin(points, polygons[[code_field, "geometry"]].to_crs("EPSG:4326"),
                       predicate="within", how="inner")
    joined = joined[~joined.index.duplicated()]
    agree = sum(labels_equal(a, b) for a, b in zip(joined[code_field], joined[label_field], strict=True))
    return agree, len(joined)


def api_get(city: City, *paths: str) -> list[tuple[int, object]]:
    """(status, JSON body) of each GET, over a real HTTP stack with an admin key."""
    from fastapi.testclient import TestClient

    from api.keys import Role, create_key
    from api.main import create_app

    with psycopg.connect(city.url) as conn:
        key = create_key(conn, Role.ADMIN, city.settings.city_code, "cities test").key
    with TestClient(create_app(city.settings)) as client:
        responses = [client.get(path, headers={"Authorization": f"Bearer {key}"}) for path in paths]
    return [(r.status_code, r.json()) for r in responses]


def api_summary(city: City, code: str) -> dict:
    """The API's all-time summary of an area, a malformed code's and an unknown code's answers."""
    (status, body), (bad, _), wrong = api_get(
        city, f"/areas/{code}/summary", "/areas/not-a-code!/summary", "/areas/ZZZ999/summary")
    return {"status": status, "body": body, "bad": bad, "wrong": wrong}
