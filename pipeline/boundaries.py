"""Boundary versions: a file of areas checked and loaded as a new version, and the cases it
may move placed again by the same geocoding cascade as an ingest, as the one writer of cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from core.case import AreaLevel
from core.errors import ConfigError
from core.settings import GridHubSettings
from geo.area_checks import AreaReport
from geo.areas import read_area_file
from geo.geocode import geocode
from geo.versions import BoundaryPlan
from pipeline.orchestration import exclusive_case_writer
from store import areas, rollups
from store.db import connect
from store.geocoding import load_geocoder


@dataclass
class VersionResult:
    version_id: int | None
    plan: BoundaryPlan
    cases_reassigned: int


def load_boundary_version(conn: psycopg.Connection, plan: BoundaryPlan, source: str | None = None,
                          timezone: str = rollups.DEFAULT_TIMEZONE) -> VersionResult:
    """Apply a planned version: close retired rows, open new ones, re-assign affected cases.

    Cases reported on or after the effective day that sat in a retired area, or that were
    unlocated, go through the geocoding cascade again against the new boundaries; their
    previous assignment is kept in case_area_history, and their rollups are refreshed on the
    city's clock (`timezone`, GridHubSettings.timezone).
    """
    if plan.is_empty:
        return VersionResult(None, plan, 0)
    version_id = areas.open_version(conn, plan, source)
    before = areas.cases_a_version_may_move(conn, plan)
    if before.empty:
        return VersionResult(version_id, plan, 0)
    # The district is placed again too: a new boundary may move a case across districts.
    after = geocode(before.assign(district_code=None), load_geocoder(conn))
    old = before[areas.ASSIGNMENT].astype("string").fillna("")
    new = after[areas.ASSIGNMENT].astype("string").fillna("")
    moved = (old != new).any(axis=1).to_numpy()
    if moved.any():
        areas.reassign_cases(conn, version_id, before[moved], after[moved], timezone)
    return VersionResult(version_id, plan, int(moved.sum()))


class AreaChecksError(ConfigError):
    """A file of areas failed the checks and was not loaded; .report holds every finding."""

    def __init__(self, path: Path, report: AreaReport):
        self.report = report
        super().__init__(f"{path}: not loaded, the area checks found errors (force loads anyway):\n"
                         f"{report.frame().to_string(index=False)}")


def load_area_file(url: str, settings: GridHubSettings, path: Path, level: AreaLevel | str, *,
                   code_field: str | None = None, name_field: str = "name",
                   parent_field: str | None = None, effective_from: date | None = None,
                   complete: bool = False, force: bool = False,
                   on_report: Callable[[AreaReport], None] | None = None) -> VersionResult:
    """Load a file of areas as a new boundary version and re-assign the cases it moves, as the
    one writer of cases (`gridhub areas load` and the boundaries DAG alike).

    on_report sees the checks' findings before anything is written; errors refuse the load
    (AreaChecksError) unless force.
    """
    incoming = read_area_file(path, level, code_field=code_field, name_field=name_field,
                              parent_field=parent_field)
    with exclusive_case_writer(url), connect(url) as conn:
        plan, report = areas.prepare_version(conn, incoming, level, effective_from, complete)
        if on_report:
            on_report(report)
        if not report.ok and not force:
            raise AreaChecksError(path, report)
        return load_boundary_version(conn, plan, source=str(path), timezone=settings.timezone)


