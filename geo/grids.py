"""Point-in-grid assignment with a shapely STRtree, vectorised and split over threads.

Measured on this machine (bench/bench_grid_assign.py) this is many times faster than a
per-row PostGIS ST_Contains join, so grids are assigned in Python before loading.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import shapely
from shapely import STRtree

from core.case import AreaLevel

_ANCESTOR_LEVELS = (AreaLevel.COMMUNITY, AreaLevel.STREET, AreaLevel.DISTRICT, AreaLevel.CITY)


@dataclass
class GridIndex:
    """Current grid cells with the codes of their enclosing areas, and a spatial index."""

    codes: np.ndarray  # grid codes, aligned with geoms
    geoms: np.ndarray  # shapely polygons, EPSG:4326
    ancestors: pd.DataFrame  # index grid code; columns community_code .. city_code
    tree: STRtree

    @classmethod
    def from_frame(cls, areas: pd.DataFrame) -> GridIndex:
        """Build from a frame of current areas: code, parent_code, level, geometry (WGS84)."""
        parents = dict(zip(areas["code"], areas["parent_code"], strict=True))
        grids = areas[areas["level"] == AreaLevel.GRID].sort_values("code")
        codes = grids["code"].to_numpy(dtype=object)
        chain = {}
        for level in _ANCESTOR_LEVELS:
            previous = codes if not chain else chain[list(chain)[-1]]
            chain[level.code_column] = np.array([parents.get(c) for c in previous], dtype=object)
        ancestors = pd.DataFrame(chain, index=pd.Index(codes, name="grid_code"))
        geoms = np.asarray(grids.geometry.to_numpy(), dtype=object)
        shapely.prepare(geoms)
        return cls(codes=codes, geoms=geoms, ancestors=ancestors, tree=STRtree(geoms))

    @classmethod
    def from_database(cls, conn: psycopg.Connection) -> GridIndex:
        """Load the current area hierarchy from PostGIS."""
        rows = conn.execute(
            "SELECT code, parent_code, level, ST_AsBinary(geom) FROM areas WHERE valid_to IS NULL"
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["code", "parent_code", "level", "wkb"])
        frame["geometry"] = shapely.from_wkb(frame.pop("wkb").to_numpy())
        return cls.from_frame(frame)

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: np.ndarray, lat: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Index into `codes` of the grid containing each point, or -1 where none does."""
        lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
        result = np.full(len(lon), -1, dtype=np.int64)
        valid = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if len(valid) == 0 or len(self) == 0:
            return result
        threads = threads or min(4, os.cpu_count() or 1)
        chunks = [c for c in np.array_split(valid, threads) if len(c)]

        def work(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            points = shapely.points(lon[rows], lat[rows])
            point_idx, grid_idx = self.tree.query(points, predicate="intersects")
            return rows[point_idx], grid_idx

        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            for rows, grid_idx in pool.map(work, chunks):
                # A point on a shared edge matches two cells: the lower code wins, every time.
                order = np.lexsort((grid_idx, rows))
                rows, grid_idx = rows[order], grid_idx[order]
                first = np.r_[True, rows[1:] != rows[:-1]]
                result[rows[first]] = grid_idx[first]
        return result

    def codes_for(self, index: np.ndarray) -> pd.DataFrame:
        """grid_code and ancestor codes for grid indices from locate() (nulls where -1)."""
        found = index >= 0
        grid = np.full(len(index), None, dtype=object)
        grid[found] = self.codes[index[found]]
        out = self.ancestors.reindex(grid).reset_index(drop=True)
        out.insert(0, "grid_code", grid)
        return out
