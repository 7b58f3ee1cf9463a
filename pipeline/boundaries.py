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
from geo.areas import (
    dissolved,
    dissolved_groups,
    group_keys,
    parents_by_overlap,
    read_area_file,
    read_code_file,
)
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
                   pad_to: int | None = None, dissolve_by: str | None = None,
                   dissolve_name_field: str | None = None,
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

    dissolve_by (`FIELD` or `FIELD:N`, `code:1` for the first digit of the code) makes the
    level above too, in the same transaction: one area per key, the union of the areas sharing
    it, named by dissolve_name_field (else the key); pad_to right-pads codes with zeros.
    """
    profile = settings.profile
    slot = profile.slot_of(str(level))
    keep = [f for f in ((dissolve_by or "").partition(":")[0], dissolve_name_field)
            if f and f != "code"]
    incoming = read_area_file(path, slot, code_field=code_field, name_field=name_field,
                              parent_field=parent_field, crs=crs or profile.crs, pad_to=pad_to,
                              keep=keep)
    _check_codes(path, incoming, profile, slot)
    note = on_note or (lambda _: None)
    with exclusive_case_writer(url), connect(url) as conn:
        if dissolve_by:
            incoming = _load_dissolved_parents(conn, settings, path, incoming, slot, dissolve_by,
                                               dissolve_name_field, effective_from, force,
                                               on_report, note)
        incoming = incoming.drop(columns=keep)
        parent_slot = profile.parent_slot(slot)
        if parent_slot is not None:
            incoming = _with_parents(conn, settings, path, incoming, parent_slot, effective_from, note)
        return _checked_load(conn, settings, path, incoming, slot, effective_from, complete, force,
                             on_report)


def load_code_file(url: str, settings: GridHubSettings, path: Path, level: AreaLevel | str, *,
                   code_field: str | None = None, name_field: str | None = None,
                   parent_field: str | None = None, pad_to: int | None = None,
                   effective_from: date | None = None, complete: bool = False,
                   force: bool = False, on_report: Callable[[AreaReport], None] | None = None,
                   on_note: Callable[[str], None] | None = None) -> VersionResult:
    """Load a level known by codes and names only (`gridhub areas load-codes`).

    Its areas get an empty shape: no point ever falls in them; cases reach them by code or
    name. Only the rows whose parent is a current area of the level above are kept (a national
    list loads one city's part); on_note says how many.
    """
    profile = settings.profile
    slot = profile.slot_of(str(level))
    parent_slot = profile.parent_slot(slot)
    if parent_slot is None:
        raise ConfigError(f"{path}: the top level is the city outline; it needs a shape"
                          " (gridhub areas load, or let it be derived from its children)")
    incoming = read_code_file(path, slot, code_field=code_field, name_field=name_field,
                              parent_field=parent_field, pad_to=pad_to)
    note = on_note or (lambda _: None)
    with exclusive_case_writer(url), connect(url) as conn:
        ours = under_current_parents(conn, profile, path, incoming, slot)
        note(f"{len(ours)} of the {len(incoming)} rows have a current"
             f" {profile.slot_names[parent_slot]} as parent and load as"
             f" {profile.slot_names[slot]} areas without a shape; the rest belong to other"
             " parents or levels")
        _check_codes(path, ours, profile, slot)
        return _checked_load(conn, settings, path, ours, slot, effective_from, complete, force,
                             on_report)


def under_current_parents(conn: psycopg.Connection, profile: CityProfile, path: Path, incoming,
                          slot: AreaLevel):
    """The rows of a code list whose parent is a current area of the level above `slot`."""
    parent_slot = profile.parent_slot(slot)
    current = areas.read_areas(conn)
    parents = current.loc[current["level"] == parent_slot.value, "code"]
    if parents.empty:
        parent_name = profile.slot_names[parent_slot]
        raise LevelMissingError(f"{path}: the {parent_name} level holds no areas yet: load it"
                                f" first (gridhub areas load FILE --level {parent_name})")
    return incoming[incoming["parent_code"].isin(parents)].reset_index(drop=True)


def _checked_load(conn: psycopg.Connection, settings: GridHubSettings, path: Path, incoming,
                  slot: AreaLevel, effective_from: date | None, complete: bool, force: bool,
                  on_report: Callable[[AreaReport], None] | None,
                  source: str | None = None) -> VersionResult:
    """Plan and check one level's areas, then load them unless the checks found errors."""
    plan, report = areas.prepare_version(conn, incoming, slot, effective_from, complete,
                                         slots=settings.profile.slots)
    if on_report:
        on_report(report)
    if not report.ok and not force:
        raise AreaChecksError(path, report)
    return load_boundary_version(conn, plan, source=source or str(path), timezone=settings.timezone)


def _load_dissolved_parents(conn: psycopg.Connection, settings: GridHubSettings, path: Path,
                            incoming, slot: AreaLevel, by: str, name_field: str | None,
                            effective_from: date | None, force: bool,
                            on_report: Callable[[AreaReport], None] | None,
                            note: Callable[[str], None]):
    """Make and load the level above by dissolving the incoming areas; them with those parents."""
    profile = settings.profile
    parent_slot = profile.parent_slot(slot)
    if parent_slot in (None, AreaLevel.CITY):
        raise ConfigError(f"--dissolve-by makes the level above {profile.slot_names[slot]}, which is"
                          " the city: its outline is made from the areas without it")
    keys = group_keys(incoming, by)
    names = incoming[name_field] if name_field else None
    parents = dissolved_groups(incoming, keys, parent_slot, names)
    _check_codes(path, parents, profile, parent_slot)
    grandparent = profile.parent_slot(parent_slot)
    parents = _with_parents(conn, settings, path, parents, grandparent, effective_from, note)
    _checked_load(conn, settings, path, parents, parent_slot, effective_from, False, force,
                  on_report, source=f"{path} (dissolved by {by})")
    note(f"{len(parents)} {profile.slot_names[parent_slot]} area(s) made as the union of the"
         f" {len(incoming)} areas grouped by {by}")
    return incoming.assign(parent_code=keys.to_numpy())


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
