"""Names of the coordinate systems sources declare (conversions live in geo.crs)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator
from pyproj import CRS as PyprojCRS
from pyproj.exceptions import CRSError


class CRS(StrEnum):
    WGS84 = "EPSG:4326"
    CGCS2000 = "EPSG:4490"
    GCJ02 = "GCJ-02"
    BD09 = "BD-09"


def parse_crs(name: str) -> str:
    """Normalise a CRS name as written in a source spec ('gcj02', 'bd-09', 'EPSG:4490', ...)."""
    key = name.strip().upper().replace("_", "-")
    aliases = {
        "WGS84": CRS.WGS84, "WGS-84": CRS.WGS84, "EPSG:4326": CRS.WGS84, "4326": CRS.WGS84,
        "GCJ02": CRS.GCJ02, "GCJ-02": CRS.GCJ02,
        "BD09": CRS.BD09, "BD-09": CRS.BD09, "BD09LL": CRS.BD09,
        "CGCS2000": CRS.CGCS2000, "EPSG:4490": CRS.CGCS2000, "4490": CRS.CGCS2000,
    }
    if key in aliases:
        return str(aliases[key])
    if key.startswith("EPSG:"):
        try:
            PyprojCRS.from_user_input(key)
        except CRSError as exc:
            raise ValueError(f"unknown coordinate system {name!r}: {exc}") from exc
        return key
    raise ValueError(f"unknown coordinate system {name!r}: use WGS84, CGCS2000, GCJ-02, BD-09 or EPSG:<code>")


# A CRS name as a setting, a profile or a spec takes it: normalised on validation.
CrsName = Annotated[str, AfterValidator(parse_crs)]
