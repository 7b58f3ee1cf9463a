"""Spatial hotspots among grid cells: Getis-Ord Gi* (PySAL esda) with false-discovery control.

The variable is each cell's Anscombe residual over the last week, 2 (sqrt(O + 3/8) -
sqrt(E + 3/8)) against the baseline: close to standard normal under the baseline whatever the
cell's size, so that busy downtown cells are not hot merely for being busy. Gi* (the cell with
its neighbours) gives a z-score per cell; Benjamini-Hochberg across all cells of the day keeps
the expected share of false hotspots below `fdr`. A hotspot also needs `min_cases` cases in
its neighbourhood, as the normal approximation flatters a neighbourhood of one or two.
"""

from __future__ import annotations

from dataclasses import dataclass

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph
from scipy import special
from statsmodels.stats.multitest import fdrcorrection

# Columns of a hotspot frame.
HOTSPOT_COLUMNS = ("grid_code", "z_score", "p_value", "q_value", "observed", "expected")


@dataclass(frozen=True)
class HotspotSettings:
    window_days: int = 7
    fdr: float = 0.01
    min_cases: int = 5
    touch_tolerance_deg: float = 1e-6  # shared borders in area files are rounded (0.1 m)


@dataclass(frozen=True)
class GridNeighbours:
    """Which grid cells touch which, in the order of `codes`, with each cell its own neighbour."""

    codes: np.ndarray
    graph: Graph

    @classmethod
    def from_shapes(cls, shapes: gpd.GeoDataFrame, tolerance: float) -> GridNeighbours:
        """Cells sharing an edge or a corner, though either border may be off by `tolerance`."""
        geoms = shapes.geometry.to_numpy()
        # One spatial-index query; each cell is within 0 of itself, its own neighbour.
        focal, neighbour = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=2 * tolerance)
        return cls(shapes["code"].to_numpy(dtype=object),
                   Graph.from_arrays(focal, neighbour, np.ones(len(focal))))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of each cell's neighbourhood (itself included)."""
        return self.graph.sparse @ values


def gi_star_hotspots(observed: np.ndarray, expected: np.ndarray, neighbours: GridNeighbours,
                     cfg: HotspotSettings) -> pd.DataFrame:
    """Hotspot cells (HOTSPOT_COLUMNS) given per-cell window counts and their expectations."""
    if len(observed) != len(neighbours.codes):
        raise ValueError("observed counts and neighbours must list the same cells")
    residual = 2.0 * (np.sqrt(observed + 0.375) - np.sqrt(expected + 0.375))
    if np.ptp(residual) == 0:
        return pd.DataFrame({c: [] for c in HOTSPOT_COLUMNS})
    # Gi*'s z is unchanged by a shift of the variable; the shift makes it positive, as G needs.
    shifted = residual - residual.min() + 1.0
    gi = esda.G_Local(shifted, neighbours.graph, transform="B", star=None, permutations=0)
    z = np.asarray(gi.Zs, dtype=float)
    p = special.ndtr(-z)  # one-sided: only hot, not cold, spots
    rejected, q = fdrcorrection(p, alpha=cfg.fdr)
    hood_observed = neighbours.sums(observed)
    hood_expected = neighbours.sums(expected)
    hot = rejected & (z > 0) & (hood_observed >= cfg.min_cases)
    return pd.DataFrame({
        "grid_code": neighbours.codes[hot], "z_score": z[hot], "p_value": p[hot], "q_value": q[hot],
        "observed": hood_observed[hot], "expected": hood_expected[hot],
    }).sort_values("z_score", ascending=False, ignore_index=True)


def window_counts(counts: np.ndarray, expected: np.ndarray, day: int,
                  width: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and expectations summed over the `width` days ending on `day`, per row."""
    lo = max(0, day - width + 1)
    return counts[:, lo:day + 1].sum(axis=1), expected[:, lo:day + 1].sum(axis=1)

