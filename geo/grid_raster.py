"""A pixel lookup table that answers most point-in-grid questions with one array read.

The city's bounding box is cut into pixels of about 10 m. Pixels that any cell boundary
touches are marked "mixed"; every other pixel lies wholly inside one cell or wholly outside
all of them, and connected runs of such pixels are labelled with their cell by testing one
point each. A point in a clean pixel gets its cell from the table; a point in a mixed pixel
(under a fifth of realistic points at 10 m) goes to the exact STRtree test. Answers are
therefore identical to the exact test, only faster (bench/bench_grid_assign.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import cos, radians

import numpy as np
import shapely
from scipy import ndimage

MIXED = -2  # the pixel needs the exact test
METRES_PER_DEGREE_LAT = 110_574.0


@dataclass
class PixelTable:
    """Cell index per clean pixel (-1 outside every cell, MIXED where boundaries pass)."""

    x0: float
    y0: float
    dx: float
    dy: float
    cells: np.ndarray  # (ny, nx) int32

    @classmethod
    def build(cls, geoms: np.ndarray, tree: shapely.STRtree, pixel_m: float = 10.0) -> PixelTable:
        """Rasterise the cells' boundaries and label the clean pixels between them."""
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        dy = pixel_m / METRES_PER_DEGREE_LAT
        dx = pixel_m / (METRES_PER_DEGREE_LAT * cos(radians((y0 + y1) / 2)))
        # One pixel of margin on every side, so the outside is a labelled region too.
        x0, y0 = x0 - dx, y0 - dy
        nx, ny = int(np.ceil((x1 - x0) / dx)) + 2, int(np.ceil((y1 - y0) / dy)) + 2
        # Vertices every half pixel along each boundary: any pixel a boundary crosses is then
        # within one pixel of a vertex's pixel, so marking 3 x 3 around vertices covers it.
        step = min(dx, dy) / 2
        xy = shapely.get_coordinates(shapely.segmentize(shapely.boundary(geoms), step))
        mixed = np.zeros((ny, nx), dtype=bool)
        mixed[((xy[:, 1] - y0) / dy).astype(np.int64), ((xy[:, 0] - x0) / dx).astype(np.int64)] = True
        mixed = ndimage.binary_dilation(mixed, structure=np.ones((3, 3), dtype=bool))
        labels, count = ndimage.label(~mixed)
        del mixed
        iy, ix = np.divmod(_first_pixels(labels.ravel()), nx)
        # One representative pixel per clean region, located exactly.
        centres = shapely.points(x0 + (ix + 0.5) * dx, y0 + (iy + 0.5) * dy)
        point_idx, cell_idx = tree.query(centres, predicate="intersects")
        region_cell = np.full(count + 1, -1, dtype=np.int32)
        region_cell[point_idx + 1] = cell_idx
        region_cell[0] = MIXED
        return cls(x0=x0, y0=y0, dx=dx, dy=dy, cells=region_cell[labels])

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Cell index, -1 (outside every cell) or MIXED for each point; NaN points give -1."""
        ny, nx = self.cells.shape
        with np.errstate(invalid="ignore"):
            fx = (lon - self.x0) / self.dx
            fy = (lat - self.y0) / self.dy
            inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        result = np.full(len(lon), -1, dtype=np.int64)
        rows = np.flatnonzero(inside)
        result[rows] = self.cells[fy[rows].astype(np.int64), fx[rows].astype(np.int64)]
        return result

    @property
    def nbytes(self) -> int:
        return self.cells.nbytes


def _first_pixels(labels: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """Flat index of the first pixel of each region 1, 2, ... of a scan-order labelling.

    ndimage numbers regions in scan order, so a region's first pixel is where the running
    maximum label rises. Done a block at a time: over the whole raster at once, the index
    arrays took several times the table's own size (building the demo city's table peaked
    460 MB above where it started; 107 MB in blocks).
    """
    firsts, running = [], 0
    for start in range(0, labels.size, block):
        peaks = np.maximum.accumulate(labels[start:start + block])
        np.maximum(peaks, running, out=peaks)
        firsts.append(start + np.flatnonzero(np.diff(peaks, prepend=running) > 0))
        running = int(peaks[-1])
    return np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)
