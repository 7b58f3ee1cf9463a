"""Finding out which coordinate system a feed really uses, from where its points fall.

An agency that declares GCJ-02 but sends BD-09 (or WGS84) puts every point a few hundred
metres off: still inside the city, usually in a neighbouring grid, so nothing fails loudly.
Two kinds of evidence expose it. Records whose address is a standard address: their points,
read in the right system, sit on the gazetteer's point for that address (metres apart at
most); read in a wrong one, hundreds of metres away. Records that also carry a grid code:
in the right system the point falls in that grid. The candidate that fits best is compared
with the declared one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.crs import CRS, parse_crs
from geo.crs import to_wgs84
from geo.gazetteer import MatchHow
from geo.geocoder import Geocoder
from geo.grid_raster import METRES_PER_DEGREE_LAT

CANDIDATES = (str(CRS.WGS84), str(CRS.GCJ02), str(CRS.BD09))
# CGCS2000 and WGS84 differ by centimetres: for this purpose they are one system.
_SAME_AS_WGS84 = {str(CRS.CGCS2000)}
MIN_EVIDENCE = 20  # records with a matched address or a grid code needed for a verdict
CLEAR_FACTOR = 5.0  # the declared system must be this much worse than the best to be called wrong
# A source's points as received (store.geocoding.read_source_points), what detect_crs judges.
SOURCE_POINT_COLUMNS = ("src_x", "src_y", "src_crs", "address", "source_grid_code")


@dataclass
class CandidateFit:
    crs: str
    median_metres: float | None  # to the gazetteer point of the record's address
    grid_code_agreement: float | None  # share of points inside the grid the record names
    in_city: float  # share of points inside some grid


@dataclass
class CrsVerdict:
    """Which system the sample fits, and whether the declared one is wrong."""

    declared: str
    best: str | None
    wrong: bool
    records: int
    evidence: int
    fits: list[CandidateFit] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.best is None:
            return (f"not enough evidence ({self.evidence} records with a standard address or a"
                    f" grid code) to check the declared {self.declared}")
        if self.wrong:
            return f"declared {self.declared}, but the points fit {self.best}: fix the source spec's crs"
        return f"declared {self.declared} fits the points"


def detect_crs(cases: pd.DataFrame, geocoder: Geocoder, sample: int = 2000, seed: int = 0) -> CrsVerdict:
    """Compare the declared CRS of cases (src_x, src_y, src_crs, address, source_grid_code)."""
    has_xy = cases["src_x"].notna() & cases["src_y"].notna() & (cases["src_x"] != 0)
    rows = cases[has_xy]
    if len(rows) > sample:
        rows = rows.sample(sample, random_state=seed)
    declared = _family(parse_crs(str(rows["src_crs"].dropna().mode().iloc[0]))) if len(rows) else "unknown"
    context = geocoder.current
    target_lon, target_lat = _address_points(rows, context)
    given = rows["source_grid_code"].astype("string").str.strip().to_numpy(dtype=object, na_value=None) \
        if "source_grid_code" in rows else np.full(len(rows), None, dtype=object)
    evidence = int((np.isfinite(target_lon) | pd.notna(given)).sum())
    fits = []
    x = rows["src_x"].to_numpy(dtype="float64")
    y = rows["src_y"].to_numpy(dtype="float64")
    for crs in CANDIDATES + ((declared,) if declared not in CANDIDATES and declared != "unknown" else ()):
        lon, lat = to_wgs84(x, y, crs)
        found = context.grids.locate(lon, lat)
        matched = np.isfinite(target_lon)
        metres = _metres(lon[matched], lat[matched], target_lon[matched], target_lat[matched])
        named = pd.notna(given)
        codes = np.where(found >= 0, context.grids.codes[np.maximum(found, 0)], None)
        fits.append(CandidateFit(
            crs=crs,
            median_metres=float(np.median(metres)) if len(metres) else None,
            grid_code_agreement=float((codes[named] == given[named]).mean()) if named.any() else None,
            in_city=float((found >= 0).mean()) if len(found) else 0.0,
        ))
    best = _best(fits) if evidence >= MIN_EVIDENCE else None
    wrong = best is not None and best.crs != declared and _clearly_better(best, _fit(fits, declared))
    return CrsVerdict(declared=declared, best=best.crs if best else None, wrong=wrong,
                      records=len(rows), evidence=evidence, fits=fits)


def _family(crs: str) -> str:
    return str(CRS.WGS84) if crs in _SAME_AS_WGS84 else crs


def _address_points(rows: pd.DataFrame, context) -> tuple[np.ndarray, np.ndarray]:
    """The gazetteer point of each record's address, where it matches exactly one address."""
    lon, lat = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    if "address" not in rows or len(context.addresses) == 0:
        return lon, lat
    gazetteer = context.gazetteer
    for i, text in enumerate(rows["address"].to_numpy(dtype=object)):
        if not isinstance(text, str) or not text.strip():
            continue
        match = gazetteer.match(text)
        if match.how == MatchHow.EXACT and len(match.rows) == 1:
            lon[i], lat[i] = gazetteer.lon[match.rows[0]], gazetteer.lat[match.rows[0]]
    return lon, lat


def _metres(lon, lat, lon2, lat2) -> np.ndarray:
    kx = METRES_PER_DEGREE_LAT * np.cos(np.radians(lat2))
    return np.hypot((lon - lon2) * kx, (lat - lat2) * METRES_PER_DEGREE_LAT)


def _best(fits: list[CandidateFit]) -> CandidateFit:
    """Closest to the addresses when they were matched, else best grid-code agreement."""
    with_addresses = [f for f in fits if f.median_metres is not None]
    if with_addresses:
        return min(with_addresses, key=lambda f: f.median_metres)
    with_codes = [f for f in fits if f.grid_code_agreement is not None]
    return max(with_codes, key=lambda f: f.grid_code_agreement)


def _fit(fits: list[CandidateFit], crs: str) -> CandidateFit | None:
    return next((f for f in fits if f.crs == crs), None)


def _clearly_better(best: CandidateFit, declared: CandidateFit | None) -> bool:
    if declared is None:
        return True
    if best.median_metres is not None and declared.median_metres is not None:
        return declared.median_metres > CLEAR_FACTOR * max(best.median_metres, 1.0)
    return (best.grid_code_agreement or 0) > (declared.grid_code_agreement or 0) + 0.2
