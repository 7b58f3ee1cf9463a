"""Everything the geocoding cascade looks things up in: grids, area names, the gazetteer,
for the boundaries valid on each day.

Boundary versions make the areas of a day depend on the day. A case is geocoded against the
areas valid on its report day; each stretch of days between two boundary changes (an epoch)
gets its own grid index, built the first time a case needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from core.case import AreaLevel
from geo.area_names import AreaNames
from geo.gazetteer import GAZETTEER_COLUMNS, Gazetteer
from geo.grids import GridIndex
from geo.placeholders import outline_centroids

FAR_PAST = date(1900, 1, 1)
SNAP_METRES = 30.0  # a point this close outside the city edge is taken as inside it


@dataclass
class GeoContext:
    """Lookups over the areas valid together during one epoch."""

    areas: pd.DataFrame  # code, parent_code, level, name, geometry
    addresses: pd.DataFrame  # gazetteer rows (GAZETTEER_COLUMNS)

    @cached_property
    def grids(self) -> GridIndex:
        return GridIndex.from_frame(self.areas)

    @cached_property
    def names(self) -> AreaNames:
        return AreaNames(self.areas)

    @cached_property
    def gazetteer(self) -> Gazetteer:
        return Gazetteer(self.addresses, self.names)

    @cached_property
    def outline_centroids(self) -> np.ndarray:
        """Where a geocoder's "centre of the city" placeholder points sit, merged once an epoch."""
        return outline_centroids(self.areas)

    @cached_property
    def grid_codes(self) -> pd.Index:
        return pd.Index(self.grids.codes)

    @cached_property
    def address_matches(self) -> dict:
        """(text, district hint) -> AddressMatch, kept across chunks: feeds repeat addresses."""
        return {}


@dataclass
class Geocoder:
    """The areas of every boundary version, the gazetteer, and the tolerance for snapping."""

    areas: pd.DataFrame  # code, parent_code, level, name, valid_from, valid_to (None: open), geometry
    addresses: pd.DataFrame
    snap_metres: float = SNAP_METRES
    _contexts: dict[date, GeoContext] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frames(cls, areas: pd.DataFrame, addresses: pd.DataFrame | None = None,
                    **options) -> Geocoder:
        """From current areas (no version columns needed) and an optional gazetteer frame."""
        areas = areas.copy()
        for column, default in (("valid_from", FAR_PAST), ("valid_to", None)):
            if column not in areas:
                areas[column] = default
        if addresses is None:
            addresses = pd.DataFrame(columns=list(GAZETTEER_COLUMNS))
        return cls(areas=areas, addresses=addresses, **options)

    @cached_property
    def change_days(self) -> np.ndarray:
        """Days on which some boundary changed, sorted (epochs start on these days)."""
        days = np.concatenate([
            pd.to_datetime(self.areas["valid_from"]).to_numpy(dtype="datetime64[D]"),
            pd.to_datetime(self.areas["valid_to"]).to_numpy(dtype="datetime64[D]")])
        days = np.unique(days[~np.isnat(days)])
        return days[days != np.datetime64(FAR_PAST)]

    def epoch_of(self, days: pd.Series) -> np.ndarray:
        """For each day, the first day of its epoch (FAR_PAST before any change; NaT: today's)."""
        values = pd.to_datetime(days).to_numpy(dtype="datetime64[D]")
        starts = np.concatenate([[np.datetime64(FAR_PAST)], self.change_days])
        position = np.searchsorted(starts, values, side="right") - 1
        epoch = starts[np.clip(position, 0, None)]
        return np.where(np.isnat(values), starts[-1], epoch)

    def context(self, day: date | np.datetime64 | None = None) -> GeoContext:
        """Lookups over the areas valid on day (the current ones when day is None)."""
        if day is None:
            start = self.change_days[-1] if len(self.change_days) else np.datetime64(FAR_PAST)
        else:
            start = self.epoch_of(pd.Series([day]))[0]
        key = pd.Timestamp(start).date()
        if key not in self._contexts:
            self._contexts[key] = GeoContext(self._areas_on(key), self.addresses)
        return self._contexts[key]

    @property
    def current(self) -> GeoContext:
        return self.context(None)

    def _areas_on(self, day: date) -> pd.DataFrame:
        day = np.datetime64(day, "D")
        valid_from = pd.to_datetime(self.areas["valid_from"]).to_numpy(dtype="datetime64[D]")
        valid_to = pd.to_datetime(self.areas["valid_to"]).to_numpy(dtype="datetime64[D]")
        valid = (valid_from <= day) & (np.isnat(valid_to) | (valid_to > day))
        return self.areas.loc[valid, ["code", "parent_code", "level", "name", "geometry"]]

    def retired_grid_parents(self) -> dict[str, str]:
        """Community code of each grid code that is no longer current (for old source codes)."""
        grids = self.areas[self.areas["level"] == AreaLevel.GRID]
        current = set(grids.loc[grids["valid_to"].isna(), "code"])
        closed = grids[~grids["code"].isin(current)].sort_values("valid_from")
        return dict(zip(closed["code"], closed["parent_code"], strict=True))
