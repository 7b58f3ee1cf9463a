"""The canonical case: the contract every source spec maps its fields to (README.md, "Adding an
agency feed").

Steps hand each other pandas DataFrames whose columns are CASE_COLUMNS (with the dtypes
given there); `empty_cases()` makes one and `conform()` checks and orders one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported where frames are made: the enums and column list load at once (the CLI).


class CaseKind(StrEnum):
    DISPUTE = "dispute"
    INCIDENT = "incident"
    COMPLAINT = "complaint"
    PETITION = "petition"


class Category(StrEnum):
    """One canonical taxonomy for every agency's own category codes."""

    LABOUR = "labour"  # labour disputes, wage arrears
    NEIGHBOURHOOD = "neighbourhood"
    FAMILY = "family"  # family and marriage
    PROPERTY_MANAGEMENT = "property_management"
    REAL_ESTATE = "real_estate"
    LAND_CONSTRUCTION = "land_construction"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    CONSUMER = "consumer"
    PUBLIC_SECURITY = "public_security"
    ENVIRONMENT = "environment"
    OTHER = "other"


class Status(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    IN_MEDIATION = "in_mediation"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    REFERRED = "referred"
    CLOSED = "closed"


CLOSED_STATUSES = frozenset({Status.RESOLVED, Status.UNRESOLVED, Status.CLOSED})


class Outcome(StrEnum):
    SETTLED = "settled"
    NOT_SETTLED = "not_settled"


class AreaLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"

    @property
    def depth(self) -> int:
        return list(AreaLevel).index(self)

    @property
    def code_column(self) -> str:
        """The column of `cases` that holds the code of the enclosing area at this level."""
        return f"{self.value}_code"


class GeocodeMethod(StrEnum):
    COORDINATES = "coordinates"
    GRID_CODE = "grid_code"
    ADDRESS = "address"
    AREA_NAME = "area_name"
    NONE = "none"
    PLACEHOLDER = "placeholder"  # unlocated: its only point stands for "unknown" (geo.placeholders)


# Column -> pandas dtype of the canonical case as steps pass it on. Times are UTC-aware.
CASE_COLUMNS: dict[str, str] = {
    "source": "string",
    "source_record_id": "string",
    "record_hash": "string",
    "raw_id": "Int64",
    "kind": "string",
    "category": "string",
    "raw_category": "string",
    "status": "string",
    "outcome": "string",
    "reported_at": "datetime64[us, UTC]",
    "occurred_at": "datetime64[us, UTC]",
    "closed_at": "datetime64[us, UTC]",
    "report_day": "datetime64[s]",  # local calendar day of reported_at in the city's zone
    "lon": "float64",  # WGS84, once geo has converted the source coordinates
    "lat": "float64",
    "src_x": "float64",  # the source's own coordinates, in src_crs
    "src_y": "float64",
    "src_crs": "string",
    "address": "string",
    "area_name": "string",
    "source_grid_code": "string",
    "grid_code": "string",
    "community_code": "string",
    "street_code": "string",
    "district_code": "string",
    "city_code": "string",
    "geocode_method": "string",
    "geocode_precision": "string",  # an AreaLevel, or null when unlocated
    "unlocated_reason": "string",
    "severity": "Int16",
    "parties": "Int16",
    "amount": "float64",
    "person_key": "string",
    "attributes": "object",  # dict or None, stored as JSONB
}

AREA_CODE_COLUMNS = tuple(level.code_column for level in AreaLevel)


def empty_cases(n: int = 0) -> pd.DataFrame:
    """A canonical-case frame of n rows, every column null."""
    import pandas as pd

    index = pd.RangeIndex(n)
    return pd.DataFrame({name: nulls(dtype, index) for name, dtype in CASE_COLUMNS.items()})


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Add missing canonical columns as nulls, cast to the canonical dtypes, drop extras."""
    import pandas as pd

    out = {}
    for name, dtype in CASE_COLUMNS.items():
        if name in frame:
            out[name] = frame[name].astype(dtype) if dtype != "object" else frame[name]
        else:
            out[name] = nulls(dtype, frame.index)
    return pd.DataFrame(out, index=frame.index)


def nulls(dtype: str, index: pd.Index) -> pd.Series:
    """A column of missing values of dtype (None in an object column)."""
    import numpy as np
    import pandas as pd

    if dtype == "object":
        return pd.Series([None] * len(index), dtype=object, index=index)
    # An empty array taken at -1 fills with the dtype's own missing value without a Python
    # object per row (a fifth of mapping a hotline chunk went into building null columns).
    empty = pd.array([], dtype=dtype)
    return pd.Series(empty.take(np.full(len(index), -1), allow_fill=True), index=index)
