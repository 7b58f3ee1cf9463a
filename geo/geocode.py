"""The geocoding cascade: give every canonical case a grid, or say why it has none.

Step (a), coordinates: source coordinates are converted to WGS84 and located in a grid;
(0, 0) is rejected, and a point that falls outside every grid but inside one when its
latitude and longitude are swapped is repaired. Steps that need no coordinates (grid codes,
addresses, area names) follow in later modules; whatever is left is unlocated with a reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.case import AreaLevel, GeocodeMethod
from geo.crs import to_wgs84
from geo.grids import GridIndex


def geocode(cases: pd.DataFrame, grids: GridIndex) -> pd.DataFrame:
    """Fill lon/lat, area codes, method, precision and unlocated_reason."""
    cases = cases.copy()
    n = len(cases)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    reason = np.full(n, None, dtype=object)
    x = cases["src_x"].to_numpy(dtype="float64", na_value=np.nan)
    y = cases["src_y"].to_numpy(dtype="float64", na_value=np.nan)
    has_xy = np.isfinite(x) & np.isfinite(y)
    zero = has_xy & (np.abs(x) < 1e-9) & (np.abs(y) < 1e-9)
    reason[zero] = "coordinates are (0, 0)"
    usable = has_xy & ~zero
    for crs in cases.loc[usable, "src_crs"].dropna().unique():
        rows = usable & (cases["src_crs"] == crs).to_numpy()
        lon[rows], lat[rows] = to_wgs84(x[rows], y[rows], str(crs))
    found = grids.locate(lon, lat)
    # Swapped latitude/longitude: try the other way round where nothing was found.
    retry = usable & (found < 0)
    if retry.any():
        for crs in cases.loc[retry, "src_crs"].dropna().unique():
            rows = retry & (cases["src_crs"] == crs).to_numpy()
            sx, sy = to_wgs84(y[rows], x[rows], str(crs))
            again = grids.locate(sx, sy)
            ok = np.flatnonzero(rows)[again >= 0]
            found[ok] = again[again >= 0]
            lon[ok], lat[ok] = sx[again >= 0], sy[again >= 0]
            cases.loc[cases.index[ok], "attributes"] = pd.Series(
                [{"repaired": "swapped_coordinates"}] * len(ok), index=cases.index[ok], dtype=object)
    outside = usable & (found < 0)
    reason[outside] = "coordinates fall outside every grid of the city"
    reason[~has_xy] = "no coordinates"
    codes = grids.codes_for(found)
    located = found >= 0
    cases["lon"] = np.where(located, lon, np.nan)
    cases["lat"] = np.where(located, lat, np.nan)
    for column in codes.columns:
        if column == "city_code":
            continue
        cases[column] = pd.array(codes[column].to_numpy(), dtype="string")
    cases["geocode_method"] = np.where(located, GeocodeMethod.COORDINATES.value, GeocodeMethod.NONE.value)
    cases["geocode_precision"] = pd.array(np.where(located, AreaLevel.GRID.value, None), dtype="string")
    cases["unlocated_reason"] = pd.array(np.where(located, None, reason), dtype="string")
    return cases
