"""The real cities' files in ../shared/data/real (read there, never copied), as geo tests use
them: records with their points, and area frames the geocoder takes (city > finest level)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from core.settings import PROJECT_ROOT

REAL = PROJECT_ROOT.parent / "shared" / "data" / "real"


def real_file(relative: str) -> Path:
    """A real data file; a missing one fails the test loudly (never a skip)."""
    path = REAL / relative
    assert path.exists(), f"real data missing: {path} (see ../shared/data/real/README.md)"
    return path


def city_areas(relative: str, code: str, level: str = "grid") -> pd.DataFrame:
    """A boundary file's polygons at one level under a city outline dissolved from them."""
    shapes = gpd.read_file(real_file(relative)).to_crs(4326)
    geoms = shapes.geometry.to_numpy()
    city = pd.DataFrame({"code": [code], "parent_code": [None], "level": ["city"], "name": [code],
                         "geometry": [shapely.union_all(geoms)]})
    areas = pd.DataFrame({"code": [f"{code}-{i:02d}" for i in range(len(shapes))], "parent_code": code,
                          "level": level, "name": [f"{code} area {i}" for i in range(len(shapes))],
                          "geometry": geoms})
    return pd.concat([city, areas], ignore_index=True)


def points_of(relative: str) -> pd.DataFrame:
    """A real feed's rows with float lon / lat columns (NaN where it has none)."""
    frame = pd.read_csv(real_file(relative), low_memory=False)
    by_lower = {c.lower(): c for c in frame.columns}
    frame["lon"] = pd.to_numeric(frame[by_lower["longitude"]], errors="coerce")
    frame["lat"] = pd.to_numeric(frame[by_lower["latitude"]], errors="coerce")
    return frame
