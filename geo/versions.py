"""Planning a boundary version: what a file of areas changes in the current hierarchy.

Areas in the file are compared with the current areas of their level: new codes are added;
known codes whose shape, name or parent differ are changed (closed and reopened); known
codes that match are left alone. Current areas absent from the file are closed when the file
is the complete level, or, for a partial file, when the file's new shapes cover most of them
(a grid split in two under new codes supersedes the old one). Areas are compared in metres,
in the UTM zone of the city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import pandas as pd
import shapely

from core.case import AreaLevel

AREA_TOLERANCE_M2 = 1.0  # shape differences smaller than this are rounding, not a change
SUPERSEDED_SHARE = 0.5  # share of an absent area covered by new shapes that retires it


@dataclass
class BoundaryPlan:
    """The changes a file makes at one level, effective from one day."""

    level: str
    effective_from: date
    added: gpd.GeoDataFrame  # code, parent_code, level, name, geometry
    changed: gpd.GeoDataFrame  # same columns, the new version; `what` says what changed
    closed: pd.DataFrame  # code, name, why
    unchanged: list[str]

    @property
    def opened(self) -> gpd.GeoDataFrame:
        """Rows to insert as the new version."""
        return pd.concat([self.added, self.changed.drop(columns="what")], ignore_index=True)

    @property
    def retired_codes(self) -> list[str]:
        """Codes whose current row closes on effective_from."""
        return list(self.changed["code"]) + list(self.closed["code"])

    @property
    def is_empty(self) -> bool:
        return self.added.empty and self.changed.empty and self.closed.empty

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed), "closed": len(self.closed),
                "unchanged": len(self.unchanged)}

    def rows(self) -> pd.DataFrame:
        """One line per change, for a diff report: change, code, name, detail."""
        parts = [
            pd.DataFrame({"change": "added", "code": self.added["code"], "name": self.added["name"],
                          "detail": "parent " + self.added["parent_code"].fillna("-")}),
            pd.DataFrame({"change": "changed", "code": self.changed["code"], "name": self.changed["name"],
                          "detail": self.changed["what"]}),
            pd.DataFrame({"change": "closed", "code": self.closed["code"], "name": self.closed["name"],
                          "detail": self.closed["why"]}),
        ]
        return pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
            else pd.DataFrame(columns=["change", "code", "name", "detail"])


def plan_version(current: gpd.GeoDataFrame, incoming: gpd.GeoDataFrame, level: AreaLevel | str,
                 effective_from: date, complete: bool = False,
                 tolerance_m2: float = AREA_TOLERANCE_M2) -> BoundaryPlan:
    """Compare incoming areas of one level with the current areas (any levels, EPSG:4326)."""
    level = AreaLevel(level).value
    now = current[current["level"] == level].set_index("code")
    incoming = incoming.reset_index(drop=True)
    metric = _metric_crs(incoming if len(incoming) else now)
    known = incoming["code"].isin(now.index)
    added = incoming[~known].reset_index(drop=True)
    same = incoming[known].reset_index(drop=True)
    what = _differences(now.loc[same["code"]], same, metric, tolerance_m2)
    changed = same[what != ""].assign(what=what[what != ""]).reset_index(drop=True)
    unchanged = list(same.loc[what == "", "code"])
    absent = now[~now.index.isin(incoming["code"])]
    closed = _closed(absent, pd.concat([added, changed]), metric, complete)
    return BoundaryPlan(level=level, effective_from=effective_from, added=added, changed=changed,
                        closed=closed, unchanged=unchanged)


def _metric_crs(frame: gpd.GeoDataFrame):
    shapes = gpd.GeoSeries(frame.geometry, crs="EPSG:4326")
    shapes = shapes[~shapes.is_empty]  # areas known by code alone have empty shapes
    return shapes.estimate_utm_crs() if len(shapes) else "EPSG:3857"


def _differences(old: pd.DataFrame, new: gpd.GeoDataFrame, metric, tolerance_m2: float) -> pd.Series:
    """What differs for each known code: '' when nothing does."""
    if new.empty:
        return pd.Series([], dtype=object)
    old_m = gpd.GeoSeries(old.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy()
    new_m = gpd.GeoSeries(new.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy()
    moved = shapely.area(shapely.symmetric_difference(old_m, new_m))
    notes = []
    for i, (name, parent) in enumerate(zip(new["name"], new["parent_code"], strict=True)):
        parts = []
        if moved[i] > tolerance_m2:
            parts.append(f"boundary moved ({moved[i]:,.0f} m²)")
        if name != old["name"].iat[i]:
            parts.append(f"renamed from {old['name'].iat[i]}")
        if (parent or None) != (old["parent_code"].iat[i] or None):
            parts.append(f"parent {old['parent_code'].iat[i]} -> {parent}")
        notes.append("; ".join(parts))
    return pd.Series(notes, dtype=object)


def _closed(absent: pd.DataFrame, new: gpd.GeoDataFrame, metric, complete: bool) -> pd.DataFrame:
    """Current areas the file retires: all absent ones for a complete file, else superseded ones."""
    columns = ["code", "name", "why"]
    if absent.empty:
        return pd.DataFrame(columns=columns)
    if complete:
        return pd.DataFrame({"code": absent.index, "name": absent["name"].to_numpy(),
                             "why": "not in the complete file"})
    if new.empty:
        return pd.DataFrame(columns=columns)
    old_m = gpd.GeoSeries(absent.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy()
    cover = shapely.union_all(gpd.GeoSeries(new.geometry.to_numpy(), crs="EPSG:4326").to_crs(metric).to_numpy())
    share = shapely.area(shapely.intersection(old_m, cover)) / shapely.area(old_m)
    gone = share > SUPERSEDED_SHARE
    return pd.DataFrame({"code": absent.index[gone], "name": absent["name"].to_numpy()[gone],
                         "why": [f"{s:.0%} covered by the new areas" for s in share[gone]]})
