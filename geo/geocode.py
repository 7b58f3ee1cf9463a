"""The geocoding cascade: give every canonical case a grid, or the best area, or the reason.

a. coordinates, converted to WGS84, located in a grid. A placeholder point (geo.placeholders:
   (0, 0), a point the spec declares, the centroid of the city or a top-level area, a point
   holding an implausible share of the batch) is never a location: the record goes on down the
   cascade, and stays unlocated with method `placeholder` if nothing else places it. A point outside
   every grid but inside one with latitude and longitude swapped is repaired; a point a few
   metres outside the city edge is snapped to the nearest grid;
b. a grid code given by the source (checked against the coordinates when both exist);
c. the address text, matched in the standard-address gazetteer (geo.gazetteer), within the
   district the source covers; a text naming places in several areas is settled by the area
   name the record also gives;
d. an area name given alone, at its own level;
e. nothing usable: unlocated, with the reasons of every step that was tried.

Each case keeps its method, its precision (the level of the deepest area it was placed in)
and, in attributes, any repair or doubt. Rows are grouped by the boundary epoch of their
report day and each group is placed in the areas valid then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.case import AreaLevel, GeocodeMethod
from geo.crs import to_wgs84
from geo.gazetteer import MatchHow
from geo.geocoder import Geocoder, GeoContext
from geo.placeholders import PlaceholderKind, find_placeholders

AREA_COLUMNS = ("grid_code", "community_code", "street_code", "district_code")
MATCH_CACHE_SIZE = 500_000  # address matches remembered per boundary epoch


def geocode(cases: pd.DataFrame, geocoder: Geocoder,
            placeholder_points: Sequence[Sequence[float]] = ()) -> pd.DataFrame:
    """Fill lon/lat, area codes, geocode_method, geocode_precision, unlocated_reason, attributes.

    Input columns used (all optional): src_x, src_y, src_crs, source_grid_code, address,
    area_name, district_code (a hint given by the source), report_day (picks the boundaries).
    placeholder_points: WGS84 (lon, lat) points the source uses for "unknown" (its spec's).
    """
    cases = cases.copy()
    if cases.empty:
        return _with_output_columns(cases)
    out = _empty_result(cases.index)
    if "report_day" in cases and len(geocoder.change_days):
        epochs = geocoder.epoch_of(cases["report_day"])
        for epoch in pd.unique(epochs):
            _Cascade(cases.loc[epochs == epoch], geocoder.context(epoch), geocoder,
                     placeholder_points).run(out)
    else:
        _Cascade(cases, geocoder.current, geocoder, placeholder_points).run(out)
    for column in ("lon", "lat"):
        cases[column] = out[column].astype("float64")
    for column in AREA_COLUMNS:
        cases[column] = out[column].astype("string")
    for column in ("geocode_method", "geocode_precision", "unlocated_reason"):
        cases[column] = out[column].astype("string")
    cases["attributes"] = _merge_notes(cases.get("attributes"), out["notes"])
    return cases


class _Cascade:
    """The cascade over one group of cases sharing a boundary epoch."""

    def __init__(self, cases: pd.DataFrame, context: GeoContext, geocoder: Geocoder,
                 placeholder_points: Sequence[Sequence[float]] = ()):
        self.cases = cases
        self.placeholder_points = placeholder_points
        self.placeholder = np.zeros(len(cases), dtype=bool)  # rows whose point stands for "unknown"
        self.context = context
        self.geocoder = geocoder
        self.n = len(cases)
        self.done = np.zeros(self.n, dtype=bool)
        self.lon = np.full(self.n, np.nan)
        self.lat = np.full(self.n, np.nan)
        self.codes = {c: np.full(self.n, None, dtype=object) for c in AREA_COLUMNS}
        self.method = np.full(self.n, GeocodeMethod.NONE.value, dtype=object)
        self.precision = np.full(self.n, None, dtype=object)
        self.notes = [None] * self.n
        self.reasons: defaultdict[int, list[str]] = defaultdict(list)  # row -> why each step failed
        self.area_name = self._text("area_name")
        self.district_hint = self._text("district_code")  # the district the source covers

    def run(self, out: pd.DataFrame) -> None:
        self._coordinates()
        self._grid_code()
        self._address()
        self._area_name()
        self.method[self.placeholder & ~self.done] = GeocodeMethod.PLACEHOLDER.value
        reason = np.full(self.n, None, dtype=object)
        for row in np.flatnonzero(~self.done):
            reason[row] = "; ".join(self.reasons[row]) or "no coordinates, grid code, address or area name"
        index = self.cases.index
        out.loc[index, "lon"] = self.lon
        out.loc[index, "lat"] = self.lat
        for column in AREA_COLUMNS:
            out.loc[index, column] = self.codes[column]
        out.loc[index, "geocode_method"] = self.method
        out.loc[index, "geocode_precision"] = self.precision
        out.loc[index, "unlocated_reason"] = reason
        out.loc[index, "notes"] = pd.Series(self.notes, index=index, dtype=object)

    # -- helpers ---------------------------------------------------------------------------

    def _note(self, rows: np.ndarray, **items) -> None:
        for row in rows:
            note = self.notes[row] or {}
            note.update(items)
            self.notes[row] = note

    def _place_in_grids(self, rows: np.ndarray, grid_idx: np.ndarray, method: GeocodeMethod) -> None:
        codes = self.context.grids.code_arrays(grid_idx)
        for column in AREA_COLUMNS:
            self.codes[column][rows] = codes[column]
        self.method[rows] = method.value
        self.precision[rows] = AreaLevel.GRID.value
        self.done[rows] = True

    def _place_in_area(self, row: int, code: str, method: GeocodeMethod) -> None:
        chain = self.context.names.ancestors(code)
        for column in AREA_COLUMNS:
            self.codes[column][row] = chain.get(column)
        self.method[row] = method.value
        self.precision[row] = self.context.names.level[code]
        self.done[row] = True

    def _text(self, column: str) -> np.ndarray:
        if column not in self.cases:
            return np.full(self.n, None, dtype=object)
        values = self.cases[column].astype("string").str.strip()
        return values.where(values != "", None).astype(object).where(values.notna(), None).to_numpy()

    # -- a. coordinates --------------------------------------------------------------------

    def _coordinates(self) -> None:
        if "src_x" not in self.cases:
            return
        x = self.cases["src_x"].to_numpy(dtype="float64", na_value=np.nan)
        y = self.cases["src_y"].to_numpy(dtype="float64", na_value=np.nan)
        crs = self.cases["src_crs"].astype("string").to_numpy(dtype=object, na_value=None) \
            if "src_crs" in self.cases else np.full(self.n, "EPSG:4326", dtype=object)
        has_xy = np.isfinite(x) & np.isfinite(y)
        zero = has_xy & (np.abs(x) < 1e-9) & (np.abs(y) < 1e-9)
        for row in np.flatnonzero(zero):
            self.reasons[row].append("coordinates are (0, 0)")
        self._note(np.flatnonzero(zero), coordinates_rejected="zero", placeholder=PlaceholderKind.ZERO.value)
        usable = has_xy & ~zero
        lon, lat = self._to_wgs84(x, y, crs, usable)
        usable &= ~self._placeholders(lon, lat, usable)
        self.placeholder |= zero
        grids = self.context.grids
        found = grids.locate(lon, lat)
        self._place_points(np.flatnonzero(usable & (found >= 0)), found, lon, lat)
        # Swapped latitude / longitude: the other way round lands in the city.
        retry = np.flatnonzero(usable & (found < 0))
        if len(retry):
            slon, slat = self._to_wgs84(y, x, crs, np.isin(np.arange(self.n), retry))
            again = grids.locate(slon[retry], slat[retry])
            ok = retry[again >= 0]
            found[ok] = again[again >= 0]
            lon[ok], lat[ok] = slon[ok], slat[ok]
            self._place_points(ok, found, lon, lat)
            self._note(ok, repaired="swapped_coordinates")
        # A few metres outside the edge: snapped to the nearest grid.
        retry = np.flatnonzero(usable & (found < 0))
        if len(retry):
            near, metres = grids.nearest(lon[retry], lat[retry], self.geocoder.snap_metres)
            ok = retry[near >= 0]
            found[ok] = near[near >= 0]
            self._place_points(ok, found, lon, lat)
            for row, distance in zip(ok, metres[near >= 0], strict=True):
                self._note(np.array([row]), repaired="snapped_to_grid", snapped_metres=round(float(distance), 1))
        outside = np.flatnonzero(usable & (found < 0))
        for row in outside:
            self.reasons[row].append("coordinates fall outside every grid of the city")
        self._note(outside, coordinates_rejected="outside_city")

    def _placeholders(self, lon, lat, usable) -> np.ndarray:
        """Rows whose point stands for "unknown": explained, noted, and not used as a place."""
        kind = find_placeholders(np.where(usable, lon, np.nan), np.where(usable, lat, np.nan),
                                 self.context.outline_centroids, self.placeholder_points)
        found = kind != None  # noqa: E711 (elementwise over an object array)
        for row in np.flatnonzero(found):
            self.reasons[row].append(f"coordinates are a placeholder point ({kind[row]})")
            self._note(np.array([row]), coordinates_rejected="placeholder", placeholder=kind[row],
                       placeholder_point=[round(float(lon[row]), 5), round(float(lat[row]), 5)])
        self.placeholder |= found
        return found

    def _to_wgs84(self, x, y, crs, rows_mask) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = np.full(self.n, np.nan), np.full(self.n, np.nan)
        for name in pd.unique(crs[rows_mask]):
            rows = rows_mask & (crs == name) if name is not None else rows_mask & pd.isna(crs)
            try:
                lon[rows], lat[rows] = to_wgs84(x[rows], y[rows], str(name or "EPSG:4326"))
            except ValueError as exc:  # an unknown CRS: every such row says so
                for row in np.flatnonzero(rows):
                    self.reasons[row].append(str(exc))
        return lon, lat

    def _place_points(self, rows: np.ndarray, found: np.ndarray, lon, lat) -> None:
        if len(rows) == 0:
            return
        self._place_in_grids(rows, found[rows], GeocodeMethod.COORDINATES)
        self.lon[rows], self.lat[rows] = lon[rows], lat[rows]

    # -- b. grid code from the source ------------------------------------------------------

    def _grid_code(self) -> None:
        given = self._text("source_grid_code")
        has = np.array([g is not None for g in given])
        if not has.any():
            return
        position = self.context.grid_codes.get_indexer(given)
        # Checked against the coordinates where both exist: the coordinates win, the doubt is kept.
        disagree = np.flatnonzero(self.done & has & (self.codes["grid_code"] != given))
        for row in disagree:
            self._note(np.array([row]), source_grid_code_disagrees=given[row])
        rows = np.flatnonzero(~self.done & has & (position >= 0))
        self._place_in_grids(rows, position[rows], GeocodeMethod.GRID_CODE)
        retired = self.geocoder.retired_grid_parents()
        for row in np.flatnonzero(~self.done & has & (position < 0)):
            parent = retired.get(given[row])
            if parent is not None and parent in self.context.names.level:
                self._place_in_area(row, parent, GeocodeMethod.GRID_CODE)
                self._note(np.array([row]), retired_grid_code=given[row])
            else:
                self.reasons[row].append(f"unknown grid code {given[row]!r}")

    # -- c. address ------------------------------------------------------------------------

    def _address(self) -> None:
        texts = self._text("address")
        within = self.district_hint
        todo = np.flatnonzero(~self.done & np.array([t is not None for t in texts]))
        if len(todo) == 0:
            return
        gazetteer = self.context.gazetteer
        matches = self.context.address_matches
        if len(matches) > MATCH_CACHE_SIZE:
            matches.clear()
        for row in todo:
            key = (texts[row], within[row])
            if key not in matches:
                district = key[1] if key[1] in self.context.names.level else None
                matches[key] = gazetteer.match(key[0], district)
        used = {(texts[row], within[row]) for row in todo}
        points = {r for key in used for r in matches[key].rows}
        points = np.array(sorted(points), dtype=np.int64)
        grid_of = dict(zip(points, self.context.grids.locate(gazetteer.lon[points], gazetteer.lat[points]),
                           strict=True))
        # Most texts name one door: those are placed together, the rest one by one.
        single_rows, single_grids, single_points = [], [], []
        for row in todo:
            match = matches[(texts[row], within[row])]
            places = self._inside_named_area(row, match.rows, grid_of)
            grids = {grid_of[r] for r in places}
            if len(grids) == 1 and -1 not in grids:
                single_rows.append(row)
                single_grids.append(grids.pop())
                single_points.append(places[0])
                if match.how != MatchHow.EXACT:
                    self._note(np.array([row]), address_match=match.how.value)
                if len(places) < len(match.rows):
                    self._note(np.array([row]), address_settled_by="area_name")
            else:
                self._place_address(row, match, places, grid_of)
        if single_rows:
            rows, points = np.array(single_rows), np.array(single_points)
            self._place_in_grids(rows, np.array(single_grids), GeocodeMethod.ADDRESS)
            self.lon[rows], self.lat[rows] = gazetteer.lon[points], gazetteer.lat[points]

    def _inside_named_area(self, row: int, places: tuple[int, ...], grid_of: dict[int, int]) -> tuple[int, ...]:
        """Of the places a text may mean, those inside an area the record's area name may mean
        (all of them when it names none, or none of them). A community name that several
        districts share and such an address often have one place in common."""
        if len({grid_of[p] for p in places}) < 2:
            return places
        areas = self._named_areas(row)
        codes, within = self.context.grids.codes, self.context.names.within
        inside = tuple(p for p in places
                       if grid_of[p] >= 0 and any(within(codes[grid_of[p]], area) for area in areas))
        return inside or places

    def _named_areas(self, row: int) -> tuple[str, ...]:
        """The areas the record's area name may mean."""
        if self.area_name[row] is None:
            return ()
        names = self.context.names
        district = self.district_hint[row] if self.district_hint[row] in names.level else None
        return names.resolve(self.area_name[row], district)

    def _place_address(self, row: int, match, places: tuple[int, ...], grid_of: dict[int, int]) -> None:
        """A text matching several places, only areas, or nothing."""
        if places:
            grids = {grid_of[r] for r in places}
            codes = tuple(self.context.grids.codes[g] for g in grids if g >= 0)
            area = self.context.names.common_area(codes)
            if area is not None and self.context.names.level[area] != AreaLevel.CITY:
                self._place_in_area(row, area, GeocodeMethod.ADDRESS)
                self._note(np.array([row]), address_match="ambiguous", candidates=len(places))
                return
            self.reasons[row].append(f"address matches {len(places)} places in different districts")
            return
        area = self.context.names.common_area(match.areas)
        if area is not None and self.context.names.level[area] != AreaLevel.CITY:
            self._place_in_area(row, area, GeocodeMethod.ADDRESS)
            self._note(np.array([row]), address_match="area_only")
            return
        self.reasons[row].append("address not found in the gazetteer")

    # -- d. area name ----------------------------------------------------------------------

    def _area_name(self) -> None:
        for row in np.flatnonzero(~self.done & np.array([t is not None for t in self.area_name])):
            area = self.context.names.common_area(self._named_areas(row))
            if area is None:
                self.reasons[row].append(f"unknown area name {self.area_name[row]!r}")
                continue
            self._place_in_area(row, area, GeocodeMethod.AREA_NAME)


def _empty_result(index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(index=index)
    for column in ("lon", "lat"):
        out[column] = np.nan
    for column in (*AREA_COLUMNS, "geocode_method", "geocode_precision", "unlocated_reason", "notes"):
        out[column] = pd.Series(None, index=index, dtype=object)
    return out


def _with_output_columns(cases: pd.DataFrame) -> pd.DataFrame:
    for column in ("lon", "lat"):
        cases[column] = pd.Series(dtype="float64", index=cases.index)
    for column in (*AREA_COLUMNS, "geocode_method", "geocode_precision", "unlocated_reason"):
        cases[column] = pd.Series(dtype="string", index=cases.index)
    return cases


def _merge_notes(attributes: pd.Series | None, notes: pd.Series) -> pd.Series:
    """The source's free attributes with the geocoder's notes added (notes win on a clash)."""
    merged = []
    old = attributes if attributes is not None else pd.Series(None, index=notes.index, dtype=object)
    for before, note in zip(old.to_numpy(), notes.to_numpy(), strict=True):
        if not note:
            merged.append(before if isinstance(before, dict) else None)
        else:
            merged.append({**before, **note} if isinstance(before, dict) else dict(note))
    return pd.Series(merged, index=notes.index, dtype=object)
