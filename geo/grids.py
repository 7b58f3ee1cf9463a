"""Point-in-grid assignment: a pixel lookup table in front of an exact shapely STRtree test.

Measured on this machine (bench/bench_grid_assign.py) this is several times faster than
geopandas sjoin and far faster than a per-row PostGIS ST_Contains join, so grids are assigned
in Python before loading. The pixel table costs about a second to build, so an index builds it
only once it has been asked to locate enough points to repay it; answers never depend on it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from math import cos, radians

import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from core.case import AreaLevel
from geo.grid_raster import METRES_PER_DEGREE_LAT, MIXED, PixelTable

_ANCESTOR_LEVELS = (AreaLevel.COMMUNITY, AreaLevel.STREET, AreaLevel.DISTRICT, AreaLevel.CITY)
PIXEL_TABLE_AFTER = 250_000  # points located before the pixel table is worth building


def ancestor_codes(areas: pd.DataFrame, codes: np.ndarray) -> dict[str, np.ndarray]:
    """The code of every area enclosing each code, in the column of the ancestor's own level.

    Each ancestor goes to its own slot, so a city without streets leaves street_code null
    rather than shifting the district into it.
    """
    parents = dict(zip(areas["code"], areas["parent_code"], strict=True))
    levels = dict(zip(areas["code"], areas["level"], strict=True))
    chain = {level.code_column: np.full(len(codes), None, dtype=object) for level in _ANCESTOR_LEVELS}
    for i, code in enumerate(codes):
        seen = {code}
        parent = parents.get(code)
        while parent is not None and parent in levels and parent not in seen:
            column = AreaLevel(levels[parent]).code_column
            if column in chain and chain[column][i] is None:
                chain[column][i] = parent
            seen.add(parent)
            parent = parents.get(parent)
    return chain


@dataclass
class GridIndex:
    """Grid cells with the codes of their enclosing areas, and a spatial index."""

    codes: np.ndarray  # grid codes, aligned with geoms
    geoms: np.ndarray  # shapely polygons, EPSG:4326
    ancestors: pd.DataFrame  # index grid code; columns community_code .. city_code
    tree: STRtree
    pixel_table_after: int | None = PIXEL_TABLE_AFTER  # None: never build one
    _pixels: PixelTable | None = field(default=None, repr=False)
    _located: int = field(default=0, repr=False)

    @classmethod
    def from_frame(cls, areas: pd.DataFrame, **options) -> GridIndex:
        """Build from a frame of areas valid together: code, parent_code, level, geometry (WGS84)."""
        grids = areas[areas["level"] == AreaLevel.GRID].sort_values("code")
        codes = grids["code"].to_numpy(dtype=object)
        ancestors = pd.DataFrame(ancestor_codes(areas, codes),
                                 index=pd.Index(codes, name="grid_code"))
        geoms = np.asarray(grids.geometry.to_numpy(), dtype=object)
        shapely.prepare(geoms)
        return cls(codes=codes, geoms=geoms, ancestors=ancestors, tree=STRtree(geoms), **options)

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: np.ndarray, lat: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Index into `codes` of the grid containing each point, or -1 where none does.

        A point on an edge shared by two cells goes to the lower code, every time.
        """
        lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
        result = np.full(len(lon), -1, dtype=np.int64)
        if len(self) == 0:
            return result
        self._located += len(lon)
        pixels = self.pixel_table()
        if pixels is not None:
            result = pixels.lookup(lon, lat)
            exact = np.flatnonzero(result == MIXED)
            result[exact] = -1
        else:
            exact = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if len(exact):
            result[exact] = self._locate_exact(lon[exact], lat[exact], threads)
        return result

    def pixel_table(self) -> PixelTable | None:
        """The pixel lookup table, built once enough points have been located."""
        if self._pixels is None and self.pixel_table_after is not None \
                and self._located >= self.pixel_table_after:
            self._pixels = PixelTable.build(self.geoms, self.tree)
        return self._pixels

    def _locate_exact(self, lon: np.ndarray, lat: np.ndarray, threads: int | None) -> np.ndarray:
        result = np.full(len(lon), -1, dtype=np.int64)
        threads = threads or min(4, os.cpu_count() or 1)
        # Below a few thousand points the thread hand-off costs more than it saves.
        chunks = [c for c in np.array_split(np.arange(len(lon)), max(1, min(threads, len(lon) // 5000)))
                  if len(c)]

        def work(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            point_idx, grid_idx = self.tree.query(shapely.points(lon[rows], lat[rows]),
                                                  predicate="intersects")
            return rows[point_idx], grid_idx

        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            for rows, grid_idx in pool.map(work, chunks):
                if len(rows) == 0:
                    continue
                # Cells are sorted by code, so the smallest index is the lowest code.
                order = np.lexsort((grid_idx, rows))
                rows, grid_idx = rows[order], grid_idx[order]
                first = np.r_[True, rows[1:] != rows[:-1]]
                result[rows[first]] = grid_idx[first]
        return result

    def nearest(self, lon: np.ndarray, lat: np.ndarray, max_metres: float) -> tuple[np.ndarray, np.ndarray]:
        """(grid index or -1, distance in metres) of the nearest cell within max_metres."""
        lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
        found = np.full(len(lon), -1, dtype=np.int64)
        distance = np.full(len(lon), np.inf)
        valid = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if len(valid) == 0 or len(self) == 0:
            return found, distance
        # Measure in a local plane scaled to metres, so the limit means the same in x and y.
        kx = METRES_PER_DEGREE_LAT * cos(radians(float(np.nanmean(lat[valid]))))
        points = shapely.points(lon[valid], lat[valid])
        limit = max_metres / kx  # degrees of longitude are the shorter ones: a safe bound
        point_idx, grid_idx = self.tree.query_nearest(points, max_distance=limit, all_matches=False)
        nearest_points = shapely.shortest_line(self.geoms[grid_idx], points[point_idx])
        ends = shapely.get_coordinates(nearest_points).reshape(-1, 2, 2)
        metres = np.hypot((ends[:, 0, 0] - ends[:, 1, 0]) * kx,
                          (ends[:, 0, 1] - ends[:, 1, 1]) * METRES_PER_DEGREE_LAT)
        keep = metres <= max_metres
        found[valid[point_idx[keep]]] = grid_idx[keep]
        distance[valid[point_idx[keep]]] = metres[keep]
        return found, distance

    def codes_for(self, index: np.ndarray) -> pd.DataFrame:
        """grid_code and ancestor codes for grid indices from locate() (nulls where -1)."""
        return pd.DataFrame(self.code_arrays(index))

    def code_arrays(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """codes_for() as a dict of object arrays, without building a frame."""
        index = np.asarray(index, dtype=np.int64)
        found = index >= 0
        out = {}
        for column, values in (("grid_code", self.codes), *self.ancestors.items()):
            picked = np.full(len(index), None, dtype=object)
            picked[found] = np.asarray(values, dtype=object)[index[found]]
            out[column] = picked
        return out
