"""The frame the linker reads: one row per record, its key and the evidence it can offer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import GridHubError
from linking.categories import family_codes, stable_codes

# Column -> dtype. record_id is the case's id (the smallest id of a group names the group);
# area is the code the records are blocked on; person_key is already keyed-hashed.
LINK_COLUMNS: dict[str, str] = {
    "record_id": "int64",
    "source": "string",
    "reported_at": "datetime64[us, UTC]",
    "occurred_at": "datetime64[us, UTC]",
    "category": "string",
    "lon": "float64",
    "lat": "float64",
    "area": "string",
    "person_key": "string",
    "amount": "float64",
    "address": "string",
    "text": "string",
}


class LinkInputError(GridHubError):
    """A frame handed to the linker lacks what linking needs."""


def link_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast to LINK_COLUMNS (missing optional columns become nulls); reject bad keys and times."""
    if "record_id" not in frame or "reported_at" not in frame:
        raise LinkInputError("records to link need record_id and reported_at")
    out = {}
    for name, dtype in LINK_COLUMNS.items():
        column = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)
        if dtype.startswith("datetime"):
            column = pd.to_datetime(column, utc=True)
        out[name] = column.astype(dtype)
    result = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    if result["record_id"].duplicated().any():
        raise LinkInputError("record_id must be unique among the records to link")
    if result["reported_at"].isna().any():
        raise LinkInputError("every record to link needs reported_at")
    return result


@dataclass
class Prepared:
    """Arrays the blocking and scoring work on, aligned with a link frame's rows."""

    ids: np.ndarray  # int64
    source: np.ndarray  # int64 stable code of the source
    seconds: np.ndarray  # int64, reported_at
    occurred: np.ndarray  # int64 seconds, or the minimum int64 when missing
    x: np.ndarray  # metres east (equirectangular about the frame's mean latitude), NaN if none
    y: np.ndarray
    category: np.ndarray  # int64 stable code, -1 missing (linking.categories)
    family: np.ndarray  # int64 family number (linking.categories)
    area: np.ndarray  # int64 stable code, -1 missing
    person: np.ndarray  # int64 stable code of the hashed key, -1 missing
    amount: np.ndarray  # float64, NaN when none
    address: np.ndarray  # object
    text: np.ndarray  # object


MISSING_TIME = np.iinfo(np.int64).min
EARTH_M_PER_DEG = 111_320.0


def prepare(frame: pd.DataFrame, reference_lat: float) -> Prepared:
    """Arrays of a link frame, coordinates projected about reference_lat."""
    lon = frame["lon"].to_numpy(dtype=float, na_value=np.nan)
    lat = frame["lat"].to_numpy(dtype=float, na_value=np.nan)
    occurred = frame["occurred_at"]
    return Prepared(
        ids=frame["record_id"].to_numpy(dtype=np.int64),
        source=stable_codes(frame["source"]),
        seconds=_seconds(frame["reported_at"]),
        occurred=np.where(occurred.isna(), MISSING_TIME, _seconds(occurred.fillna(pd.Timestamp(0, tz="UTC")))),
        x=lon * EARTH_M_PER_DEG * np.cos(np.radians(reference_lat)),
        y=lat * EARTH_M_PER_DEG,
        category=stable_codes(frame["category"]),
        family=family_codes(frame["category"]),
        area=stable_codes(frame["area"]),
        person=stable_codes(frame["person_key"]),
        amount=frame["amount"].to_numpy(dtype=float, na_value=np.nan),
        address=_objects(frame["address"]),
        text=_objects(frame["text"]),
    )


def reference_latitude(frame: pd.DataFrame) -> float:
    """A latitude to project about: the median of the located records (0 when none)."""
    lat = frame["lat"].dropna()
    return float(lat.median()) if len(lat) else 0.0


def _seconds(times: pd.Series) -> np.ndarray:
    return (times.astype("datetime64[us, UTC]").astype("int64").to_numpy() // 1_000_000).astype(np.int64)


def _objects(column: pd.Series) -> np.ndarray:
    return column.astype(object).where(column.notna(), None).to_numpy(dtype=object)
