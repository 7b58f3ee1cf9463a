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
from core.profile import CityProfile
from core.settings import GridHubSettings
from geo.area_checks import AreaReport
from geo.areas import dissolved, parents_by_overlap, read_area_file
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


class LevelMissingError(ConfigError):
    """The level above the one being loaded holds no areas yet."""


def load_area_file(url: str, settings: GridHubSettings, path: Path, level: AreaLevel | str, *,
                   code_field: str | None = None, name_field: str | None = None,
                   parent_field: str | None = None, crs: str | None = None,
                   effective_from: date | None = None, complete: bool = False,
                   force: bool = False, on_report: Callable[[AreaReport], None] | None = None,
                   on_note: Callable[[str], None] | None = None) -> VersionResult:
    """Load a file of areas as a new boundary version and re-assign the cases it moves, as the
    one writer of cases (`gridhub areas load` and the boundaries DAG alike).

    `level` is one of the profile's level names. Without parent codes in the file, each area
    takes the area of the level above that it overlaps most (on_note says how sure); when
    that level is the city and none is loaded, the city's outline is the union of these
    areas. on_report sees the checks' findings before anything is written; errors refuse the
    load (AreaChecksError) unless force.
    """
    profile = settings.profile
    slot = profile.slot_of(str(level))
    incoming = read_area_file(path, slot, code_field=code_field, name_field=name_field,
                              parent_field=parent_field, crs=crs or profile.crs)
    _check_codes(path, incoming, profile, slot)
    note = on_note or (lambda _: None)
    with exclusive_case_writer(url), connect(url) as conn:
        parent_slot = profile.parent_slot(slot)
        if parent_slot is not None:
            incoming = _with_parents(conn, settings, path, incoming, parent_slot, effective_from, note)
        plan, report = areas.prepare_version(conn, incoming, slot, effective_from, complete,
                                             slots=profile.slots)
        if on_report:
            on_report(report)
        if not report.ok and not force:
            raise AreaChecksError(path, report)
        return load_boundary_version(conn, plan, source=str(path), timezone=settings.timezone)


def _check_codes(path: Path, incoming, profile: CityProfile, slot: AreaLevel) -> None:
    spec = profile.spec_of(slot)
    bad = [c for c in incoming["code"] if not spec.matches(c)]
    if bad:
        raise ConfigError(f"{path}: {len(bad)} code(s) such as {bad[0]!r} do not match the"
                          f" {spec.name} level's pattern {spec.code_pattern} (fix --code-field,"
                          " or the pattern in the city profile)")


def _with_parents(conn: psycopg.Connection, settings: GridHubSettings, path: Path, incoming,
                  parent_slot: AreaLevel, effective_from: date | None, note: Callable[[str], None]):
    """The incoming areas with parent codes: given, or the parent level's area each overlaps most."""
    profile = settings.profile
    current = areas.read_areas(conn)
    parents = current[current["level"] == parent_slot.value]
    given = incoming["parent_code"].notna()
    parent_name = profile.slot_names[parent_slot]
    if parents.empty and parent_slot is AreaLevel.CITY \
            and incoming.loc[given, "parent_code"].isin([profile.code]).all():
        outline = dissolved(incoming, profile.code, profile.name, AreaLevel.CITY)
        plan, _ = areas.prepare_version(conn, outline, AreaLevel.CITY, effective_from,
                                        slots=profile.slots)
        load_boundary_version(conn, plan, source=f"{path} (union of its areas)",
                              timezone=settings.timezone)
        note(f"city outline {profile.code} ({profile.name}) made as the union of the"
             f" {len(incoming)} areas: no {parent_name} area was loaded")
        parents = outline
    elif parents.empty:
        raise LevelMissingError(
            f"{path}: the {parent_name} level above {profile.slot_names[AreaLevel(incoming['level'].iat[0])]}"
            f" holds no areas yet: load it first (gridhub areas load FILE --level {parent_name})")
    if given.all():
        return incoming
    found = parents_by_overlap(incoming[~given], parents)
    incoming = incoming.copy()
    incoming.loc[~given, "parent_code"] = found["parent_code"].to_numpy()
    shares = found["share"]
    weakest = found.loc[shares.idxmin()]
    note(f"parents of {len(found)} area(s) found by largest overlap with the {parent_name} level:"
         f" median {shares.median():.1%} of an area inside its parent, lowest {weakest['share']:.1%}"
         f" ({weakest['code']} in {weakest['parent_code']})")
    return incoming
