"""Checks on a file of areas before it is loaded, with a report a person can act on.

Errors stop a load (unless forced): duplicate codes, codes whose parent exists nowhere.
Areas known by code alone (empty shapes, `areas load-codes`) get only these code checks.
Warnings are reported: geometries that were invalid (repaired with make_valid on reading),
siblings that overlap, gaps between siblings inside their parent, children reaching outside
their parent, parents of the wrong level. Areas are measured in metres in the city's UTM zone;
slivers narrower than SLIVER_WIDTH_M or smaller than the tolerance are taken as rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from core.case import AreaLevel

TOLERANCE_M2 = 1.0
# Coordinates rounded to 1e-6 degrees (DataV files) leave slivers about 0.1 m wide along every
# shared edge; a gap or overlap counts only where it is wider than this.
SLIVER_WIDTH_M = 1.0


@dataclass(frozen=True)
class AreaProblem:
    check: str
    code: str | None
    detail: str
    error: bool = False


@dataclass
class AreaReport:
    """What the checks found; `ok` when nothing stops the load."""

    areas: int
    problems: list[AreaProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.error for p in self.problems)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"severity": "error" if p.error else "warning", "check": p.check,
                              "code": p.code, "detail": p.detail} for p in self.problems],
                            columns=["severity", "check", "code", "detail"])

    def counts(self) -> dict[str, int]:
        return self.frame()["check"].value_counts().to_dict()


def check_areas(incoming: gpd.GeoDataFrame, after: gpd.GeoDataFrame,
                tolerance_m2: float = TOLERANCE_M2,
                slots: list[AreaLevel] | None = None) -> AreaReport:
    """Check incoming areas of one level against the hierarchy as it would be after loading.

    `slots` are the city's levels top first (CityProfile.slots; default all five): a parent
    must sit in the slot just above its child's.
    """
    report = AreaReport(areas=len(incoming))
    problems = report.problems
    for code in incoming.loc[incoming["code"].duplicated(), "code"].unique():
        problems.append(AreaProblem("duplicate_code", code, "code appears more than once in the file", True))
    if "invalid_reason" in incoming:
        for code, reason in incoming.loc[incoming["invalid_reason"].notna(), ["code", "invalid_reason"]].itertuples(index=False):
            problems.append(AreaProblem("invalid_geometry", code, f"repaired with make_valid: {reason}"))
    if incoming.empty:
        return report
    known = after.drop_duplicates("code").set_index("code")
    problems += _parents(incoming, known, slots or list(AreaLevel))
    if shapely.is_empty(incoming.geometry.to_numpy()).all():
        return report  # a level known by codes alone: nothing to measure
    metric = gpd.GeoSeries(incoming.geometry, crs="EPSG:4326").estimate_utm_crs()
    problems += _outside_parent(incoming, known, metric, tolerance_m2)
    level = incoming["level"].iloc[0]
    siblings = after[(after["level"] == level)
                     & after["parent_code"].isin(incoming["parent_code"].dropna().unique())]
    problems += _overlaps(siblings, set(incoming["code"]), metric, tolerance_m2)
    problems += _gaps(siblings, known, metric, tolerance_m2)
    return report


def _to_metric(geoms, metric) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs="EPSG:4326").to_crs(metric).to_numpy()


def _parents(incoming: gpd.GeoDataFrame, known: pd.DataFrame,
             slots: list[AreaLevel]) -> list[AreaProblem]:
    found = []
    for code, parent, level in incoming[["code", "parent_code", "level"]].itertuples(index=False):
        depth = slots.index(AreaLevel(level))
        if parent is None or pd.isna(parent):
            if depth > 0:
                found.append(AreaProblem("no_parent", code, f"a {level} with no parent code"))
            continue
        if parent not in known.index:
            found.append(AreaProblem("orphan", code, f"parent {parent} exists neither in the file"
                                     " nor among the current areas", True))
        elif known.at[parent, "level"] not in slots \
                or slots.index(AreaLevel(known.at[parent, "level"])) != depth - 1:
            found.append(AreaProblem("parent_level", code,
                                     f"parent {parent} is a {known.at[parent, 'level']}, not one level up"))
    return found


def _outside_parent(incoming, known, metric, tolerance_m2) -> list[AreaProblem]:
    has = incoming[incoming["parent_code"].isin(known.index)]
    if has.empty:
        return []
    parents = known.loc[has["parent_code"], "geometry"].to_numpy()
    outside = shapely.difference(_to_metric(has.geometry, metric), _to_metric(parents, metric))
    real = _wider_than_sliver(outside, tolerance_m2)
    return [AreaProblem("outside_parent", code, f"{area:,.0f} m² outside parent {parent}")
            for code, parent, area in zip(has["code"][real], has["parent_code"][real],
                                          shapely.area(outside[real]), strict=True)]


def _overlaps(siblings, incoming_codes: set[str], metric, tolerance_m2) -> list[AreaProblem]:
    geoms = _to_metric(siblings.geometry, metric)
    codes = siblings["code"].to_numpy()
    parents = siblings["parent_code"].to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = (left < right) & (parents[left] == parents[right])
    pairs &= np.isin(codes[left], list(incoming_codes)) | np.isin(codes[right], list(incoming_codes))
    left, right = left[pairs], right[pairs]
    shared = shapely.intersection(geoms[left], geoms[right])
    real = _wider_than_sliver(shared, tolerance_m2)
    return [AreaProblem("overlap", codes[a], f"overlaps sibling {codes[b]} by {s:,.0f} m²")
            for a, b, s in zip(left[real], right[real], shapely.area(shared[real]), strict=True)]


def _gaps(siblings, known, metric, tolerance_m2) -> list[AreaProblem]:
    found = []
    for parent, children in siblings.groupby("parent_code"):
        if parent not in known.index:
            continue
        outer = _to_metric([known.at[parent, "geometry"]], metric)[0]
        covered = shapely.union_all(_to_metric(children.geometry, metric))
        gap = shapely.difference(outer, covered)
        if _wider_than_sliver(np.array([gap]), tolerance_m2)[0]:
            found.append(AreaProblem("gap", parent, f"{shapely.area(gap):,.0f} m² of {parent} in"
                                     f" none of its {len(children)} children"))
    return found


def _wider_than_sliver(geoms: np.ndarray, tolerance_m2: float) -> np.ndarray:
    """Which (metric) geometries keep more than the tolerance once slivers are shaved off."""
    geoms = np.asarray(geoms, dtype=object)
    big = shapely.area(geoms) > tolerance_m2
    shaved = shapely.buffer(geoms[big], -SLIVER_WIDTH_M / 2)
    big[big] = shapely.area(shaved) > 0
    return big
